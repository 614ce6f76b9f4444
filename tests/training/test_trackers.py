"""LID values in experiment trackers, read back from what the trackers wrote: a TensorBoard event file
and a W&B offline run folder (WANDB_MODE=offline; nothing leaves the machine)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from fakeruns import SMALL
from test_callback import _classifier, _texts, _trainer
from tinymodels import make_model, make_tokenizer
from wandb_offline import history

from lidscope.integrations import LIDCallback, LIDMonitor
from lidscope.settings import MeasureSettings

SETTINGS = MeasureSettings(**SMALL)
pytest.importorskip("tensorboard")
pytest.importorskip("wandb")


@pytest.fixture
def offline_wandb(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wb"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_PROJECT", "lidscope-tests")
    (tmp_path / "wb").mkdir()
    return tmp_path / "wb"


def tb_scalars(folder) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the TensorBoard event files under ``folder``: tag -> [(step, value)]."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[str, list[tuple[int, float]]] = {}
    for f in sorted(folder.rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(f))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            out.setdefault(tag, []).extend((e.step, e.value) for e in acc.Scalars(tag))
    return out


def _wandb_run_dir(root):
    (run,) = (root / "wandb").glob("offline-run-*")
    return run


def test_trainer_report_to_tensorboard_and_wandb_holds_the_lid_values(tmp_path, monkeypatch, offline_wandb):
    """Passed as callbacks=[...] (no attach): the values still reach every report_to integration."""
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tmp_path / "tb"))
    tok = make_tokenizer("bert")
    lid = LIDCallback({"val": _texts(150, 1)}, settings=SETTINGS)
    trainer = _trainer(tmp_path, tok, _classifier(tok), report_to=["tensorboard", "wandb"])
    trainer.add_callback(lid)
    trainer.train()
    import wandb

    wandb.finish()
    expected = [(m.step, m.mean) for m in lid.history]
    assert [s for s, _ in expected] == [2, 4, 6]
    tb = tb_scalars(tmp_path / "tb")
    (tag,) = [t for t in tb if t.endswith("lid/val/mean")]  # the Trainer writes it as train/lid/val/mean
    assert [s for s, _ in tb[tag]] == [s for s, _ in expected]
    assert np.allclose([v for _, v in tb[tag]], [v for _, v in expected], rtol=1e-6)  # float32 in the file
    rows = [r for r in history(_wandb_run_dir(offline_wandb)) if any(k.endswith("lid/val/mean") for k in r)]
    got = [(r["train/global_step"], next(v for k, v in r.items() if k.endswith("lid/val/mean"))) for r in rows]
    assert got == expected


def test_monitor_logger_writes_to_a_summary_writer_a_wandb_run_and_a_callable(tmp_path, offline_wandb):
    import wandb
    from torch.utils.tensorboard import SummaryWriter

    tok = make_tokenizer("bert")
    model = make_model("bert", len(tok))
    writer = SummaryWriter(log_dir=str(tmp_path / "tb"))
    run = wandb.init(dir=str(offline_wandb))
    seen: list[tuple[dict, int]] = []
    monitors = [LIDMonitor({"a": _texts(150, 1)}, tok, settings=SETTINGS, logger=lg)
                for lg in (writer, run, lambda logs, step: seen.append((logs, step)))]
    for step in (5, 10):
        with torch.no_grad():
            next(model.parameters()).mul_(1.5)  # a different model at each step
        for m in monitors:
            m.measure(model, step)
    writer.close()
    run.finish()
    means = [m.mean for m in monitors[0].history]
    assert not math.isclose(means[0], means[1])
    assert [(s, pytest.approx(v, rel=1e-6)) for s, v in tb_scalars(tmp_path / "tb")["lid/a/mean"]] == \
        [(5, means[0]), (10, means[1])]
    # wandb's service process writes the offline run file after finish() returns; under load it lags
    deadline = time.monotonic() + 60
    while True:
        rows = [r for r in history(_wandb_run_dir(offline_wandb)) if "lid/a/mean" in r]
        if len(rows) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert [(r["_step"], r["lid/a/mean"]) for r in rows] == [(5, means[0]), (10, means[1])]
    assert [(d["lid/a/mean"], s) for d, s in seen] == [(means[0], 5), (means[1], 10)]


def test_monitor_refuses_a_logger_it_cannot_write_to():
    with pytest.raises(ValueError, match="SummaryWriter"):
        LIDMonitor(["a b c"], logger=42)
