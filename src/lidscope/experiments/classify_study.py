"""The classifier part of the signal study (docs/signals.md): overfitting and training exhausted.

Both use `lidscope.experiments.classify.run` (HF Trainer + `LIDCallback`, validation macro-F1 and mean
LID of the validation texts at every evaluation). Pure analysis functions work on its ``summary``.

- **Overfitting**: a setting in which validation macro-F1 really falls after its peak; does LID on the
  validation texts rise, fall or stay flat while it falls (beyond the series' noise)?
- **Exhausted**: where does the plateau rule fire relative to the evaluation after which F1 stops
  improving? The rule's parameters are chosen on the ``fit`` runs and reported on the ``report`` runs.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lidscope.settings import MeasureSettings
from lidscope.training.signals import plateau, series_noise

from .classify import ClassifyConfig

#: LID measurement of the classifier study: 60 validation texts, N = 2,000, L = 64 (the from-scratch model
#: is 64-dimensional; smaller than the reproductions' N = 5,000 / L = 128 to fit the CPU budget).
STUDY_SETTINGS = MeasureSettings(n_sequences=60, n_points=2_000, n_neighbors=64, max_length=96)
#: "F1 stopped improving": the first evaluation after which F1 never gains more than this again.
F1_GAIN = 0.01

#: The from-scratch classifier on BBC News topics (5 classes, 300 training texts per class, 33 per class for
#: validation: all that the smallest class has), constant learning rate, evaluation every epoch.
SCRATCH = ClassifyConfig(model="scratch", data="bbc", per_class_train=300, per_class_val=33, epochs=16,
                         batch_size=32, lr=1e-3, lr_scheduler="constant", eval_every_epochs=1, threads=1,
                         settings=STUDY_SETTINGS)


@dataclass(frozen=True)
class PlannedClassifier:
    """One classifier run of the study: its role (``overfit``, ``fit`` or ``report``) and config."""

    name: str
    role: str
    config: ClassifyConfig


def study_plan(out: str, quick: bool = False) -> list[PlannedClassifier]:
    """The overfitting runs (3 seeds, 30 % uniform label noise, 16 epochs at a constant rate) and the
    exhaustion runs (no noise, 12 epochs; seeds, 100 or 300 texts per class, learning rate 1e-3 or 3e-4;
    ``fit`` and ``report`` halves fixed here, before any run)."""
    if quick:
        base = replace(SCRATCH, per_class_train=3, per_class_val=3, epochs=4, eval_every_epochs=1, max_length=32,
                       settings=MeasureSettings(n_sequences=None, n_points=150, n_neighbors=12, max_length=32))
        runs = [("overfit-s0", "overfit", dict(label_noise=0.3, seed=0)),
                ("exh-a", "fit", dict(seed=0)), ("exh-b", "report", dict(seed=1))]
    else:
        base = SCRATCH
        runs = [(f"overfit-noise30-s{s}", "overfit", dict(label_noise=0.3, seed=s)) for s in (0, 1, 2)]
        runs += [
            ("exh-100pc-lr1e-3-s0", "fit", dict(per_class_train=100, epochs=12, seed=0)),
            ("exh-100pc-lr1e-3-s1", "report", dict(per_class_train=100, epochs=12, seed=1)),
            ("exh-300pc-lr1e-3-s0", "report", dict(epochs=12, seed=0)),
            ("exh-300pc-lr1e-3-s1", "fit", dict(epochs=12, seed=1)),
            ("exh-100pc-lr3e-4-s0", "fit", dict(per_class_train=100, epochs=12, lr=3e-4, seed=0)),
            ("exh-100pc-lr3e-4-s1", "report", dict(per_class_train=100, epochs=12, lr=3e-4, seed=1)),
        ]
    return [PlannedClassifier(name, role, replace(base, out=f"{out}/{name}", **kw)) for name, role, kw in runs]


#: The exhaustion report run nobody had seen when the selection procedure was fixed
#: (docs/signals-preregistration.md).
BLIND_REPORT = ("exh-100pc-lr3e-4-s1",)


# ---------------------------------------------------------------------------- analysis


def f1_plateau_step(steps: Sequence[int], f1: Sequence[float], gain: float = F1_GAIN) -> int | None:
    """The first evaluation after which F1 never gains more than ``gain`` again."""
    for i, s in enumerate(steps):
        if all(v <= f1[i] + gain for v in f1[i + 1:]):
            return int(s)
    return None


@dataclass(frozen=True)
class OverfitVerdict:
    """What LID did while validation F1 fell from its peak to the end of training."""

    peak_step: int
    peak_f1: float
    final_f1: float
    f1_fall: float                 # peak minus final F1
    lid_at_peak: float
    lid_final: float
    lid_change: float              # final minus at-peak
    noise: float                   # `series_noise` of the whole LID series (one measurement's SD)
    threshold: float               # 2 * sqrt(2) * noise: a difference beyond two SDs of a difference
    direction: str                 # rises | falls | flat (LID), or "no F1 fall"
    spearman: float                # rank correlation of LID and F1 from the peak on (nan if < 3 points)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _spearman(a: Sequence[float], b: Sequence[float]) -> float:
    if len(a) < 3:
        return math.nan
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    if np.std(ra) == 0 or np.std(rb) == 0:
        return math.nan
    return float(np.corrcoef(ra, rb)[0, 1])


def overfit_verdict(summary: Mapping[str, Any], min_f1_fall: float = 0.02) -> OverfitVerdict:
    """Did F1 fall after its peak (by at least ``min_f1_fall``), and which way did validation LID go?"""
    f1_steps, f1 = list(summary["f1_steps"]), list(summary["val_f1"])
    lid = dict(zip(summary["lid_steps"], summary["lid_mean"]))
    if not f1:
        raise ValueError("the run has no F1 evaluations")
    k = int(np.argmax(f1))
    noise = series_noise(summary["lid_mean"])
    thr = 2 * math.sqrt(2) * noise if math.isfinite(noise) else math.nan
    at_peak, final = float(lid[f1_steps[k]]), float(lid[f1_steps[-1]])
    change = final - at_peak
    fall = f1[k] - f1[-1]
    if fall < min_f1_fall:
        direction = "no F1 fall"
    elif not math.isfinite(thr) or abs(change) <= thr:
        direction = "flat"
    else:
        direction = "rises" if change > 0 else "falls"
    tail = f1_steps[k:]
    return OverfitVerdict(int(f1_steps[k]), float(f1[k]), float(f1[-1]), float(fall), at_peak, final, change,
                          float(noise), float(thr), direction, _spearman([lid[s] for s in tail], f1[k:]))


#: The plateau rules the exhaustion ``fit`` runs choose from: window, relative band and, optionally, a noise
#: floor (the band widened to ``noise_z`` times the series' own noise, `series_noise`, estimated online).
PLATEAU_GRID = {"window": (3, 4, 5, 6), "rel_tolerance": (0.01, 0.02, 0.03, 0.05), "noise_z": (None, 2.0)}


def plateau_error(summary: Mapping[str, Any], window: int, rel_tolerance: float,
                  skip: int = 1, noise_z: float | None = None) -> tuple[int | None, int | None, float | None]:
    """(plateau step, F1 plateau step, error in epochs: positive = the rule fired late).

    ``skip`` leaves out the first measurements (step 0, the untrained model).
    """
    steps, lids = list(summary["lid_steps"])[skip:], list(summary["lid_mean"])[skip:]
    p = (plateau(lids, steps, window=window, rel_tolerance=rel_tolerance, noise_z=noise_z)
         if len(lids) >= window else None)
    f1_step = f1_plateau_step(summary["f1_steps"], summary["val_f1"])
    fired = p.step if p else None
    spe = summary["steps_per_epoch"]
    err = None if fired is None or f1_step is None else (fired - f1_step) / spe
    return fired, f1_step, err


def _plateau_cost(errors: Sequence[float | None], n_epochs: Sequence[int]) -> float:
    """Mean absolute error in epochs; a rule that never fires costs the run's whole length."""
    return float(np.mean([abs(e) if e is not None else n for e, n in zip(errors, n_epochs)]))


def choose_plateau(summaries: Sequence[Mapping[str, Any]],
                   grid: Mapping[str, Sequence[Any]] = PLATEAU_GRID) -> tuple[dict[str, Any], float]:
    """The (window, rel_tolerance, noise_z) with the smallest mean |error| on ``summaries``; ties: larger
    window, then narrower band, then no noise floor (the more cautious rule)."""
    if not summaries:
        raise ValueError("no runs to choose the plateau rule on")
    best: tuple[tuple[float, ...], dict[str, Any], float] | None = None
    for window, rel, z in itertools.product(grid["window"], grid["rel_tolerance"], grid.get("noise_z", (None,))):
        errs = [plateau_error(s, window, rel, noise_z=z)[2] for s in summaries]
        cost = _plateau_cost(errs, [s["config"]["epochs"] for s in summaries])
        key = (-cost, window, -rel, z is None)
        if best is None or key > best[0]:
            best = (key, {"window": window, "rel_tolerance": rel, "noise_z": z}, cost)
    assert best is not None
    return best[1], best[2]
