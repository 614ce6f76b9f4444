"""Training-data detection: was a model trained on these texts? LID shifts next to the score-based
membership-inference baselines (loss, zlib, Min-K%, Min-K%++, reference-model ratio)."""

from lidscope.detect.forward import DetectError
from lidscope.detect.pipeline import METHODS, DetectResult, DetectSettings, detect

__all__ = ["detect", "DetectResult", "DetectSettings", "DetectError", "METHODS"]
