"""Cluster bootstrap over sequences of the mean of per-point estimates (one measurement, R = 1).

Tokens of one text are not independent (they share context, and often neighbours), so the unit
that is resampled is the sequence: B times, G sequences are drawn with replacement from the G
measured ones and the mean of all their points is recomputed (a ratio of sums, so sequences
with more points weigh more, as in the measured mean). When two models were measured on the
same sequences, the same draws are applied to both (paired), so the interval of their difference
carries only the noise that does not cancel.

What this interval holds fixed: the cloud. Each point's estimate depends on its neighbours, and
a new sample of sequences or tokens moves every estimate a little; the bootstrap does not redraw
that. Whether the interval is wide enough is measured against the replicate spread in
``docs/statistics.md``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lidscope.stats.intervals import LEVEL, Interval

#: Bootstrap draws per interval (the Monte Carlo error of a 95 % bound is then well under 1 % of
#: the interval's width at the sizes lidscope measures).
N_BOOT = 2000
_CHUNK = 256
#: Neither bootstrap is used for lidscope's reported intervals: against the replicate spread it was
#: measured 15x too narrow for a single mean and 7x for a paired shift (MiniLM, M = 200, N = 2,000;
#: docs/statistics.md), and a correction chosen on half the trials covered only 78 % on the other
#: half. The functions stay for exploration (what the sequences of one sample contribute).
BOOTSTRAP_PAIRED_FACTOR = 1.0


def _per_cluster(values: Any, clusters: Any, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(values, dtype=np.float64).ravel()
    c = np.asarray(clusters).ravel()
    if v.shape != c.shape:
        raise ValueError(f"values and clusters must have the same length; got {v.size} and {c.size}.")
    if not np.all(np.isfinite(v)):
        raise ValueError("bootstrap: per-point values must be finite.")
    pos = np.searchsorted(labels, c)
    sums = np.bincount(pos, weights=v, minlength=labels.size)
    counts = np.bincount(pos, minlength=labels.size).astype(np.float64)
    return sums, counts


def _draws(n_clusters: int, n_boot: int, seed: int):  # type: ignore[no-untyped-def]
    """Multinomial resampling weights, ``(chunk, G)`` blocks until ``n_boot`` rows were given."""
    rng = np.random.default_rng(seed)
    p = np.full(n_clusters, 1.0 / n_clusters)
    done = 0
    while done < n_boot:
        b = min(_CHUNK, n_boot - done)
        yield rng.multinomial(n_clusters, p, size=b).astype(np.float64)
        done += b


def _percentile_interval(estimate: float, draws: np.ndarray, level: float, n: int) -> Interval:
    lo, hi = np.quantile(draws, [0.5 - level / 2.0, 0.5 + level / 2.0])
    return Interval(float(estimate), float(draws.std(ddof=1)), float(lo), float(hi), level, "bootstrap", n,
                    float("inf"))


def _check(n_boot: int, level: float, n_clusters: int) -> None:
    if n_boot < 100:
        raise ValueError(f"n_boot must be >= 100 for a 95 % interval; got {n_boot}.")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1); got {level}.")
    if n_clusters < 2:
        raise ValueError(f"the bootstrap needs points from at least 2 sequences; got {n_clusters}.")


def cluster_bootstrap(
    values: Any, clusters: Any, *, n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL
) -> Interval:
    """Mean of ``values`` ``(n,)`` with a percentile interval from resampling ``clusters`` ``(n,)``.

    ``clusters`` holds a sequence id per point (any sortable labels). ``se`` is the standard
    deviation of the bootstrap means; ``n`` the number of clusters.
    """
    labels = np.unique(np.asarray(clusters).ravel())
    _check(n_boot, level, labels.size)
    s, c = _per_cluster(values, clusters, labels)
    est = float(s.sum() / c.sum())
    draws = np.concatenate([(w @ s) / (w @ c) for w in _draws(labels.size, n_boot, seed)])
    return _percentile_interval(est, draws, level, labels.size)


def paired_cluster_bootstrap(
    base_values: Any, base_clusters: Any, other_values: Any, other_clusters: Any, *,
    n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL,
) -> tuple[Interval, Interval, Interval, Interval]:
    """Base mean, other mean, ``other - base`` and ``other / base - 1``, resampling shared sequences.

    Both measurements must come from the same sequences (cluster labels refer to the same texts);
    a sequence with points in only one of them still carries its points there. Every draw picks
    the same sequences for both, so their shared noise cancels in the difference.
    """
    bc, oc = np.asarray(base_clusters).ravel(), np.asarray(other_clusters).ravel()
    labels = np.union1d(bc, oc)
    _check(n_boot, level, labels.size)
    sa, ca = _per_cluster(base_values, bc, labels)
    sb, cb = _per_cluster(other_values, oc, labels)
    ma, mb = float(sa.sum() / ca.sum()), float(sb.sum() / cb.sum())
    da, db = [], []
    for w in _draws(labels.size, n_boot, seed):
        with np.errstate(invalid="ignore", divide="ignore"):
            da.append((w @ sa) / (w @ ca))
            db.append((w @ sb) / (w @ cb))
    a, b = np.concatenate(da), np.concatenate(db)
    ok = np.isfinite(a) & np.isfinite(b)  # a draw may miss every sequence of one side (tiny G only)
    a, b = a[ok], b[ok]
    g = labels.size
    return (_percentile_interval(ma, a, level, g), _percentile_interval(mb, b, level, g),
            _percentile_interval(mb - ma, b - a, level, g), _percentile_interval(mb / ma - 1.0, b / a - 1.0, level, g))


def scaled(interval: Interval, factor: float) -> Interval:
    """``interval`` widened about its estimate by ``factor`` (a calibration correction)."""
    if not math.isfinite(factor) or factor <= 0:
        raise ValueError(f"factor must be a positive number; got {factor}.")
    e = interval.estimate
    return Interval(e, interval.se * factor, e - (e - interval.low) * factor, e + (interval.high - e) * factor,
                    interval.level, interval.method, interval.n, interval.df, interval.values)
