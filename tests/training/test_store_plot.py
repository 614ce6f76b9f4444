"""Results store and plot on synthetic rows (no models): seeds band, metric join, atomic rows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lidscope.training.plots import plot_training, run_group
from lidscope.training.store import ROW_SCHEMA, ResultsStore, StoreError, read_log_history


def _rows(run: str, seed: int, data: str, means: list[float]) -> list[dict]:
    return [{"job_id": f"{run}-{data}-{i}", "source": "sweep", "run": run, "seed": seed, "step": 10 * i,
             "data": data, "data_name": data, "layer": "-1", "mean": m, "median": m, "std": 1.0,
             "q25": m - 1, "q75": m + 1, "settings_id": "s"} for i, m in enumerate(means)]


def test_seed_runs_share_a_band_and_metrics_join(tmp_path, saved_figures):
    store = ResultsStore(tmp_path / "store")
    rng = np.random.default_rng(0)
    for seed in (0, 1, 2):
        for data in ("chitchat-validation", "wikipedia-validation"):
            for r in _rows(f"ft-seed{seed}", seed, data, list(10 - np.arange(5) * 0.5 + rng.normal(0, 0.1, 5))):
                store.add_rows(r["job_id"], [r])
        store.write_metrics(f"ft-seed{seed}", [(10 * i, "eval_f1", 0.5 + 0.1 * i) for i in range(5)])
    df = store.read()
    assert len(df) == 30 and list(df.columns) == list(ROW_SCHEMA)
    assert run_group("ft-seed2") == "ft" and run_group("plain") == "plain"
    j = store.joined(["eval_f1"])
    assert j.loc[j["step"] == 20, "eval_f1"].tolist() == pytest.approx([0.7] * 6)
    paths = plot_training(store, tmp_path / "fig.png")
    assert [p.suffix for p in paths] == [".png", ".svg"] and all(p.is_file() for p in paths)
    # what the figure shows: one panel per data spec; its line is the mean over the three seeds at
    # each step, and eval_f1 is on the second axis
    fig = saved_figures[0]
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["chitchat-validation", "wikipedia-validation"]
    for ax in panels:
        want = df[df["data_name"] == ax.get_title()].groupby("step")["mean"].mean()
        (line,) = [ln for ln in ax.get_lines() if "3 seeds" in str(ln.get_label())]
        np.testing.assert_allclose(line.get_xdata(), want.index)
        np.testing.assert_allclose(line.get_ydata(), want.to_numpy())
    f1 = [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_label() == "eval_f1"]
    np.testing.assert_allclose(f1[0].get_ydata(), [0.5, 0.6, 0.7, 0.8, 0.9])
    assert "3 seeds" in paths[1].read_text()  # legend of the seeds band
    with pytest.raises(StoreError, match="layer '-2'"):
        plot_training(store, tmp_path / "x", layer="-2")
    with pytest.raises(StoreError, match="no rows for data"):
        plot_training(store, tmp_path / "x", data=["bbc"])


def test_rows_are_validated_and_written_atomically(tmp_path):
    store = ResultsStore(tmp_path / "s")
    with pytest.raises(StoreError, match="unknown store columns"):
        store.add_rows("x", [{"mean": 1.0, "bogus": 2}])
    with pytest.raises(StoreError, match="no rows"):
        store.add_rows("x", [])
    store.add_rows("x", _rows("r", 0, "d", [5.0]))
    assert store.done_ids() == {"x"} and not list(store.rows_dir.glob(".*"))
    store.record_failure("y", {"error": "boom"})
    assert store.failures()[0]["error"] == "boom"
    store.add_rows("y", _rows("r", 0, "d", [6.0]))
    assert store.failures() == []  # a success clears the failure


def test_trainer_state_reader(tmp_path):
    p = tmp_path / "trainer_state.json"
    p.write_text(json.dumps({"log_history": [{"loss": 1.0, "step": 5, "epoch": 0.5, "flag": True},
                                             {"eval_f1": float("nan"), "step": 5}, {"note": "x"}]}))
    assert read_log_history(p) == [(5, "loss", 1.0), (5, "epoch", 0.5)]
    p.write_text("{not json")
    with pytest.raises(StoreError, match="not a readable trainer_state.json"):
        read_log_history(p)
    p.write_text("{}")
    with pytest.raises(StoreError, match="log_history"):
        read_log_history(p)
