"""Mechanics of the grokking experiment with the quick configuration (not the science)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from lidscope.experiments.grokking.analysis import lead_time, running_median3
from lidscope.experiments.grokking.data import (
    OPERATIONS,
    all_equations,
    distinct_prefixes,
    is_prime,
    make_data,
    vocab_size,
)
from lidscope.experiments.grokking.model import GrokTransformer, ModelConfig
from lidscope.experiments.grokking.sweep import SWEEP_FIGURE, extend_runs, run_dir, run_sweep, sweep_configs
from lidscope.experiments.grokking.train import (
    CHECKPOINT_DIR,
    GrokConfig,
    quick_config,
    read_metrics,
    run,
    select_lid_points,
)

TIMING_KEYS = {f"{k}_{c}" for k in ("eval", "lid", "train") for c in ("seconds", "cpu_seconds")}


def _science(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in rows]


# ---------------------------------------------------------------- data


@pytest.mark.parametrize("op", OPERATIONS)
def test_equations_are_correct(op: str) -> None:
    p = 7
    tokens, labels = all_equations(p, op)
    assert tokens.shape[1] == 4
    assert len(tokens) == (p * (p - 1) if op == "/" else p * p)
    assert set(tokens[:, 1]) == {p + OPERATIONS.index(op)}
    assert set(tokens[:, 3]) == {p + 4}
    assert tokens.max() < vocab_size(p)
    for (a, _, b, _), c in zip(tokens, labels):
        if op == "+":
            assert c == (a + b) % p
        elif op == "-":
            assert c == (a - b) % p
        elif op == "*":
            assert c == (a * b) % p
        else:
            assert b != 0 and (c * b) % p == a


def test_split_is_a_seeded_partition() -> None:
    d = make_data(11, "+", 0.3, seed=5)
    assert d.n_train == round(0.3 * 121) and d.n_train + d.n_val == 121
    rows = {tuple(r) for r in d.train_tokens.tolist()} | {tuple(r) for r in d.val_tokens.tolist()}
    assert len(rows) == 121
    again = make_data(11, "+", 0.3, seed=5)
    assert torch.equal(d.train_tokens, again.train_tokens)
    other = make_data(11, "+", 0.3, seed=6)
    assert not torch.equal(d.train_tokens, other.train_tokens)


def test_is_prime() -> None:
    assert [n for n in range(30) if is_prime(n)] == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]


# ---------------------------------------------------------------- bad input


def test_division_needs_a_prime() -> None:
    with pytest.raises(ValueError, match="prime"):
        make_data(21, "/", 0.5)
    make_data(21, "+", 0.5)  # other operations accept any modulus


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.2, 1.5])
def test_train_fraction_outside_open_interval(fraction: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        make_data(23, "+", fraction)
    with pytest.raises(ValueError, match="between 0 and 1"):
        quick_config(train_fraction=fraction).validate()


def test_unknown_operation() -> None:
    with pytest.raises(ValueError, match="unknown operation"):
        make_data(23, "%", 0.5)


def test_too_few_validation_points(tmp_path: Path) -> None:
    # p=23, fraction 0.9: the validation split has 53 equations, at most 152 distinct prefixes
    cfg = quick_config(train_fraction=0.9, lid_points=200)
    with pytest.raises(ValueError, match="val split has only .* lid_points N=200"):
        run(cfg, tmp_path / "run", figure=False)


def test_lid_points_must_exceed_neighbors() -> None:
    with pytest.raises(ValueError, match="must exceed lid_neighbors"):
        quick_config(lid_points=16, lid_neighbors=16).validate()


# ---------------------------------------------------------------- model and LID sample


def test_last_only_forward_matches_full_forward() -> None:
    torch.manual_seed(0)
    model = GrokTransformer(ModelConfig(vocab_size=28, n_classes=23, d_model=32, n_heads=2, d_ff=64)).eval()
    tokens = make_data(23, "+", 0.5).train_tokens[:50]
    with torch.no_grad():
        full_logits, hidden = model(tokens)
        last_logits, last_hidden = model(tokens, last_only=True)
    assert hidden.shape == (50, 4, 32) and last_hidden.shape == (50, 1, 32)
    torch.testing.assert_close(full_logits, last_logits, atol=1e-5, rtol=1e-5)


def test_lid_sample_has_distinct_prefixes_and_is_seeded() -> None:
    tokens = make_data(23, "+", 0.5).train_tokens
    s = select_lid_points(tokens, (0, 1, 2, 3), 300, seed=0, split="train")
    assert len(s.examples) == 300
    prefixes = {tuple(tokens[e, : p + 1].tolist()) for e, p in zip(s.examples.tolist(), s.positions.tolist())}
    assert len(prefixes) == 300
    again = select_lid_points(tokens, (0, 1, 2, 3), 300, seed=0, split="train")
    assert torch.equal(s.examples, again.examples) and torch.equal(s.positions, again.positions)
    assert distinct_prefixes(tokens, (0, 2)) == 23 + len(tokens)


# ---------------------------------------------------------------- runs


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    out = tmp_path_factory.mktemp("quick")
    return out, run(quick_config(), out)


def test_quick_run_writes_results(quick_run: tuple[Path, list[dict]], saved_figures, tmp_path) -> None:
    out, rows = quick_run
    assert [r["step"] for r in rows] == [0, 10, 20, 30]
    assert _science(read_metrics(out)) == _science(rows)
    for r in rows:
        assert 0 <= r["val_acc"] <= 1 and math.isfinite(r["train_loss"])
        for split in ("train", "val"):
            assert r[f"lid_{split}_n"] == 120 and r[f"lid_{split}_mean"] > 0
    assert (out / "grokking.png").is_file()
    # the figure shows the run's accuracy and mean LID per evaluation (step 0 is off the log axis)
    from lidscope.experiments.grokking.plots import plot_run

    plot_run(rows, tmp_path / "again.png")
    ax_acc, ax_lid = saved_figures[0].axes
    shown = {ln.get_label(): (list(ln.get_xdata()), list(ln.get_ydata())) for ln in ax_acc.lines + ax_lid.lines}
    later = [r for r in rows if r["step"] > 0]
    assert shown["val accuracy"] == ([r["step"] for r in later], [r["val_acc"] for r in later])
    assert shown["train mean LID"] == ([r["step"] for r in later], [r["lid_train_mean"] for r in later])
    assert json.loads((out / "config.json").read_text())["prime"] == 23
    # checkpoints are safetensors + JSON only: no pickle anywhere
    assert sorted(p.name for p in (out / CHECKPOINT_DIR).iterdir()) == ["state.json", "state.safetensors"]


def test_deterministic(quick_run: tuple[Path, list[dict]], tmp_path: Path) -> None:
    _, rows = quick_run
    assert _science(run(quick_config(), tmp_path / "again", figure=False)) == _science(rows)


def test_different_seed_differs(quick_run: tuple[Path, list[dict]], tmp_path: Path) -> None:
    _, rows = quick_run
    assert _science(run(quick_config(seed=1, steps=10), tmp_path / "seed1", figure=False)) != _science(rows[:2])


class _Interrupt(Exception):
    pass


def test_resume_after_interruption_equals_uninterrupted(quick_run: tuple[Path, list[dict]], tmp_path: Path) -> None:
    _, rows = quick_run
    out = tmp_path / "interrupted"

    def stop(step: int, loss: float) -> None:
        if step == 25:  # after the checkpoint at step 20: steps 21-25 are lost and redone
            raise _Interrupt

    with pytest.raises(_Interrupt):
        run(quick_config(), out, on_step=stop, figure=False)
    assert [r["step"] for r in read_metrics(out)] == [0, 10, 20]
    seen: list[int] = []
    resumed = run(quick_config(), out, on_eval=lambda r: seen.append(r["step"]), figure=False)
    assert seen == [30]  # only the missing evaluation was computed
    assert _science(resumed) == _science(rows)


def test_extending_steps_resumes(quick_run: tuple[Path, list[dict]], tmp_path: Path) -> None:
    _, rows = quick_run
    out = tmp_path / "short"
    run(quick_config(steps=20), out, figure=False)
    assert _science(run(quick_config(steps=30), out, figure=False)) == _science(rows)


def test_fewer_steps_than_the_checkpoint_gives_the_prefix(quick_run: tuple[Path, list[dict]], tmp_path: Path) -> None:
    import shutil

    src, rows = quick_run
    out = tmp_path / "copy"
    shutil.copytree(src, out)
    assert _science(run(quick_config(steps=20), out, figure=False)) == _science(rows[:3])


def test_resume_refuses_a_different_run(tmp_path: Path) -> None:
    out = tmp_path / "a"
    run(quick_config(steps=10, lid=False), out, figure=False)
    with pytest.raises(ValueError, match="weight_decay"):
        run(quick_config(steps=10, lid=False, weight_decay=0.5), out, figure=False)
    rows = run(quick_config(steps=10, lid=False, weight_decay=0.5), out, fresh=True, figure=False)
    assert "lid_val_mean" not in rows[-1]


def test_operand_positions(tmp_path: Path) -> None:
    rows = run(quick_config(steps=10, lid_positions="operands", prime=29, train_fraction=0.4), tmp_path / "ops",
               figure=False)
    assert rows[-1]["lid_val_n"] == 120


def test_sweep(tmp_path: Path) -> None:
    base = quick_config(steps=10, eval_every=5)
    configs = sweep_configs(base, [0.4, 0.6], ops=["+", "/"], weight_decays=[1.0, 0.0])
    assert len(configs) == 8 and {(c.op, c.weight_decay) for c in configs} == {
        ("+", 1.0), ("+", 0.0), ("/", 1.0), ("/", 0.0)}
    results = run_sweep(configs[:2], tmp_path)
    assert list(results) == ["add-p23-f0.4-wd1-s0", "add-p23-f0.4-wd0-s0"]
    assert (tmp_path / SWEEP_FIGURE).exists() and run_dir(tmp_path, configs[0]).joinpath("metrics.parquet").exists()
    summary = json.loads((tmp_path / "sweep.json").read_text())
    runs = summary["runs"]
    assert summary["cpu_seconds_total"] == pytest.approx(sum(r["cpu_seconds"] for r in runs.values()))
    assert all(r["cpu_seconds"] > 0 and r["steps_done"] == 10 for r in runs.values())
    with pytest.raises(ValueError, match="between 0 and 1"):
        sweep_configs(base, [0.4, 1.2])
    with pytest.raises(ValueError, match="repeat"):
        sweep_configs(base, [0.4], ops=["+", "+"])
    with pytest.raises(ValueError, match="distinct"):  # the data-dependent check, before anything runs
        run_sweep([dataclasses.replace(base, train_fraction=0.9, lid_points=200)], tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_extend_runs_continues_a_copy(quick_run: tuple[Path, list[dict]], tmp_path: Path) -> None:
    _, rows = quick_run
    short = quick_config(steps=20)
    src, dst = tmp_path / "study", tmp_path / "extended"
    run(short, run_dir(src, short), figure=False)
    before = (run_dir(src, short) / CHECKPOINT_DIR / "state.safetensors").read_bytes()
    extended = extend_runs([short], src, dst, 30)
    # the copy continued to 30 steps is the uninterrupted 30-step run; the study's folder is untouched
    assert _science(extended["add-p23-f0.5-wd1-s0"]) == _science(rows)
    assert [r["step"] for r in read_metrics(run_dir(src, short))] == [0, 10, 20]
    assert (run_dir(src, short) / CHECKPOINT_DIR / "state.safetensors").read_bytes() == before
    seen: list[int] = []  # a finished extension is only re-read
    again = extend_runs([short], src, dst, 30, on_eval=lambda r: seen.append(r["step"]))
    assert seen == [] and _science(again["add-p23-f0.5-wd1-s0"]) == _science(rows)


def test_small_multiples_draw_every_mark(saved_figures, tmp_path: Path) -> None:
    from lidscope.experiments.grokking.plots import plot_small_multiples

    rows = [{"step": s, "val_acc": s / 40, "lid_val_mean": 10 - s / 10} for s in range(0, 50, 10)]
    plot_small_multiples({"a": rows, "b": rows}, tmp_path / "m.png", marks={"a": (10, 20, None, 40)},
                         mark_labels=("alarm", "acc 0.5", "acc 0.9", "budget"))
    fig = saved_figures[0]
    panel_a, panel_b = [ax for ax in fig.axes if ax.get_title() in ("a", "b")]
    vertical = [(ln.get_xdata()[0], ln.get_linestyle()) for ln in panel_a.lines[1:]]
    assert vertical == [(10, "--"), (20, ":"), (40, "-.")] and len(panel_b.lines) == 1
    assert "dash-dot grey: budget" in fig._suptitle.get_text()


def test_extend_runs_refuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lidscope.experiments.grokking import train

    short = quick_config(steps=10, lid=False)
    src = tmp_path / "study"
    with pytest.raises(ValueError, match="finish the study's runs first"):
        extend_runs([short], src, tmp_path / "ext", 20)
    run(dataclasses.replace(short, steps=5), run_dir(src, short), figure=False)  # stopped before its budget
    with pytest.raises(ValueError, match="checkpoint at step 5"):
        extend_runs([short], src, tmp_path / "ext", 20)
    with pytest.raises(ValueError, match="does not extend"):
        extend_runs([short], src, tmp_path / "ext", 10)
    # a schedule that depends on the total budget (cosine decay) makes a resumed run a different run
    monkeypatch.setattr(train, "lr_at", lambda c, s: c.lr * (1 + math.cos(math.pi * s / c.steps)) / 2)
    with pytest.raises(ValueError, match="run it fresh"):
        extend_runs([short], src, tmp_path / "ext", 20)
    assert not (tmp_path / "ext").exists()


# ---------------------------------------------------------------- analysis


def _rows(lid: list[float], acc: list[float], every: int = 100) -> list[dict]:
    return [{"step": i * every, "lid_val_mean": v, "val_acc": a} for i, (v, a) in enumerate(zip(lid, acc))]


def test_lead_time_rise_then_fall() -> None:
    lid = [20, 9, 11, 14, 16, 17, 17.5, 15, 10, 7, 6, 6, 6]
    acc = [0, 0, 0, 0, 0, 0, 0, 0, 0.2, 0.6, 0.95, 1, 1]
    lt = lead_time(_rows(lid, acc))
    assert lt.fall_onset == 600  # the peak of the smoothed series before the steepest fall
    assert lt.val_acc_050 == 900 and lt.val_acc_090 == 1000
    assert lt.lead_050 == 300 and lt.lead_090 == 400
    assert lt.lid_peak == 17.0 and lt.lid_final == 6  # smoothed: median(17, 17.5, 15)
    assert "lead +300" in lt.describe()
    # online signal (FALL_RULE: 3 values in a row below the recent high by 5 % and by 3 sqrt(2) x the
    # series' noise, 4 measurements skipped): this fall is so steep that it inflates the online noise
    # estimate, so the alarm comes at step 1200, after the accuracy jump (as on real runs, docs/signals.md)
    assert lt.first_alarm == 1200 and lt.alarm_lead_050 == -300 and lt.alarm_lead_090 == -200


def test_lead_time_without_a_fall() -> None:
    lid = [20, 9, 11, 14, 16, 17, 17.5, 17.2, 17.4, 17.3, 17.1]
    lt = lead_time(_rows(lid, [0.0] * len(lid)))
    assert lt.fall_onset is None and lt.lead_050 is None and lt.val_acc_050 is None
    assert lt.relative_drop < 0.2 and lt.first_alarm is None


def test_running_median_removes_single_spikes() -> None:
    np.testing.assert_array_equal(running_median3([1, 1, 9, 1, 1]), [1, 1, 1, 1, 1])


def test_lead_time_needs_evaluations() -> None:
    with pytest.raises(ValueError, match="at least 3 evaluations"):
        lead_time(_rows([10, 11, 12], [0, 0, 0]))


# ---------------------------------------------------------------- CLI


@pytest.fixture()
def cli():  # type: ignore[no-untyped-def]
    import typer
    from typer.testing import CliRunner

    from lidscope.cli.grokking import register

    app = typer.Typer()
    register(app)
    return app, CliRunner()


def test_cli_grokking_quick(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, runner = cli
    out = tmp_path / "cli"
    result = runner.invoke(app, ["grokking", "--quick", "--steps", "20", "--out", str(out), "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "% of training time" in result.output
    assert [r["step"] for r in read_metrics(out)] == [0, 10, 20]
    assert json.loads((out / "config.json").read_text())["steps"] == 20


def test_cli_grokking_bad_input(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, runner = cli
    for args, message in (
        (["--op", "/", "--prime", "21"], "prime"),
        (["--op", "%"], "unknown operation"),
        (["--train-fraction", "1.5"], "between 0 and 1"),
        (["--train-fraction", "0.9", "--lid-points", "200"], "val split has only"),
    ):
        result = runner.invoke(app, ["grokking", "--quick", "--out", str(tmp_path / "bad"), *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)


def test_cli_sweep_quick(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, runner = cli
    result = runner.invoke(
        app, ["grokking-sweep", "--quick", "--steps", "10", "--train-fractions", "0.4,0.6", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / SWEEP_FIGURE).exists()
    bad = runner.invoke(app, ["grokking-sweep", "--quick", "--train-fractions", "0.4,x", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "comma-separated" in bad.output
    bad = runner.invoke(app, ["grokking-sweep", "--plan", "nope", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "quick-study" in bad.output


def test_cli_sweep_product_and_plan(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, runner = cli
    result = runner.invoke(app, ["grokking-sweep", "--quick", "--steps", "6", "--train-fractions", "0.5",
                                 "--ops", "+,-", "--weight-decays", "0", "--out", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "p").iterdir() if p.is_dir()) == [
        "add-p23-f0.5-wd0-s0", "sub-p23-f0.5-wd0-s0"]
    result = runner.invoke(app, ["grokking-sweep", "--plan", "quick-study", "--steps", "4", "--eval-every", "2",
                                 "--out", str(tmp_path / "q")])
    assert result.exit_code == 0, result.output
    assert len(json.loads((tmp_path / "q" / "sweep.json").read_text())["runs"]) == 4


def test_config_json_roundtrip() -> None:
    cfg = dataclasses.replace(GrokConfig(), betas=(0.8, 0.9))
    assert GrokConfig.from_json(json.loads(json.dumps(cfg.to_json()))) == cfg


def test_chunked_evaluation_matches(quick_run: tuple[Path, list[dict]], tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from lidscope.experiments.grokking import train

    _, rows = quick_run
    monkeypatch.setattr(train, "EVAL_CHUNK", 50)
    chunked = run(quick_config(steps=10), tmp_path / "chunked", figure=False)
    for a, b in zip(_science(chunked), _science(rows[:2])):
        assert a.keys() == b.keys()
        for k in a:
            assert a[k] == pytest.approx(b[k], rel=1e-5, abs=1e-6), k
