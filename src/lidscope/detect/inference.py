"""Set-level and text-level inference on per-text scores (higher = more member-like).

Texts are the unit of resampling: a text's tokens are not independent, so every interval is a
bootstrap over texts (a cluster bootstrap when a text's score averages its tokens), and every test
permutes texts.

- `difference`: mean(candidate) - mean(reference) with a bootstrap interval (texts resampled within
  each set) and a one-sided permutation p-value for "candidate scores higher".
- `auc`: ROC AUC of candidate vs reference texts (Mann-Whitney) with a bootstrap interval, and the
  TPR at a fixed FPR.
- `detection_curve`: for set sizes n, the probability that a test on n candidate and n reference texts
  (drawn without replacement) says "member" (Welch t, one-sided, level ``alpha``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lidscope.stats.intervals import t_sf

#: Level of every interval (two-sided) and of the one-sided membership tests.
CONFIDENCE = 0.95
ALPHA = 0.05
N_BOOTSTRAP = 2000
N_PERMUTATIONS = 2000
#: Fewest texts per set for an interval or a test.
MIN_TEXTS = 10


def _clean(x: Any) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x[np.isfinite(x)]


def _pct(boot: np.ndarray, confidence: float) -> tuple[float, float]:
    a = (1 - confidence) / 2
    return float(np.quantile(boot, a)), float(np.quantile(boot, 1 - a))


def _boot_means(x: np.ndarray, n_boot: int, rng: np.random.Generator, chunk: int = 256) -> np.ndarray:
    out = np.empty(n_boot)
    for s in range(0, n_boot, chunk):
        m = min(chunk, n_boot - s)
        out[s:s + m] = x[rng.integers(0, x.size, size=(m, x.size))].mean(axis=1)
    return out


def difference(cand: Any, ref: Any, *, confidence: float = CONFIDENCE, n_boot: int = N_BOOTSTRAP,
               n_perm: int = N_PERMUTATIONS, seed: int = 0) -> dict[str, Any]:
    """mean(cand) - mean(ref): bootstrap interval and one-sided permutation p-value (cand higher)."""
    a, b = _clean(cand), _clean(ref)
    rng = np.random.default_rng(seed)
    d = float(a.mean() - b.mean())
    boot = _boot_means(a, n_boot, rng) - _boot_means(b, n_boot, rng)
    lo, hi = _pct(boot, confidence)
    pooled = np.concatenate([a, b])
    hits = 0
    for s in range(0, n_perm, 256):
        m = min(256, n_perm - s)
        perm = np.argsort(rng.random((m, pooled.size)), axis=1)
        x = pooled[perm]
        hits += int(np.count_nonzero(x[:, : a.size].mean(1) - x[:, a.size:].mean(1) >= d - 1e-12))
    return {"estimate": d, "low": lo, "high": hi, "p_value": (hits + 1) / (n_perm + 1),
            "n_candidate": int(a.size), "n_reference": int(b.size)}


def roc_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(score of a random positive > a random negative) + 0.5 P(tie) (Mann-Whitney U / (n1 n0))."""
    from scipy.stats import rankdata

    r = rankdata(np.concatenate([pos, neg]))
    return float((r[: pos.size].sum() - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size))


def tpr_at_fpr(pos: np.ndarray, neg: np.ndarray, fpr: float = 0.05) -> float:
    """Share of positives above the threshold that lets at most ``fpr`` of negatives through."""
    neg = np.sort(neg)
    k = int(np.floor(fpr * neg.size))  # negatives allowed above the threshold
    thr = neg[neg.size - k - 1] if k < neg.size else -np.inf
    return float(np.mean(pos > thr))


def roc_curve(pos: Any, neg: Any) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) arrays of the ROC curve, thresholds from high to low."""
    pos, neg = _clean(pos), _clean(neg)
    s = np.concatenate([pos, neg])
    y = np.concatenate([np.ones(pos.size), np.zeros(neg.size)])
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    tp, fp = np.cumsum(y)[last], np.cumsum(1 - y)[last]
    return np.r_[0.0, fp / neg.size], np.r_[0.0, tp / pos.size]


def auc(cand: Any, ref: Any, *, confidence: float = CONFIDENCE, n_boot: int = N_BOOTSTRAP, fpr: float = 0.05,
        seed: int = 0) -> dict[str, Any]:
    """Text-level ROC AUC (candidate = positive) with a bootstrap interval, and TPR at ``fpr``."""
    a, b = _clean(cand), _clean(ref)
    rng = np.random.default_rng(seed)
    boot = np.empty(min(n_boot, 1000))
    for i in range(boot.size):
        boot[i] = roc_auc(a[rng.integers(0, a.size, a.size)], b[rng.integers(0, b.size, b.size)])
    lo, hi = _pct(boot, confidence)
    return {"auc": roc_auc(a, b), "low": lo, "high": hi, f"tpr_at_{fpr:g}_fpr": tpr_at_fpr(a, b, fpr),
            "n_candidate": int(a.size), "n_reference": int(b.size)}


def welch_greater(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One-sided Welch t-test p-values, row by row: ``a`` ``(r, n)`` higher than ``b`` ``(r, m)``."""
    va, vb = a.var(axis=1, ddof=1) / a.shape[1], b.var(axis=1, ddof=1) / b.shape[1]
    se = np.sqrt(va + vb)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = (a.mean(1) - b.mean(1)) / se
        dof = (va + vb) ** 2 / (va ** 2 / (a.shape[1] - 1) + vb ** 2 / (b.shape[1] - 1))
    p = t_sf(stat, np.where(np.isfinite(dof), dof, 1.0))
    return np.where(np.isfinite(stat), p, 1.0)


def detection_curve(cand: Any, ref: Any, sizes: tuple[int, ...] = (10, 30, 100, 300), *, alpha: float = ALPHA,
                    n_resamples: int = 1000, seed: int = 0) -> list[dict[str, Any]]:
    """P("member" verdict) for n candidate and n reference texts, each n drawn without replacement.

    For a member set this is the power; for a clean set it is the false-positive rate. Sizes larger
    than either pool are reported as not measurable (never resampled with replacement).
    """
    a, b = _clean(cand), _clean(ref)
    rng = np.random.default_rng(seed)
    out = []
    for n in sizes:
        if n < 2 or n > a.size or n > b.size:
            out.append({"n": int(n), "p_member_verdict": None,
                        "note": f"needs {n} texts per set; have {a.size} candidate and {b.size} reference"})
            continue
        ia = np.argsort(rng.random((n_resamples, a.size)), axis=1)[:, :n]
        ib = np.argsort(rng.random((n_resamples, b.size)), axis=1)[:, :n]
        p = welch_greater(a[ia], b[ib])
        out.append({"n": int(n), "p_member_verdict": float(np.mean(p < alpha)), "n_resamples": int(n_resamples)})
    return out
