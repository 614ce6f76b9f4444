"""Training integrations: the ``transformers.Trainer`` callback, a plain-PyTorch monitor, signals.

``from lidscope.integrations import LIDCallback, LIDMonitor, LIDEarlyStoppingCallback``
"""

from __future__ import annotations

from lidscope.training.callback import LIDCallback
from lidscope.training.monitor import MONITOR_DEFAULTS, LIDMonitor
from lidscope.settings import MeasureSettings
from lidscope.training.signals import LIDEarlyStoppingCallback, drop, plateau

__all__ = ["LIDCallback", "LIDEarlyStoppingCallback", "LIDMonitor", "MONITOR_DEFAULTS", "MeasureSettings",
           "drop", "plateau"]
