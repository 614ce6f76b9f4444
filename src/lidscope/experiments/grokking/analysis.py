"""Lead time: does the fall of mean LID come before the jump in validation accuracy?

Change-point rule for "the step where LID starts its sharp fall" (applied to one LID series, by default
the validation mean LID; it uses no labels):

1. Drop step 0 (random initialisation: its LID is a transient of the init, not of training).
2. Smooth with a centred running median of 3 evaluations (the two end points are kept as they are).
3. The *steepest fall* is the interval between consecutive evaluations with the largest decrease.
4. The *fall onset* is the last local maximum before it: walk back from the start of the steepest
   interval while the previous smoothed value is strictly higher.
5. The fall counts as *sharp* only if the smoothed LID drops from the onset value to its later minimum by
   at least ``min_drop`` (relative to the onset value, default 20 %); otherwise there is no onset.
6. ``fall_mid`` is the first step after the onset where the smoothed LID is below the midpoint of onset
   value and later minimum.

Accuracy crossings are the first evaluation step with validation accuracy >= 0.5 and >= 0.9. The lead
time is ``crossing - onset`` in steps (positive: LID falls first). Resolution is the evaluation cadence.

The rule above looks at the whole series (it needs the later minimum). As a causal alternative that
could run during training, ``first_alarm`` is where the training-dynamics module's shipped online rule
(`lidscope.training.signals.fall_alarm` with `FALL_RULE`, chosen in docs/signals.md) fires on the raw
series, with its own lead times.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class LeadTime:
    """Outcome of the change-point rule on one run (steps are ``None`` when the event did not happen)."""

    lid_key: str
    fall_onset: int | None
    fall_mid: int | None
    lid_initial: float  # first evaluation after step 0 (smoothed)
    lid_peak: float  # smoothed value at the onset, or the maximum if there is no onset
    lid_peak_step: int
    lid_min_after: float  # smoothed minimum after the onset (or after the maximum)
    lid_final: float  # last smoothed value
    relative_drop: float
    val_acc_050: int | None
    val_acc_090: int | None
    lead_050: int | None
    lead_090: int | None
    final_val_acc: float
    first_alarm: int | None = None  # first online drop signal (causal), see the module docstring
    alarm_lead_050: int | None = None
    alarm_lead_090: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One human-readable paragraph."""
        where = "at the fall onset" if self.fall_onset is not None else "maximum"
        parts = [
            f"{self.lid_key} (smoothed): first {self.lid_initial:.2f}, {where} {self.lid_peak:.2f} (step "
            f"{self.lid_peak_step}), min afterwards {self.lid_min_after:.2f}, final {self.lid_final:.2f} "
            f"(relative drop {100 * self.relative_drop:.0f} %)."
        ]
        if self.fall_onset is None:
            parts.append("No sharp LID fall.")
        else:
            parts.append(f"LID fall onset at step {self.fall_onset}, midpoint at step {self.fall_mid}.")
        if self.first_alarm is not None:
            parts.append(f"First online drop alarm at step {self.first_alarm}.")
        for thr, step, lead in (("0.5", self.val_acc_050, self.lead_050), ("0.9", self.val_acc_090, self.lead_090)):
            if step is None:
                parts.append(f"Val accuracy never reached {thr}.")
            elif lead is None:
                parts.append(f"Val accuracy crossed {thr} at step {step}.")
            else:
                parts.append(f"Val accuracy crossed {thr} at step {step} (lead {lead:+d} steps).")
        return " ".join(parts)


def running_median3(values: Sequence[float]) -> np.ndarray:
    """Centred running median over 3 values; the end points are kept."""
    v = np.asarray(values, dtype=float)
    if len(v) < 3:
        return v.copy()
    out = v.copy()
    out[1:-1] = np.median(np.stack([v[:-2], v[1:-1], v[2:]]), axis=0)
    return out


def first_crossing(steps: Sequence[int], values: Sequence[float], threshold: float) -> int | None:
    """First step whose value is >= ``threshold``."""
    for s, v in zip(steps, values):
        if v is not None and not math.isnan(v) and v >= threshold:
            return int(s)
    return None


def lead_time(rows: Sequence[Mapping[str, Any]], lid_key: str = "lid_val_mean", min_drop: float = 0.2) -> LeadTime:
    """Apply the module's change-point rule to metrics rows (as in ``metrics.parquet``)."""
    rows = sorted(rows, key=lambda r: r["step"])
    used = [r for r in rows if r["step"] > 0 and r.get(lid_key) is not None and not math.isnan(r[lid_key])]
    if len(used) < 3:
        raise ValueError(
            f"lead time needs at least 3 evaluations after step 0 with {lid_key!r}, got {len(used)}: "
            "train longer or evaluate more often (--eval-every)"
        )
    steps = np.array([r["step"] for r in used])
    m = running_median3([r[lid_key] for r in used])
    drops = np.diff(m)
    j = int(np.argmin(drops))
    k = j
    while k > 0 and m[k - 1] > m[k]:
        k -= 1
    after_min = float(m[k:].min())
    rel = (m[k] - after_min) / m[k] if m[k] > 0 else 0.0
    onset = mid = None
    peak_idx = k
    if drops[j] < 0 and rel >= min_drop:
        onset = int(steps[k])
        half = (m[k] + after_min) / 2
        below = np.nonzero(m[k:] < half)[0]
        mid = int(steps[k + below[0]]) if len(below) else None
    else:
        peak_idx = int(np.argmax(m))
        after_min = float(m[peak_idx:].min())
        rel = (m[peak_idx] - after_min) / m[peak_idx] if m[peak_idx] > 0 else 0.0
    with_lid = [r for r in rows if r.get(lid_key) is not None and not math.isnan(r[lid_key])]
    alarm = first_alarm([int(r["step"]) for r in with_lid], [float(r[lid_key]) for r in with_lid])
    all_steps = [r["step"] for r in rows]
    val = [r["val_acc"] for r in rows]
    c50 = first_crossing(all_steps, val, 0.5)
    c90 = first_crossing(all_steps, val, 0.9)
    return LeadTime(
        lid_key=lid_key,
        fall_onset=onset,
        fall_mid=mid,
        lid_initial=float(m[0]),
        lid_peak=float(m[peak_idx]),
        lid_peak_step=int(steps[peak_idx]),
        lid_min_after=after_min,
        lid_final=float(m[-1]),
        relative_drop=float(rel),
        val_acc_050=c50,
        val_acc_090=c90,
        lead_050=None if onset is None or c50 is None else c50 - onset,
        lead_090=None if onset is None or c90 is None else c90 - onset,
        final_val_acc=float(rows[-1]["val_acc"]),
        first_alarm=alarm,
        alarm_lead_050=None if alarm is None or c50 is None else c50 - alarm,
        alarm_lead_090=None if alarm is None or c90 is None else c90 - alarm,
    )


def first_alarm(steps: Sequence[int], values: Sequence[float]) -> int | None:
    """Step at which `lidscope.training.signals.fall_alarm` (the shipped `FALL_RULE`) first fires on the
    series (step 0 included: the rule skips it), or ``None``."""
    from lidscope.training.signals import fall_alarm

    alarm = fall_alarm(values, steps)
    return None if alarm is None else alarm.step
