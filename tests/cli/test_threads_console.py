"""One `--threads` for every command; idle thread pools sleep; messages escaped, full width, other bars quiet."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from lidscope.cli import app, register_commands
from lidscope.threads import THREADS_HELP, WAIT_POLICY_ENV, limit_threads

register_commands()
runner = CliRunner()
COMPUTE_COMMANDS = ("measure", "compare", "estimate", "sweep", "grokking", "grokking-sweep", "detect")


def _command(name: str):  # type: ignore[no-untyped-def]
    return typer.main.get_command(app).commands[name]


@pytest.mark.parametrize("name", COMPUTE_COMMANDS)
def test_every_compute_command_takes_threads_with_one_meaning(name):
    opt = {p.name: p for p in _command(name).params}["threads"]
    assert opt.help == THREADS_HELP
    assert opt.default is None


@pytest.fixture()
def restore_threads():  # type: ignore[no-untyped-def]
    yield
    limit_threads(None)


def test_estimate_threads_caps_numba_blas_and_torch(tmp_path, restore_threads):
    import numba
    import torch
    from threadpoolctl import threadpool_info

    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(300, 8)))
    res = runner.invoke(app, ["estimate", str(tmp_path / "x.npy"), "-L", "16", "--threads", "1", "--no-figure",
                              "--no-progress", "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert numba.get_num_threads() == 1 and torch.get_num_threads() == 1
    assert {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"} == {1}


def test_threads_below_one_is_a_usage_error(tmp_path):
    res = runner.invoke(app, ["estimate", "--threads", "0"])
    assert res.exit_code == 2 and "--threads" in res.output


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in WAIT_POLICY_ENV and k != "TQDM_DISABLE"}
    return subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True,
                          check=True)


def test_import_lidscope_makes_idle_pools_sleep_but_keeps_explicit_settings():
    code = "import os, json, lidscope; print(json.dumps({k: os.environ.get(k) for k in %r}))" % list(WAIT_POLICY_ENV)
    assert json.loads(_python(code).stdout) == WAIT_POLICY_ENV
    assert json.loads(_python(code, OMP_WAIT_POLICY="ACTIVE").stdout)["OMP_WAIT_POLICY"] == "ACTIVE"


def test_other_libraries_progress_bars_are_silenced_unless_verbose():
    code = ("from lidscope.cli._console import configure_output; configure_output(verbose=%s); "
            "from tqdm import tqdm; list(tqdm(range(3), desc='otherbar'))")
    assert "otherbar" not in _python(code % "False").stderr
    assert "otherbar" in _python(code % "True").stderr


def test_error_text_is_not_eaten_as_markup(tmp_path):
    X = np.random.default_rng(0).normal(size=(50, 4))
    X[3, 1] = np.nan
    np.save(tmp_path / "nan.npy", X)
    res = runner.invoke(app, ["estimate", str(tmp_path / "nan.npy"), "--no-progress", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "X = X[np.isfinite(X).all(axis=1)]" in res.output


def test_output_to_a_pipe_is_not_cut_at_80_columns(tmp_path):
    out = tmp_path / ("a-rather-long-folder-name-" * 5) / "results"
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(300, 8)))
    res = runner.invoke(app, ["estimate", str(tmp_path / "x.npy"), "-L", "16", "--no-figure", "--no-progress",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert str(out) in res.output, res.output


def test_grokking_quick_needs_no_out(tmp_path, monkeypatch, restore_threads):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["grokking", "--quick", "--steps", "10", "--threads", "1"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "lidscope-out" / "grokking-quick" / "config.json").exists()


def test_progress_rate_is_the_stage_average_like_the_table():
    from rich.progress import Progress

    from lidscope.cli._progress import average_rate

    with Progress(disable=True) as p:
        task_id = p.add_task("forward", total=1000, unit="tok")
        task = p.tasks[0]
        task.start_time = task.get_time() - 10.0  # the stage started 10 s ago
        p.update(task_id, completed=900)
        assert abs(average_rate(task) - 90.0) < 1.0


def test_finished_stage_keeps_its_own_rate():
    """A finished stage's rate is its items over its own time, not over the time since (the bar
    once showed 1,023 tok/s where the table said 3,335: the clock kept running after the stage)."""
    from rich.progress import Progress

    from lidscope.cli._progress import average_rate

    with Progress(disable=True) as p:
        task_id = p.add_task("forward", total=1000, unit="tok")
        task = p.tasks[0]
        task.start_time = task.get_time() - 10.0
        p.update(task_id, completed=1000)          # finished after 10 s
        task.start_time -= 30.0                    # 30 s later, as the next stages run
        assert abs(average_rate(task) - 100.0) < 1.0
