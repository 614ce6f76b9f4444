"""Intervals in the results store and paired step-to-step changes of a sweep."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fakeruns import SMALL  # noqa: E402

from lidscope.settings import MeasureSettings  # noqa: E402
from lidscope.stats import UNKNOWN  # noqa: E402
from lidscope.training.store import ResultsStore  # noqa: E402
from lidscope.training.sweep import sweep  # noqa: E402
from lidscope.training.uncertainty import relative_noise, step_changes  # noqa: E402


@pytest.mark.parametrize("r", [1, 2])
def test_sweep_rows_carry_intervals_and_paired_step_changes(run_dir, texts_file, tmp_path, r):
    rep = sweep([run_dir], [str(texts_file)], tmp_path / "store", MeasureSettings(**SMALL, n_replicates=r))
    assert rep.ok, rep.failed
    df = rep.table()
    assert set(df["interval_method"]) == {"replicates"} and (df["n_replicates"] == r).all()
    if r == 1:  # one replicate: no interval of the mean, but paired step changes still have one
        assert df["mean_se"].isna().all() and np.isnan(relative_noise(df))
    else:
        assert (df["mean_low"] < df["mean"]).all() and (df["mean"] < df["mean_high"]).all()
        assert relative_noise(df) == pytest.approx(float(np.median(df["mean_se"] / df["mean"])))
        assert all(len(json.loads(x)) == 2 for x in df["replicate_means"])
        assert np.allclose([np.mean(json.loads(x)) for x in df["replicate_means"]], df["mean"])
    ch = step_changes(tmp_path / "store")
    assert list(ch["step"]) == [20, 30] and (ch["base_step"] == 10).all()
    base = float(df.sort_values("step")["mean"].iloc[0])
    assert np.allclose(ch["change"], ch["mean"] - base)
    if r == 1:  # no calibrated interval from one replicate
        assert set(ch["method"]) == {"one replicate (paired)"} and ch["change_low"].isna().all()
        assert set(ch["verdict"]) == {UNKNOWN}
    else:
        assert set(ch["method"]) == {"paired"}
        assert ((ch["change_low"] <= ch["change"]) & (ch["change"] <= ch["change_high"])).all()
        assert set(ch["verdict"]) <= {"lower than base", "higher than base", "no detectable change"}


def test_rows_stored_before_the_interval_columns_still_read(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    st = ResultsStore(tmp_path / "s").ensure()
    st.add_rows("new", [{"job_id": "new", "run": "a", "step": 2, "data": "d", "layer": "-1", "mean": 8.0,
                         "mean_se": 0.1}])
    pq.write_table(pa.table({"job_id": ["old"], "run": ["a"], "step": pa.array([1], pa.int64()), "data": ["d"],
                             "layer": ["-1"], "mean": [7.0]}), st.rows_dir / "old.parquet")
    df = st.read()
    assert list(df["step"]) == [1, 2] and np.isnan(df["mean_se"].iloc[0]) and df["mean_se"].iloc[1] == 0.1
    assert np.isnan(relative_noise(df.iloc[:1]))


@pytest.mark.parametrize("r", [1, 2])
def test_cli_sweep_replicates_show_intervals_and_verdicts(run_dir, texts_file, tmp_path, saved_figures, r):
    from typer.testing import CliRunner

    from lidscope.cli import app, register_commands

    register_commands()
    store = tmp_path / "store"
    args = ["sweep", str(run_dir), "-d", str(texts_file), "-o", str(store), "-M", "0", "-N", "300", "-L", "12",
            "--sample-size", "3000", "--max-length", "32", "--replicates", str(r)]
    res = CliRunner().invoke(app, args, env={"COLUMNS": "400", "TERM": "dumb", "NO_COLOR": "1"})
    assert res.exit_code == 0, res.output
    df = ResultsStore(store).read()
    assert (df["n_replicates"] == r).all()
    last = step_changes(store).iloc[-1]
    label = saved_figures[0].axes[0].get_legend().get_texts()[0].get_text()
    if r == 1:
        assert "no interval: one replicate" in res.output and "one replicate: no interval" in label
    else:  # the table and the plot show the last step's paired change, its interval and verdict
        shown = (f"{100 * last['relative_change']:+.1f} % [{100 * last['relative_change_low']:+.1f}, "
                 f"{100 * last['relative_change_high']:+.1f}] %")
        assert f"{shown}: {last['verdict']}" in res.output
        assert f"step 30 vs 10: {shown}, {last['verdict']}" in label
        first = df.sort_values("step").iloc[0]
        assert f"{first['mean']:.3f} [{first['mean_low']:.2f}, {first['mean_high']:.2f}]" in res.output
