"""A plain verdict on a difference, and the smallest change a measurement could have detected."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from lidscope.stats.bootstrap import N_BOOT, paired_cluster_bootstrap
from lidscope.stats.intervals import LEVEL, Interval, paired_difference, t_interval, t_quantile, welch_difference

LOWER = "lower than base"
SAME = "no detectable change"
HIGHER = "higher than base"
UNKNOWN = "no verdict (one replicate: no calibrated interval; use 3 or more replicates)"
#: Power at which `smallest_detectable_change` is quoted.
POWER = 0.8


def verdict(difference: Interval) -> str:
    """``lower than base`` / ``higher than base`` when the interval of ``other - base`` excludes 0,
    else ``no detectable change`` (``UNKNOWN`` without an interval)."""
    if not difference.known:
        return UNKNOWN
    if difference.high < 0:
        return LOWER
    if difference.low > 0:
        return HIGHER
    return SAME


def smallest_detectable_change(se: float, df: float = float("inf"), level: float = LEVEL,
                               power: float = POWER) -> float:
    """Smallest true difference found with probability ``power`` by a two-sided ``level`` test
    whose estimate has standard error ``se``: ``(t_{1-a/2} + t_{power}) * se``."""
    if not math.isfinite(se):
        return float("nan")
    df = df if math.isfinite(df) else float("inf")
    return (t_quantile(0.5 + level / 2.0, df) + t_quantile(power, df)) * se


@dataclass(frozen=True)
class Comparison:
    """``other`` against ``base`` on one dataset (and layer).

    Attributes:
        base / other: mean LID of each with its interval.
        difference: ``other - base`` (LID units) with its interval.
        relative: ``other / base - 1`` (fraction) with its interval.
        verdict: `LOWER`, `SAME`, `HIGHER` or `UNKNOWN`, from ``difference``.
        detectable: smallest absolute change this comparison would detect with 80 % power.
        detectable_relative: the same as a fraction of the base mean.
        method: ``paired`` (replicates), ``welch`` (independent replicates) or ``bootstrap``.
    """

    base: Interval
    other: Interval
    difference: Interval
    relative: Interval
    verdict: str
    detectable: float
    detectable_relative: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "method": self.method, "base": self.base.to_dict(),
                "other": self.other.to_dict(), "difference": self.difference.to_dict(),
                "relative_difference": self.relative.to_dict(), "smallest_detectable_change": self.detectable,
                "smallest_detectable_change_relative": self.detectable_relative, "power": POWER}

    def sentence(self) -> str:
        """One line for a terminal: ``-3.1 % (95 % CI -4.6 to -1.5 %): lower than base``."""
        if not self.relative.known:
            return f"{100 * self.relative.estimate:+.1f} %: {self.verdict}"
        return (f"{100 * self.relative.estimate:+.1f} % (95 % CI {100 * self.relative.low:+.1f} to "
                f"{100 * self.relative.high:+.1f} %): {self.verdict}; smallest detectable change "
                f"{100 * self.detectable_relative:.1f} %")


def _finish(base: Interval, other: Interval, diff: Interval, rel: Interval, method: str) -> Comparison:
    det = smallest_detectable_change(diff.se, diff.df, diff.level)
    return Comparison(base, other, diff, rel, verdict(diff), det, det / abs(base.estimate), method)


def compare_replicates(base: Any, other: Any, *, paired: bool = True, level: float = LEVEL) -> Comparison:
    """Compare R replicate means of two measurements; ``paired`` when replicate r of both used the
    same sequences and tokens (then the per-replicate differences are averaged), else Welch."""
    a, b = np.asarray(base, dtype=np.float64), np.asarray(other, dtype=np.float64)
    diff, rel = paired_difference(a, b, level) if paired else welch_difference(a, b, level)
    return _finish(t_interval(a, level), t_interval(b, level), diff, rel, "paired" if paired else "welch")


def compare_bootstrap(
    base_values: Any, base_clusters: Any, other_values: Any, other_clusters: Any, *,
    n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL, factor: float = 1.0,
) -> Comparison:
    """Compare one measurement of each (R = 1) by the paired cluster bootstrap over sequences.

    ``factor`` widens every interval about its estimate (a calibration correction; 1 = none).
    """
    from lidscope.stats.bootstrap import scaled

    ivs = paired_cluster_bootstrap(base_values, base_clusters, other_values, other_clusters,
                                   n_boot=n_boot, seed=seed, level=level)
    a, b, d, r = (scaled(iv, factor) for iv in ivs)
    return _finish(a, b, d, r, "bootstrap")
