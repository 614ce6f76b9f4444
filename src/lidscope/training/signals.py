"""Early-warning signals on a series of mean LID values over training steps.

Two signals, after the paper's observations (method.md):

- **plateau**: LID has stabilised. In the paper, mean LID stops moving when the task metric stops
  improving ("training exhausted"), so a plateau says more training on this data is unlikely to pay
  off.
- **drop**: a significant decrease. In the paper (fine-tuning, grokking) a fall of mean LID
  accompanies or precedes a gain in the task metric, so a drop says a gain is likely to follow.
- **fall alarm** (`fall_alarm`, `FALL_RULE`): the online early warning, one alarm per series, chosen
  on 8 grokking runs and scored on 8 others (docs/signals.md). On the test runs it caught 1 of 4 runs
  that generalised, at the accuracy jump rather than before it, with 1 false alarm in 2: a hint, not
  a forecast (see `FALL_RULE`).

Tolerances, noise, and why these defaults
-----------------------------------------
A change counts only when it exceeds the measurement noise, and every result records which noise it
used (``noise_source``): a ``noise`` you pass (one measurement's standard deviation, e.g. from
replicates: label it ``noise_source="replicates"``), the series' own noise (`series_noise`, estimated
online from the values seen so far: ``"series"``), or none (a relative threshold only). With ``noise``
and no ``noise_z``:

- plateau: all values of the last ``window`` measurements lie within ``2 * noise`` of their mid-range;
- drop: the value falls more than ``3 * sqrt(2) * noise`` below the highest of the previous
  ``window`` values (a difference of two noisy values has standard deviation ``sqrt(2) * noise``).

With ``noise_z``, the relative threshold is raised to ``noise_z`` noises (plateau band) or
``noise_z * sqrt(2)`` noises (`FallRule`). `LIDEarlyStoppingCallback` takes the noise from replicate
intervals when it measures with ``n_replicates > 1``.

The defaults, `PLATEAU_RULE` and `FALL_RULE`, were chosen on some training runs and scored on others
(docs/signals.md, procedure fixed beforehand in docs/signals-preregistration.md); their docstrings give
the measured accuracy, which is poor. `drop` keeps ``rel_tolerance = 0.05`` (5 %): lidscope's sweeps
and callbacks hold the sequence and token samples fixed across steps (a paired design), and in that
setting a MiniLM classifier whose validation F1 had saturated moved by 0.6-2.5 % between consecutive
evaluations (docs/reproductions.md, "Noise of the mean"). *Unpaired* comparisons (different token
samples) are much noisier: the seed-to-seed spread of the mean was 5.3 % at M = 500 / N = 5,000 and
4.5 % at M = 1,000 / N = 10,000 on chit-chat with MiniLM; pass ``noise`` from such a seed study when
you compare series measured on different samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

@dataclass(frozen=True)
class PlateauRule:
    """A plateau rule: ``window`` measurements within a band of half-width ``rel_tolerance`` of their
    level, widened to ``noise_z`` times one measurement's noise when ``noise_z`` is set (see `plateau`)."""

    window: int = 4
    rel_tolerance: float = 0.02
    noise_z: float | None = None

    def __post_init__(self) -> None:
        if self.window < 2:
            raise ValueError(f"window must be >= 2, got {self.window}")
        if not 0.0 < self.rel_tolerance < 1.0:
            raise ValueError(f"rel_tolerance must lie in (0, 1), got {self.rel_tolerance}")
        if self.noise_z is not None and self.noise_z <= 0:
            raise ValueError(f"noise_z must be positive or None, got {self.noise_z}")


#: The shipped plateau rule (default of `plateau` and `LIDEarlyStoppingCallback`): 6 measurements within
#: +-5 % of their mid-range, no noise floor. Chosen (docs/signals-preregistration.md) on 3 "fit" runs of a
#: from-scratch BBC News classifier (smallest mean |error| against the evaluation after which validation
#: F1 never gains more than 0.01: 1.3 epochs) and scored on 3 "report" runs (docs/signals.md,
#: "Exhaustion"): it fired on 2 of 3, **4 epochs late** on both, and not at all on the third (whose F1 was
#: still rising at the end). The previous default (window 4, +-2 %) did better on the report runs (fired on
#: 3 of 3: 4, 2 and 0 epochs late) and worse on the fit runs. Neither is a reliable stopping rule: a LID
#: plateau says "LID stopped moving", not "F1 stopped improving".
PLATEAU_RULE = PlateauRule(window=6, rel_tolerance=0.05, noise_z=None)
PLATEAU_REL_TOLERANCE = PLATEAU_RULE.rel_tolerance
#: With replicate intervals (``n_replicates > 1``) a plateau band is at least this many standard errors
#: wide (two: differences smaller than that cannot be told from noise).
REPLICATE_NOISE_Z = 2.0
PLATEAU_WINDOW = PLATEAU_RULE.window
#: Default relative threshold of `drop` (the event lister of plots and `lidscope sweep`).
DROP_REL_TOLERANCE = 0.05


@dataclass
class Plateau:
    """Result of `plateau`: ``detected`` and, if so, where the flat stretch starts and is confirmed."""

    detected: bool
    index: int | None = None          # measurement at which the plateau is confirmed (causal)
    step: int | None = None
    start_index: int | None = None    # first measurement of the flat stretch
    start_step: int | None = None
    level: float | None = None        # mid-range of the flat stretch
    tolerance: float | None = None    # half-width of the band used
    window: int = PLATEAU_WINDOW
    noise: float | None = None        # one measurement's standard deviation used for the band (if any)
    noise_source: str = "none"        # none | tolerance | given | replicates | series (see `plateau`)

    def __bool__(self) -> bool:
        return self.detected


@dataclass
class Drop:
    """One significant decrease: from the reference (highest recent value) to ``to_value``."""

    index: int
    step: int
    reference_index: int
    reference_step: int
    from_value: float
    to_value: float
    delta: float
    relative: float
    threshold: float


def _prepare(values: Sequence[float], steps: Sequence[int] | None) -> tuple[list[float], list[int]]:
    vals = [float(v) for v in values]
    st = list(range(len(vals))) if steps is None else [int(s) for s in steps]
    if len(st) != len(vals):
        raise ValueError(f"steps ({len(st)}) and values ({len(vals)}) differ in length.")
    if any(not math.isfinite(v) for v in vals):
        raise ValueError("the LID series holds NaN or infinite values; drop failed measurements first.")
    return vals, st


def plateau(
    values: Sequence[float],
    steps: Sequence[int] | None = None,
    *,
    window: int = PLATEAU_WINDOW,
    tolerance: float | None = None,
    rel_tolerance: float = PLATEAU_REL_TOLERANCE,
    noise: float | None = None,
    noise_z: float | None = PLATEAU_RULE.noise_z,
    noise_source: str = "given",
) -> Plateau:
    """The first point at which the last ``window`` values all lie within a band of half-width tol.

    The band's half-width is ``tolerance`` if given; else ``2 * noise`` if ``noise`` is given and
    ``noise_z`` is not; else ``rel_tolerance`` times the stretch's mid-range, widened to
    ``noise_z * noise`` when ``noise_z`` is set (``noise``: given, else `series_noise` of the values
    seen so far). The result records the noise and where it came from (``noise_source``: the label of
    a given ``noise``, e.g. ``"replicates"``; ``"series"`` when estimated from the values;
    ``"tolerance"`` or ``"none"`` when no noise was used). The test only looks backwards, so it can
    run online (``index`` is where it would have fired).
    """
    if window < 2:
        raise ValueError("window must be >= 2 (a plateau needs at least two measurements).")
    if noise_z is not None and noise_z <= 0:
        raise ValueError(f"noise_z must be positive or None, got {noise_z}")
    vals, st = _prepare(values, steps)
    for i in range(window - 1, len(vals)):
        seg = vals[i - window + 1: i + 1]
        lo, hi = min(seg), max(seg)
        mid = (lo + hi) / 2
        sd, source = None, "none"
        if tolerance is not None:
            tol, source = tolerance, "tolerance"
        elif noise is not None and noise_z is None:
            tol, sd, source = 2 * noise, noise, noise_source
        else:
            tol = rel_tolerance * abs(mid)
            if noise_z is not None:
                sd, source = (noise, noise_source) if noise is not None else (series_noise(vals[: i + 1]), "series")
                if math.isfinite(sd):
                    tol = max(tol, noise_z * sd)
        if (hi - lo) / 2 <= tol:
            j = i - window + 1
            return Plateau(True, i, st[i], j, st[j], mid, tol, window, sd, source)
    return Plateau(False, window=window)


def drop(
    values: Sequence[float],
    steps: Sequence[int] | None = None,
    *,
    window: int = 3,
    tolerance: float | None = None,
    rel_tolerance: float = DROP_REL_TOLERANCE,
    noise: float | None = None,
) -> list[Drop]:
    """Significant decreases: a value below the highest of the previous ``window`` values by more
    than the threshold (``tolerance``; else ``3 * sqrt(2) * noise``; else ``rel_tolerance`` times
    that highest value). Consecutive hits are merged into one event ending at its deepest point.
    """
    if window < 1:
        raise ValueError("window must be >= 1.")
    vals, st = _prepare(values, steps)
    events: list[Drop] = []
    last_hit = -2
    for i in range(1, len(vals)):
        lo = max(0, i - window)
        ref_i = max(range(lo, i), key=lambda k: vals[k])
        ref = vals[ref_i]
        thr = tolerance if tolerance is not None else (
            3 * math.sqrt(2) * noise if noise is not None else rel_tolerance * abs(ref))
        delta = ref - vals[i]
        if delta <= thr:
            continue
        if last_hit == i - 1 and events:
            # the same decline continues (or lingers low): one event, ending at its deepest point
            prev = events[-1]
            if vals[i] < prev.to_value:
                d = prev.from_value - vals[i]
                events[-1] = Drop(i, st[i], prev.reference_index, prev.reference_step, prev.from_value, vals[i], d,
                                  d / abs(prev.from_value) if prev.from_value else math.inf, prev.threshold)
        else:
            events.append(Drop(i, st[i], ref_i, st[ref_i], ref, vals[i], delta,
                               delta / abs(ref) if ref else math.inf, thr))
        last_hit = i
    return events


def series_noise(values: Sequence[float]) -> float:
    """Robust standard deviation of one measurement, from a series' consecutive differences.

    ``1.4826 * MAD(diff) / sqrt(2)``: the median absolute deviation of the first differences scaled to a
    Gaussian standard deviation, divided by sqrt(2) because a difference holds two measurements' noise.
    The median ignores the few large steps of a real change; a steady trend inflates it (conservative).
    Needs at least 3 values (2 differences); ``nan`` for fewer.
    """
    v = [float(x) for x in values]
    if len(v) < 3:
        return math.nan
    d = [b - a for a, b in zip(v[:-1], v[1:])]
    med = sorted(d)[len(d) // 2] if len(d) % 2 else sum(sorted(d)[len(d) // 2 - 1: len(d) // 2 + 1]) / 2
    dev = sorted(abs(x - med) for x in d)
    n = len(dev)
    mad = dev[n // 2] if n % 2 else (dev[n // 2 - 1] + dev[n // 2]) / 2
    return 1.4826 * mad / math.sqrt(2)


@dataclass(frozen=True)
class FallRule:
    """An online alarm for a fall of mean LID: "LID has left its high level; a gain may follow".

    At measurement ``i`` (ignoring the first ``skip`` measurements, e.g. the random initialisation)
    the reference is the highest of the previous ``window`` values (``None``: of all values since
    ``skip``). Measurement ``i`` is *low* when it lies more than the threshold below its reference;
    the alarm fires at the first measurement that completes ``confirm`` consecutive low ones.
    Threshold: ``rel_drop * reference``, raised to ``noise_z * sqrt(2) * noise`` when ``noise_z`` is
    set (``noise``: given, else `series_noise` of the values seen so far), so a fall counts only if it
    exceeds the noise of a difference of two measurements.
    """

    rel_drop: float = 0.1
    window: int | None = None
    confirm: int = 1
    skip: int = 1
    noise_z: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.rel_drop < 1.0:
            raise ValueError(f"rel_drop must lie in (0, 1), got {self.rel_drop}")
        if self.window is not None and self.window < 1:
            raise ValueError(f"window must be >= 1 or None, got {self.window}")
        if self.confirm < 1 or self.skip < 0:
            raise ValueError(f"confirm must be >= 1 and skip >= 0, got {self.confirm}, {self.skip}")
        if self.noise_z is not None and self.noise_z <= 0:
            raise ValueError(f"noise_z must be positive or None, got {self.noise_z}")


#: The shipped fall alarm: the rule chosen on the 8 tuning runs of the grokking study (docs/signals.md;
#: the paper's transformer, p = 59 and 97, four operations, 600 steps, LID every 50 steps; chosen on the
#: training-input LID, procedure fixed beforehand in docs/signals-preregistration.md): 5 % below the
#: highest of the previous 5 values *and* beyond 3 sqrt(2) times the series' own noise, 3 low
#: measurements in a row, the first 4 measurements skipped. The noise floor sets the threshold in
#: practice (1.2-1.6 LID, 12-17 % of the level, on those runs). Measured:
#:
#: - tuning runs (8): 3 alarms, 3 hits, no false alarm; the hits came 0, 50 and 150 steps **after**
#:   validation accuracy crossed 0.5 (median -50 steps);
#: - test runs (8): 2 alarms, 1 hit, 1 false alarm, 3 generalising runs missed: precision 1/2
#:   (95 % CI 0.01-0.99), recall 1/4 (0.01-0.81), the hit at the 0.5 crossing (lead 0);
#: - the 4 blind test runs: precision 1/2, recall 1/2.
#:
#: A steep fall (over 2-3 evaluations) inflates the online noise estimate and delays the alarm. Labelled
#: validation loss did better on the same runs (test precision 4/5, recall 4/4). **This alarm is not a
#: reliable early warning**: it is the best-scored LID rule of the study, shipped as a hint.
FALL_RULE = FallRule(rel_drop=0.05, window=5, confirm=3, skip=4, noise_z=3.0)


@dataclass
class Alarm:
    """Where a `FallRule` fired: the measurement, its reference and the threshold it passed."""

    index: int
    step: int
    reference_step: int
    reference: float
    value: float
    relative: float
    threshold: float
    noise: float | None = None        # one measurement's standard deviation behind the threshold (if used)
    noise_source: str = "none"        # none | given | replicates | series (see `fall_alarm`)


def fall_alarm(values: Sequence[float], steps: Sequence[int] | None = None, rule: FallRule | None = None,
               *, noise: float | None = None, noise_source: str = "given") -> Alarm | None:
    """The first alarm of ``rule`` (default `FALL_RULE`) on a series, as it would have fired online.

    Uses only values up to each measurement (causal). Returns ``None`` when it never fires. When the
    rule has a noise floor (``noise_z``), the noise is ``noise`` if given (labelled ``noise_source``,
    e.g. ``"replicates"``), else the `series_noise` of the values seen so far (``"series"``); the
    alarm records which.
    """
    rule = FALL_RULE if rule is None else rule
    vals, st = _prepare(values, steps)
    run = 0
    for i in range(rule.skip + 1, len(vals)):
        lo = rule.skip if rule.window is None else max(rule.skip, i - rule.window)
        ref_i = max(range(lo, i), key=lambda k: vals[k])
        thr = rule.rel_drop * abs(vals[ref_i])
        sd, source = None, "none"
        if rule.noise_z is not None:
            sd, source = (noise, noise_source) if noise is not None else (series_noise(vals[rule.skip: i + 1]),
                                                                          "series")
            if math.isfinite(sd):
                thr = max(thr, rule.noise_z * math.sqrt(2) * sd)
        run = run + 1 if vals[ref_i] - vals[i] > thr else 0
        if run >= rule.confirm:
            ref = vals[ref_i]
            return Alarm(i, st[i], st[ref_i], ref, vals[i], (ref - vals[i]) / abs(ref) if ref else math.inf, thr,
                         sd, source)
    return None


def describe(values: Sequence[float], steps: Sequence[int] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Both signals as a JSON-able dict (for reports and the CLI)."""
    p = plateau(values, steps, **{k: v for k, v in kwargs.items() if k in ("window", "noise")})
    d = drop(values, steps, **{k: v for k, v in kwargs.items() if k in ("window", "noise")})
    return {"plateau": p.__dict__, "drops": [e.__dict__ for e in d]}


# ---------------------------------------------------------------------------- Trainer integration

try:  # transformers is a dependency, but keep the pure functions importable without it
    from transformers import TrainerCallback as _TrainerCallback
except ImportError:  # pragma: no cover
    _TrainerCallback = object  # type: ignore[assignment,misc]


class LIDEarlyStoppingCallback(_TrainerCallback):  # type: ignore[misc,valid-type]
    """Stop training when mean LID has plateaued (opt-in), by the shipped `PLATEAU_RULE`.

    Reads the series measured by a `lidscope.training.callback.LIDCallback` (add that callback
    first) and stops once the last ``patience + 1`` measurements of source ``name`` lie within the
    band of `plateau`. Measurements at step 0 (the untrained model) are left out, as in the study
    that chose the defaults (docs/signals.md, "Exhaustion"; measured accuracy of the default there).

    Noise: ``noise`` if given; else, when the callback measures with ``n_replicates > 1``, the median
    standard error of the measurements so far (``"replicates"``: a calibrated interval, so the band is
    always widened to at least ``REPLICATE_NOISE_Z`` of them); else the series' own noise
    (`series_noise` of the measurements so far, ``"series"``), used only when ``noise_z`` is set.
    ``stopped`` (a `Plateau`) records which was used. Each check also records ``alarm``: the shipped
    `FALL_RULE` fall alarm on the same series, with the replicate noise when there is one (a hint
    only; it never stops training).

    Args:
        lid_callback: the `LIDCallback` measuring LID in the same Trainer.
        name: text source to watch (default: the callback's first).
        patience: measurements that must stay within the band after the first one (>= 1; default
            ``PLATEAU_RULE.window - 1``).
        tolerance / rel_tolerance / noise / noise_z: see `plateau` (defaults: `PLATEAU_RULE`).
        min_step: never stop before this global step.
    """

    def __init__(self, lid_callback: Any, name: str | None = None, *, patience: int | None = None,
                 tolerance: float | None = None, rel_tolerance: float = PLATEAU_RULE.rel_tolerance,
                 noise: float | None = None, noise_z: float | None = PLATEAU_RULE.noise_z,
                 min_step: int = 0) -> None:
        patience = PLATEAU_RULE.window - 1 if patience is None else patience
        if patience < 1:
            raise ValueError("patience must be >= 1 measurement.")
        self.lid = lid_callback
        self.name = name
        self.patience = patience
        self.tolerance, self.rel_tolerance, self.noise, self.noise_z = tolerance, rel_tolerance, noise, noise_z
        self.min_step = min_step
        self.stopped: Plateau | None = None
        self.alarm: Alarm | None = None
        self._seen = 0

    def _noise(self, vals: list[float]) -> tuple[float | None, str]:
        """One measurement's noise and its source (given, replicates or series)."""
        if self.noise is not None:
            return self.noise, "given"
        name = self.name or next(iter(self.lid.monitor.sources))
        rows = [m.rows[0] for m in self.lid.monitor.history if m.name == name and m.step > 0]
        ses = [float(r["mean_se"]) for r in rows
               if (r.get("n_replicates") or 1) > 1 and r.get("mean_se") is not None and math.isfinite(float(r["mean_se"]))]
        if ses:
            return sorted(ses)[len(ses) // 2], "replicates"
        sd = series_noise(vals)
        return (sd, "series") if math.isfinite(sd) else (None, "none")

    def decide(self, steps: Sequence[int], vals: Sequence[float]) -> Plateau | None:
        """The plateau confirmed by the last ``patience + 1`` measurements after step 0, if any."""
        pts = [(s, v) for s, v in zip(steps, vals) if s > 0]
        st, vs = [p[0] for p in pts], [p[1] for p in pts]
        noise, source = self._noise(vs)
        if self.alarm is None:  # on the whole series, as the rule was chosen; a measured noise if there is one
            self.alarm = (fall_alarm(vals, steps, noise=noise, noise_source=source) if source in ("given", "replicates")
                          else fall_alarm(vals, steps))
        if len(vs) < self.patience + 1:
            return None
        z = self.noise_z
        if source == "replicates" and z is None:
            z = REPLICATE_NOISE_Z
        elif source == "series" and z is None:
            noise, source = None, "none"
        w = self.patience + 1
        p = plateau(vs[-w:], st[-w:], window=w, tolerance=self.tolerance, rel_tolerance=self.rel_tolerance,
                    noise=noise, noise_z=z, noise_source=source)
        return p if p.detected else None

    def _check(self, state: Any, control: Any) -> Any:
        steps, vals = self.lid.monitor.series(self.name)
        if len(vals) == self._seen or state.global_step < self.min_step:
            return control
        self._seen = len(vals)
        p = self.decide(steps, vals)
        if p is not None:
            self.stopped = p
            control.should_training_stop = True
        return control

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        return self._check(state, control)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        return self._check(state, control)
