"""A sweep on Ray gives the in-process executor's results store row by row, survives a killed worker,
and resumes."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (CI installs it): pip install 'lidscope[ray]'")

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from fakeruns import SMALL, make_run, write_texts  # noqa: E402

from lidscope.executors.ray import RayExecutor  # noqa: E402
from lidscope.settings import MeasureSettings  # noqa: E402
from lidscope.training.store import ResultsStore  # noqa: E402
from lidscope.training.sweep import plan_sweep, run_sweep  # noqa: E402

pytestmark = pytest.mark.slow  # starts a local Ray cluster: left out of the fast loop (-m 'not slow')

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

SETTINGS = MeasureSettings(**SMALL, layers=(-2, -1))
VOLATILE = ["seconds", "created_utc"]  # wall time; everything else must be equal



@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A run with two checkpoints of a tiny random BERT and two short-text datasets."""
    root = tmp_path_factory.mktemp("ray-sweep")
    run = make_run(root / "run-seed0", steps=(10, 20))
    data = [str(write_texts(root / "a.txt", n=120, seed=0)), str(write_texts(root / "b.txt", n=100, seed=1))]
    return run, data


@pytest.fixture(scope="module")
def reference(inputs, tmp_path_factory):
    """The same sweep with the default in-process executor."""
    run, data = inputs
    store = tmp_path_factory.mktemp("ref") / "store"
    report = run_sweep(plan_sweep([run], data, store, SETTINGS), "local")
    assert report.ok and len(report.finished) == 4
    return ResultsStore(store)


def _table(store: ResultsStore):
    return store.read().drop(columns=VOLATILE).sort_values(["job_id", "layer"]).reset_index(drop=True)


def _assert_same_store(got: ResultsStore, ref: ResultsStore) -> None:
    import pandas as pd

    a, b = _table(got), _table(ref)
    assert len(a) == len(b) == 8  # 2 checkpoints x 2 datasets x 2 layers
    assert not a.duplicated(["job_id", "layer"]).any()
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    for rel in a["tokens_file"]:  # the per-token LID values too
        pd.testing.assert_frame_equal(pd.read_parquet(got.path / rel), pd.read_parquet(ref.path / rel),
                                      check_exact=True)
    assert not list(got.rows_dir.glob(".*")), "no temporary row files left behind"


def test_ray_sweep_equals_local_row_by_row(local_ray, inputs, reference, tmp_path):
    run, data = inputs
    events = []
    report = run_sweep(plan_sweep([run], data, tmp_path / "store", SETTINGS), RayExecutor(),
                       on_event=lambda kind, info: events.append(kind))
    assert report.ok and sorted(report.finished) == sorted(reference.done_ids())
    assert events == ["done", "done"]
    _assert_same_store(report.store, reference)

    # re-running resumes: nothing left to do; a lost row file is the only thing recomputed
    assert plan_sweep([run], data, tmp_path / "store", SETTINGS).jobs == []
    lost = sorted(report.store.rows_dir.glob("*.parquet"))[1]
    lost.unlink()
    plan = plan_sweep([run], data, tmp_path / "store", SETTINGS)
    assert plan.already_done == 3 and [u["unit_id"] for j in plan.jobs for u in j.units] == [lost.stem]
    again = run_sweep(plan, RayExecutor())
    assert again.finished == [lost.stem]
    _assert_same_store(again.store, reference)


def crash_mid_job(payload: dict) -> dict:
    """Finishes the first unit of the step-20 job, then the worker is killed (once); else the real job."""
    from lidscope.training.sweep import run_checkpoint_job

    root = Path(payload["store"]).parent
    with open(root / "attempts.log", "a") as f:
        f.write(f"{payload['job_id']} {payload['checkpoint']['step']} {os.getpid()}\n")
    marker = root / "killed-once"
    if payload["checkpoint"]["step"] == 20 and not marker.exists():
        run_checkpoint_job({**payload, "units": payload["units"][:1]})
        marker.write_text("x")
        os.kill(os.getpid(), signal.SIGKILL)
    return run_checkpoint_job(payload)


def test_worker_killed_mid_job_loses_and_duplicates_nothing(local_ray, inputs, reference, tmp_path, monkeypatch):
    run, data = inputs
    # run_sweep submits this module's crash_mid_job instead of the real job function
    monkeypatch.setattr(sys.modules["lidscope.training.sweep"], "run_checkpoint_job", crash_mid_job)
    ex = RayExecutor(max_retries=2, retries=0)
    report = run_sweep(plan_sweep([run], data, tmp_path / "store", SETTINGS), ex)
    assert report.ok, report.failed
    attempts = [line.split() for line in (tmp_path / "attempts.log").read_text().splitlines()]
    by_step = {s: [a for a in attempts if a[1] == s] for s in ("10", "20")}
    assert len(by_step["10"]) == 1
    assert len(by_step["20"]) == 2 and by_step["20"][0][2] != by_step["20"][1][2], "retried in a new process"
    _assert_same_store(report.store, reference)
    assert report.store.failures() == []


def _cli():
    from typer.testing import CliRunner

    from lidscope.cli import app, register_commands

    if not any(c.name == "sweep" for c in app.registered_commands):
        register_commands()
    return CliRunner(), app


def test_cli_sweep_with_ray_executor(local_ray, inputs, reference, tmp_path):
    run, data = inputs
    runner, app = _cli()
    args = ["sweep", str(run), "-d", data[0], "-d", data[1], "-o", str(tmp_path / "store"), "-M", "0", "-N", "300",
            "-L", "12", "--sample-size", "3000", "--max-length", "32", "--layer=-2,-1", "--no-plot"]
    res = runner.invoke(app, [*args, "--executor", "ray"])
    assert res.exit_code == 0, res.output
    assert "(4 new, 0 reused, 0 failed" in " ".join(res.output.split())  # rich wraps lines
    _assert_same_store(ResultsStore(tmp_path / "store"), reference)
    res = runner.invoke(app, [*args, "--executor", "ray"])
    assert res.exit_code == 0 and "(0 new, 4 reused" in " ".join(res.output.split())


def test_cli_rejects_bad_executor_options(tmp_path, inputs):
    run, data = inputs
    runner, app = _cli()
    base = ["sweep", str(run), "-d", data[0], "-o", str(tmp_path / "s"), "--no-plot"]
    res = runner.invoke(app, [*base, "--address", "auto"])
    assert res.exit_code == 2 and "--executor ray only" in " ".join(res.output.split())
    res = runner.invoke(app, [*base, "--executor", "ray", "--address", "my-cluster"])
    assert res.exit_code == 2 and "is not valid" in " ".join(res.output.split())
    assert not (tmp_path / "s").exists(), "nothing is planned before the executor is valid"
