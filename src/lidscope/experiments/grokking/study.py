"""The grokking signal study (docs/signals.md): a fixed plan of runs, split up front into two halves.

Every run is the paper's transformer (method.md, Grokking) on one (prime, operation, train fraction,
weight decay, seed). The plan is fixed before any run: the ``tune`` half is used to choose the LID
rule and its parameters, the ``test`` half only to report them. The halves are balanced by design:
each has both weight decays, the low fractions, and every operation.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lidscope.training.signals import FallRule, fall_alarm

from .analysis import first_crossing
from .train import GrokConfig

OP_NAMES = {"+": "add", "-": "sub", "*": "mul", "/": "div"}

#: Measurement and budget shared by every run of the study (N = 2,000 fits p = 59 at fraction 0.3).
STUDY_BASE = GrokConfig(steps=600, eval_every=50, lid_points=2000, lid_neighbors=64)
QUICK_BASE = GrokConfig(steps=60, eval_every=10, lid_points=300, lid_neighbors=16, n_layers=1, d_model=32,
                        n_heads=2, d_ff=64, batch_size=64, warmup_steps=5)


@dataclass(frozen=True)
class PlannedRun:
    """One run of the plan and the half it belongs to (``tune`` or ``test``)."""

    prime: int
    op: str
    train_fraction: float
    weight_decay: float
    half: str
    seed: int = 0

    def config(self, base: GrokConfig) -> GrokConfig:
        return dataclasses.replace(base, prime=self.prime, op=self.op, train_fraction=self.train_fraction,
                                   weight_decay=self.weight_decay, seed=self.seed)


#: The study's 16 runs, in the order they are run (tune and test interleaved, so a cut-short study
#: still has both halves).
STUDY_PLAN: tuple[PlannedRun, ...] = (
    PlannedRun(59, "+", 0.6, 1.0, "tune"),
    PlannedRun(59, "-", 0.6, 1.0, "test"),
    PlannedRun(59, "*", 0.7, 1.0, "tune"),
    PlannedRun(59, "/", 0.7, 1.0, "test"),
    PlannedRun(59, "+", 0.4, 1.0, "test"),
    PlannedRun(59, "-", 0.4, 1.0, "tune"),
    PlannedRun(59, "*", 0.6, 0.0, "tune"),
    PlannedRun(59, "/", 0.6, 0.0, "test"),
    PlannedRun(97, "+", 0.6, 1.0, "tune"),
    PlannedRun(97, "*", 0.6, 1.0, "test"),
    PlannedRun(59, "/", 0.5, 1.0, "tune"),
    PlannedRun(59, "*", 0.5, 1.0, "test"),
    PlannedRun(59, "+", 0.7, 0.0, "test"),
    PlannedRun(59, "-", 0.7, 0.0, "tune"),
    PlannedRun(97, "-", 0.7, 1.0, "test"),
    PlannedRun(97, "/", 0.7, 1.0, "tune"),
)

#: Runs 1-8 of `STUDY_PLAN` had been run (and seen, test half included) when the selection procedure was
#: fixed for the rest (docs/signals-preregistration.md): the test runs after them are the *blind* ones.
PREREGISTERED_AFTER = 8
#: `FALL_RULE` as it was chosen on runs 1-8's tune half (on ``lid_train_mean``), kept to score it on the
#: blind runs: a rule fixed before those runs existed.
FALL_RULE_RUNS_1_8 = FallRule(rel_drop=0.2, window=5, confirm=1, skip=2, noise_z=None)

#: The quick plan (bench --quick, tests): p = 23, a tiny model, both halves.
QUICK_PLAN: tuple[PlannedRun, ...] = (
    PlannedRun(23, "+", 0.5, 1.0, "tune"),
    PlannedRun(23, "-", 0.5, 1.0, "test"),
    PlannedRun(23, "*", 0.5, 0.0, "tune"),
    PlannedRun(23, "/", 0.5, 0.0, "test"),
)


def run_name(config: GrokConfig) -> str:
    """Directory name of a run in a sweep: operation, prime, fraction, weight decay and seed."""
    return (f"{OP_NAMES[config.op]}-p{config.prime}-f{config.train_fraction:g}-wd{config.weight_decay:g}"
            f"-s{config.seed}")


def plan_configs(plan: Sequence[PlannedRun], base: GrokConfig) -> list[tuple[PlannedRun, GrokConfig]]:
    return [(p, p.config(base)) for p in plan]


def blind_runs(plan: Sequence[PlannedRun], base: GrokConfig, after: int = PREREGISTERED_AFTER) -> list[str]:
    """Names of the ``test`` runs that come after the first ``after`` runs of ``plan`` (unseen when the
    selection procedure was fixed)."""
    return [run_name(c) for p, c in plan_configs(plan, base)[after:] if p.half == "test"]


# ---------------------------------------------------------------------------- outcomes and scoring

#: A run "generalised" when validation accuracy reached GENERALISED_AT within its budget. An alarm on
#: such a run is a *hit* when it comes at or before the COMPLETED_AT crossing (or the run never got
#: there), *late* after it; a run that generalised without an alarm is *missed*; an alarm on a run that
#: never reached GENERALISED_AT is a *false alarm* (within the budget: such a run may grok later).
GENERALISED_AT = 0.5
COMPLETED_AT = 0.9
#: The candidate rules the tuning half chooses from, as planned before any run (every combination; see
#: `rule_grid`), with ties broken towards the longer lead (``prefer="lead"``).
GRID_PLANNED = {
    "rel_drop": (0.05, 0.1, 0.15, 0.2, 0.3),
    "window": (3, 5, None),
    "confirm": (1, 2, 3),
    "skip": (1, 2, 4),
    "noise_z": (None, 3.0),
}
#: The amended grid (docs/signals.md says why): the planned choice fired at the second evaluation, on the
#: end of the post-initialisation transient, so ``skip`` starts at 2 and ties go to the more cautious
#: rule (``prefer="cautious"``).
GRID = {**GRID_PLANNED, "skip": (2, 4, 6)}
#: The LID series a rule may watch: validation inputs (no labels needed) or the training inputs.
SOURCES = ("lid_val_mean", "lid_train_mean")
#: The series the shipped `FALL_RULE` was chosen on (and is applied to in sweeps' summaries).
FALL_SOURCE = "lid_train_mean"


def rule_grid(grid: dict[str, Sequence[Any]] = GRID) -> list[FallRule]:
    """Every combination of ``grid``'s values, in a fixed order."""
    keys = list(grid)
    return [FallRule(**dict(zip(keys, combo))) for combo in itertools.product(*(grid[k] for k in keys))]


@dataclass(frozen=True)
class Outcome:
    """One run under one rule: accuracy crossings, where the alarm fired, and what that counts as."""

    name: str
    half: str
    steps: int                 # the run's budget
    final_val_acc: float
    val_050: int | None
    val_090: int | None
    alarm: int | None
    kind: str                  # hit | late | missed | false alarm | quiet (no alarm, no grokking)
    lead_050: int | None       # crossing minus alarm (positive: the alarm came first)
    lead_090: int | None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def outcome(name: str, half: str, rows: Sequence[Mapping[str, Any]], rule: FallRule,
            source: str = "lid_val_mean") -> Outcome:
    """Apply ``rule`` to the run's ``source`` series (online) and classify the alarm against accuracy."""
    rows = sorted(rows, key=lambda r: r["step"])
    steps = [int(r["step"]) for r in rows]
    alarm = fall_alarm([float(r[source]) for r in rows], steps, rule)
    at = None if alarm is None else alarm.step
    acc = [float(r["val_acc"]) for r in rows]
    c50, c90 = first_crossing(steps, acc, GENERALISED_AT), first_crossing(steps, acc, COMPLETED_AT)
    if c50 is None:
        kind = "quiet" if at is None else "false alarm"
    elif at is None:
        kind = "missed"
    else:
        kind = "hit" if c90 is None or at <= c90 else "late"
    return Outcome(name, half, steps[-1], acc[-1], c50, c90, at, kind,
                   None if at is None or c50 is None else c50 - at,
                   None if at is None or c90 is None else c90 - at)


def exact_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson interval of a proportion ``k / n`` (exact: binomial tails, by bisection);
    ``(nan, nan)`` for ``n = 0``. With a handful of runs it is wide: that width is the point."""
    if n == 0:
        return math.nan, math.nan
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    a = (1 - level) / 2

    def tail_ge(j: int, p: float) -> float:  # P(X >= j | p), increasing in p
        return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(j, n + 1))

    def solve(j: int, target: float) -> float:  # the p with P(X >= j | p) = target
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if tail_ge(j, mid) < target else (lo, mid)
        return (lo + hi) / 2

    low = 0.0 if k == 0 else solve(k, a)             # P(X >= k | low) = a
    high = 1.0 if k == n else solve(k + 1, 1 - a)    # P(X <= k | high) = a
    return low, high


@dataclass(frozen=True)
class Score:
    """A rule's record over a set of runs."""

    runs: int
    grokked: int               # runs that reached GENERALISED_AT
    alarms: int
    hits: int
    early: int                 # hits at or before the GENERALISED_AT crossing
    late: int
    missed: int
    false_alarms: int
    precision: float           # hits / alarms
    recall: float              # hits / grokked runs
    f1: float
    median_lead_090: float     # over hits that reached COMPLETED_AT, steps
    median_lead_050: float     # over hits, steps (negative: the alarm came after the 0.5 crossing)
    precision_ci: tuple[float, float] = (math.nan, math.nan)   # 95 % Clopper-Pearson
    recall_ci: tuple[float, float] = (math.nan, math.nan)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def score(outcomes: Sequence[Outcome]) -> Score:
    kinds = [o.kind for o in outcomes]
    hits = kinds.count("hit")
    alarms = sum(o.alarm is not None for o in outcomes)
    grokked = sum(o.val_050 is not None for o in outcomes)
    early = sum(o.kind == "hit" and o.lead_050 is not None and o.lead_050 >= 0 for o in outcomes)
    precision = hits / alarms if alarms else math.nan
    recall = hits / grokked if grokked else math.nan
    f1 = 2 * hits / (alarms + grokked) if alarms + grokked else math.nan
    l90 = [o.lead_090 for o in outcomes if o.kind == "hit" and o.lead_090 is not None]
    l50 = [o.lead_050 for o in outcomes if o.kind == "hit" and o.lead_050 is not None]
    return Score(len(outcomes), grokked, alarms, hits, early, kinds.count("late"), kinds.count("missed"),
                 kinds.count("false alarm"), precision, recall, f1,
                 float(np.median(l90)) if l90 else math.nan, float(np.median(l50)) if l50 else math.nan,
                 exact_interval(hits, alarms), exact_interval(hits, grokked))


def _key(s: Score, rule: FallRule, prefer: str) -> tuple[float, ...]:
    """Order of preference: higher F1, then more alarms before the 0.5 crossing, then (``lead``) a longer
    median lead to it or (``cautious``) the more cautious rule: larger drop, more confirmations, more
    skipped measurements, a noise floor."""
    f1 = -1.0 if math.isnan(s.f1) else s.f1
    lead = -math.inf if math.isnan(s.median_lead_050) else s.median_lead_050
    cautious = (rule.rel_drop, rule.confirm, rule.skip, rule.noise_z is not None)
    if prefer == "lead":
        return (f1, s.early, lead, *cautious)
    if prefer == "cautious":
        return (f1, s.early, *cautious, lead)
    raise ValueError(f"prefer must be 'lead' or 'cautious', got {prefer!r}")


def choose_rule(runs: Mapping[str, tuple[str, Sequence[Mapping[str, Any]]]], *, half: str = "tune",
                sources: Sequence[str] = SOURCES, grid: dict[str, Sequence[Any]] = GRID,
                prefer: str = "cautious") -> tuple[str, FallRule, Score]:
    """The (source, rule) with the best `score` on the runs of ``half`` only (``runs``: name -> (half, rows))."""
    chosen = [(n, rows) for n, (h, rows) in runs.items() if h == half]
    if not chosen:
        raise ValueError(f"no runs in the {half!r} half to choose a rule on")
    best: tuple[tuple[float, ...], str, FallRule, Score] | None = None
    for source in sources:
        for rule in rule_grid(grid):
            s = score([outcome(n, half, rows, rule, source) for n, rows in chosen])
            k = _key(s, rule, prefer)
            if best is None or k > best[0]:
                best = (k, source, rule, s)
    assert best is not None
    return best[1], best[2], best[3]


PLANS = {"study": (STUDY_PLAN, STUDY_BASE), "quick-study": (QUICK_PLAN, QUICK_BASE)}


def study_plan(name: str) -> tuple[tuple[PlannedRun, ...], GrokConfig]:
    """The named plan and its base config (``study`` or ``quick-study``)."""
    if name not in PLANS:
        raise ValueError(f"unknown plan {name!r}: use one of {', '.join(PLANS)}")
    return PLANS[name]
