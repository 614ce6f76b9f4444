"""Intervals from replicates: the mean of R independent measurements, and differences of two.

NumPy and SciPy; knows nothing of models. A replicate is one complete measurement (its own sequence
sample and token sample); the R replicate means are independent draws, so the t-interval with
R - 1 degrees of freedom is exact for normal replicate means and close to it otherwise (the mean
of thousands of pointwise estimates is close to normal).
"""

from __future__ import annotations

import math
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import t as student_t

#: Confidence level of every interval lidscope reports.
LEVEL = 0.95


@lru_cache(maxsize=4096)
def t_quantile(p: float, df: float) -> float:
    """Quantile ``p`` (0 < p < 1) of Student's t with ``df`` degrees of freedom (``inf``: normal).

    The one Student-t of the package: `scipy.stats.t` (exact to double precision), checked here.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1); got {p!r}.")
    if df <= 0 or math.isnan(df):
        raise ValueError(f"df must be positive; got {df!r}.")
    return float(student_t.ppf(p, df))


def t_critical(df: Any, level: float = LEVEL) -> np.ndarray:
    """Two-sided ``level`` critical values of Student's t, one per entry of ``df`` (``nan`` where df < 1)."""
    df = np.asarray(df, dtype=np.float64)
    q = np.full(df.shape, np.nan)
    ok = df >= 1
    q[ok] = student_t.ppf(0.5 + level / 2.0, df[ok])
    return q


def t_sf(x: Any, df: Any) -> np.ndarray:
    """Upper tail ``P(T > x)`` of Student's t with ``df`` degrees of freedom, elementwise (one-sided p-values)."""
    return student_t.sf(x, df)


@dataclass(frozen=True)
class Interval:
    """An estimate with its standard error and a two-sided interval.

    Attributes:
        estimate: the point estimate (mean of replicates, or of the measured points).
        se: its standard error (``nan`` when it cannot be estimated, e.g. R = 1).
        low / high: bounds of the ``level`` interval (``nan`` when unknown).
        level: confidence level (0.95).
        method: ``replicates`` (t over R), ``welch`` (two independent sets), ``paired`` (t over
            per-replicate differences), ``bootstrap`` (cluster bootstrap over sequences).
        n: replicates R, or clusters (sequences) for the bootstrap.
        df: degrees of freedom of the t quantile (``inf`` for the bootstrap).
        values: per-replicate values behind the estimate (empty for the bootstrap).
    """

    estimate: float
    se: float
    low: float
    high: float
    level: float = LEVEL
    method: str = "replicates"
    n: int = 1
    df: float = float("nan")
    values: tuple[float, ...] = field(default_factory=tuple)

    @property
    def known(self) -> bool:
        """True if the interval has finite bounds."""
        return math.isfinite(self.low) and math.isfinite(self.high)

    @property
    def half_width(self) -> float:
        return 0.5 * (self.high - self.low)

    def contains(self, value: float) -> bool:
        return self.known and self.low <= value <= self.high

    def to_dict(self) -> dict[str, Any]:
        d = {"estimate": self.estimate, "se": self.se, "low": self.low, "high": self.high,
             "level": self.level, "method": self.method, "n": self.n, "df": self.df}
        if self.values:
            d["values"] = list(self.values)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Interval:
        def f(v: Any) -> float:  # null in strict JSON files: not defined
            return float("nan") if v is None else float(v)

        return cls(f(d["estimate"]), f(d["se"]), f(d["low"]), f(d["high"]),
                   f(d.get("level", LEVEL)), str(d.get("method", "replicates")), int(d.get("n", 1)),
                   f(d.get("df")), tuple(f(v) for v in d.get("values", ())))

    def format(self, digits: int = 3, percent: bool = False) -> str:
        """``8.912 ± 0.041 (95 % CI 8.83 to 8.99)``; with ``percent`` the values are fractions."""
        k = 100.0 if percent else 1.0
        unit = " %" if percent else ""
        if not self.known:
            return f"{k * self.estimate:.{digits}f}{unit} (no interval: {self.n} replicate)"
        return (f"{k * self.estimate:+.{digits}f}{unit} (95 % CI {k * self.low:+.{digits}f} to "
                f"{k * self.high:+.{digits}f})" if percent else
                f"{self.estimate:.{digits}f} ± {self.se:.{digits}f} (95 % CI {self.low:.{digits}f} to "
                f"{self.high:.{digits}f})")


def _values(x: Any, what: str) -> np.ndarray:
    v = np.asarray(x, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError(f"{what}: no values.")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{what}: values must be finite; got {v.tolist()}.")
    return v


def t_interval(values: Any, level: float = LEVEL, method: str = "replicates") -> Interval:
    """Mean of independent values with a t-interval (R - 1 degrees of freedom).

    With one value the estimate is returned with ``se`` and bounds ``nan``.
    """
    v = _values(values, "t_interval")
    m = float(v.mean())
    r = v.size
    if r < 2:
        nan = float("nan")
        return Interval(m, nan, nan, nan, level, method, 1, nan, tuple(v.tolist()))
    se = float(v.std(ddof=1) / math.sqrt(r))
    q = t_quantile(0.5 + level / 2.0, r - 1)
    return Interval(m, se, m - q * se, m + q * se, level, method, r, float(r - 1), tuple(v.tolist()))


def replicate_interval(values: Any, level: float = LEVEL) -> Interval:
    """Mean over R replicate means, its standard error and ``level`` t-interval."""
    return t_interval(values, level, "replicates")


def paired_difference(base: Any, other: Any, level: float = LEVEL) -> tuple[Interval, Interval]:
    """``other - base`` from paired replicates (replicate r of both used the same samples).

    Returns ``(difference, relative difference)``; the relative one is the t-interval of the
    per-replicate ratios ``(other_r - base_r) / base_r`` (a fraction: -0.03 is -3 %).
    """
    a = _values(base, "paired_difference base")
    b = _values(other, "paired_difference other")
    if a.shape != b.shape:
        raise ValueError(f"paired replicates must match one to one; got {a.size} and {b.size}.")
    return t_interval(b - a, level, "paired"), t_interval((b - a) / a, level, "paired")


def welch_difference(base: Any, other: Any, level: float = LEVEL) -> tuple[Interval, Interval]:
    """``other - base`` from two independent sets of replicates (Welch's t-interval).

    The relative difference divides by the base mean (its own noise is carried by the delta
    method). Use `paired_difference` when replicate r of both shared their samples.
    """
    a = _values(base, "welch_difference base")
    b = _values(other, "welch_difference other")
    nan = float("nan")
    d = float(b.mean() - a.mean())
    ma = float(a.mean())
    if a.size < 2 or b.size < 2:
        return (Interval(d, nan, nan, nan, level, "welch", min(a.size, b.size)),
                Interval(d / ma, nan, nan, nan, level, "welch", min(a.size, b.size)))
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1)) if va + vb > 0 else float(a.size + b.size - 2)
    q = t_quantile(0.5 + level / 2.0, df)
    diff = Interval(d, se, d - q * se, d + q * se, level, "welch", min(a.size, b.size), float(df))
    mb = float(b.mean())
    rel = mb / ma - 1.0
    # delta method for mb / ma with independent a and b
    se_rel = math.sqrt(vb / ma**2 + va * mb**2 / ma**4)
    rel_iv = Interval(rel, se_rel, rel - q * se_rel, rel + q * se_rel, level, "welch", diff.n, float(df))
    return diff, rel_iv
