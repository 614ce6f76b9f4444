"""Grokking: LID cost counts every thread; output-folder problems are clear messages."""

from __future__ import annotations

import os
import threading
import time

import pytest

import lidscope
from lidscope.experiments.grokking.data import POSITION_SETS
from lidscope.experiments.grokking.train import build, evaluate, quick_config, select_lid_points


def test_lid_cpu_time_includes_worker_threads(monkeypatch):
    config = quick_config()
    data, model, _ = build(config)
    samples = {s: select_lid_points(data.train_tokens if s == "train" else data.val_tokens, POSITION_SETS["all"],
                                    config.lid_points, 0, s) for s in ("train", "val")}
    worker_cpu: list[float] = []
    real = lidscope.local_dimensions

    def in_a_worker_thread(*args, **kwargs):  # like numba's workers: the work runs off the calling thread
        def burn() -> None:
            c = time.thread_time()
            while time.thread_time() - c < 0.3:
                pass
            worker_cpu.append(time.thread_time() - c)

        t = threading.Thread(target=burn)
        t.start()
        t.join()
        return real(*args, **kwargs)

    monkeypatch.setattr(lidscope, "local_dimensions", in_a_worker_thread)
    row = evaluate(config, data, model, samples, step=0)
    assert len(worker_cpu) == 2
    assert row["lid_cpu_seconds"] >= sum(worker_cpu)


def test_out_folder_problems_are_clear_messages(tmp_path):
    from typer.testing import CliRunner

    from lidscope.cli import app, register_commands

    register_commands()
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    damaged = tmp_path / "damaged" / "checkpoint"
    damaged.mkdir(parents=True)
    (damaged / "state.json").write_text("{not json")
    (damaged / "state.safetensors").write_bytes(b"\0" * 10)
    cases = [(a_file, "is a file, not a folder"), (a_file / "sub", "is a file, so the folder cannot be created"),
             (tmp_path / "damaged", "cannot be read")]
    for out, words in cases:
        res = CliRunner().invoke(app, ["grokking", "--quick", "--steps", "1", "--out", str(out)])
        text = " ".join(res.output.split())
        assert res.exit_code == 2 and words in text and "Traceback" not in text, text
    res = CliRunner().invoke(app, ["grokking", "--quick", "--steps", "1", "--out", str(tmp_path / "damaged"),
                                   "--fresh"])
    assert res.exit_code == 0, res.output


def test_unwritable_out_folder_is_a_clear_message(tmp_path):
    from lidscope.experiments.grokking.train import check_out_dir

    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(ValueError, match="no permission to write"):
            check_out_dir(ro / "run")
    finally:
        ro.chmod(0o700)
