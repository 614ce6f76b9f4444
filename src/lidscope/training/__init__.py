"""LID over training: checkpoint sweeps, a results store, in-training monitoring, signals.

- `sweep` / `plan_sweep` / `run_sweep`: measure saved checkpoints x data specs (resumable).
- `ResultsStore`: the Parquet results store, with trainer metrics joined by step.
- `LIDCallback` (transformers.Trainer), `LIDMonitor` (plain PyTorch): in-training measurement.
- `plateau`, `drop`, `LIDEarlyStoppingCallback`: signals on a LID series.
"""

from __future__ import annotations

from lidscope.settings import MeasureSettings
from lidscope.training.signals import Drop, Plateau, drop, plateau
from lidscope.training.store import MetricNotFoundError, ResultsStore, StoreError
from lidscope.training.sweep import (Checkpoint, SweepError, SweepPlan, SweepReport, discover_checkpoints,
                                     plan_sweep, run_sweep, sweep)


def __getattr__(name: str):  # noqa: ANN202 -- lazy: the callbacks import transformers
    if name in ("LIDCallback",):
        from lidscope.training.callback import LIDCallback

        return LIDCallback
    if name in ("LIDMonitor",):
        from lidscope.training.monitor import LIDMonitor

        return LIDMonitor
    if name == "LIDEarlyStoppingCallback":
        from lidscope.training.signals import LIDEarlyStoppingCallback

        return LIDEarlyStoppingCallback
    raise AttributeError(name)


__all__ = ["Checkpoint", "Drop", "LIDCallback", "LIDEarlyStoppingCallback", "LIDMonitor", "MeasureSettings",
           "MetricNotFoundError", "Plateau", "ResultsStore", "StoreError", "SweepError", "SweepPlan", "SweepReport",
           "discover_checkpoints", "drop", "plan_sweep", "plateau", "run_sweep", "sweep"]
