"""The reproductions' --quick paths run end to end on tiny models (mechanics only, not the findings)."""

from __future__ import annotations

import json

import pytest
from fakeruns import write_texts
from tinymodels import save_tiny


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return {"llama": save_tiny("llama", root / "llama"), "bert": save_tiny("bert", root / "bert"),
            "texts": write_texts(root / "texts.txt", n=160)}


def test_finetune_quick_lora_sweeps_checkpoints_and_draws(tiny, tmp_path, saved_figures):
    import importlib.util
    from pathlib import Path

    pytest.importorskip("peft")
    spec = importlib.util.spec_from_file_location("ex", Path(__file__).parents[2] / "examples" / "finetune_shift.py")
    ex = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ex)
    s = ex.main(["--quick", "--lora", "--model", str(tiny["llama"]), "--train-data", str(tiny["texts"]),
                 "--eval-data", str(tiny["texts"]), "--out", str(tmp_path / "ft"), "--threads", "1"])
    assert s["objective"] == "causal" and not s["failed"]
    assert [r["step_last"] for r in s["table"]] == [4] and s["table"][0]["step_first"] == 0
    # the violins show, per dataset, the base (step 0) and fine-tuned points at their measured means
    violins = saved_figures[-1]
    assert [Path(f).name for f in s["figures"]] == ["training.png", "training.svg", "violins.png"]
    for ax, row in zip(violins.axes, s["table"]):
        assert [t.get_text() for t in ax.get_xticklabels()] == ["step 0", "step 4"]
        means = [c.get_offsets()[0][1] for c in ax.collections if type(c).__name__ == "PathCollection"]
        assert means == pytest.approx([row["mean_first"], row["mean_last"]])
    assert json.loads((tmp_path / "ft" / "summary.json").read_text())["table"]
    # resuming reuses every measurement
    again = ex.main(["--quick", "--lora", "--skip-training", "--model", str(tiny["llama"]), "--train-data",
                     str(tiny["texts"]), "--eval-data", str(tiny["texts"]), "--out", str(tmp_path / "ft")])
    assert again["table"] == s["table"]


def test_finetune_train_only_saves_checkpoints_and_measures_nothing(tiny, tmp_path):
    from lidscope.experiments.finetune import quick_config, run

    s = run(quick_config(model=str(tiny["llama"]), train_data=str(tiny["texts"]), eval_data=(str(tiny["texts"]),),
                         save_every=4, out=str(tmp_path / "ft"), threads=1), train_only=True)
    train = tmp_path / "ft" / "train"
    assert sorted(p.name for p in train.glob("checkpoint-*")) == ["checkpoint-0", "checkpoint-4"]
    assert "table" not in s and not (tmp_path / "ft" / "lid").exists()
    assert json.loads((tmp_path / "ft" / "summary.json").read_text())["train_seconds"] == s["train_seconds"]


def test_classifier_quick_tracks_lid_and_f1(tiny, tmp_path):
    from lidscope.experiments.classify import labelled_items, macro_f1, quick_config, run

    import numpy as np

    assert macro_f1(np.array([0, 1, 1]), np.array([0, 1, 0]), 2) == pytest.approx(2 / 3)
    items = labelled_items("bbc", "validation")
    assert {lab for _, _, lab in items} == {"business", "entertainment", "politics", "sports", "tech"}
    s = run(quick_config(model=str(tiny["bert"]), data="bbc", out=str(tmp_path / "cls"), threads=1))
    assert s["lid_steps"][0] == 0 and len(s["lid_steps"]) == len(s["val_f1"]) + 1
    assert 0 <= s["best_f1"] <= 1 and s["lid_cost"]["rounds"] == len(s["lid_steps"])
    assert all((tmp_path / "cls" / f"training.{e}").is_file() for e in ("png", "svg"))


def test_finetune_sweep_groups_give_each_spec_its_own_m():
    from lidscope.experiments.finetune import FinetuneConfig, sweep_groups

    cfg = FinetuneConfig(eval_data=("chitchat:validation", "wikipedia:validation", "bbc:validation"),
                         n_sequences_by_data={"wikipedia:validation": 250, "bbc:validation": 250})
    groups = sweep_groups(cfg)
    assert [(s.n_sequences, specs) for s, specs in groups] == [
        (2_000, ["chitchat:validation"]), (250, ["wikipedia:validation", "bbc:validation"])]
    assert len({s.settings_id for s, _ in groups}) == 2
    assert [specs for _, specs in sweep_groups(FinetuneConfig())] == [list(FinetuneConfig().eval_data)]
    with pytest.raises(ValueError, match="not among the evaluation data"):
        sweep_groups(FinetuneConfig(n_sequences_by_data={"bbc:train": 10}))
