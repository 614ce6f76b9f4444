"""Compiled (numba) loops of the CPU path: per-neighbourhood TwoNN and MLE.

Pure numerics on arrays; nothing here knows about models. Every kernel is parallel over query
points and allocates O(n_queries * n_candidates) memory at most.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..neighbors import sqdist  # the search kernels' float64 distance (and numba's threading layer)


@njit(cache=True, error_model="numpy")
def _fit_ratios(mu: np.ndarray, count: int, discard_fraction: float, mle: bool, offset: int) -> float:
    """TwoNN from ratios mu[:count] (unsorted, may hold non-finite values that are dropped).

    Linear: slope through the origin of -log(1 - F_i) on log(mu_(i)), i = 1..int(N(1 - f)), with
    F_i = (i - offset) / N (offset 0: skdim >= 0.5; offset 1: skdim 0.3.4).
    MLE: (k - 1) / (sum_{i<=k} log mu_(i) + (N - k) log mu_(k)), Type-II censored Pareto.
    """
    vals = np.empty(count)
    n = 0
    for j in range(count):
        v = mu[j]
        if np.isfinite(v):
            vals[n] = v
            n += 1
    vals = np.sort(vals[:n])
    keep = int(n * (1.0 - discard_fraction))
    if keep < 2:
        return np.nan
    if mle:
        s = 0.0
        for i in range(keep):
            s += np.log(vals[i])
        s += (n - keep) * np.log(vals[keep - 1])
        return (keep - 1) / s
    sxy = 0.0
    sxx = 0.0
    for i in range(keep):
        x = np.log(vals[i])
        y = -np.log(1.0 - (i + 1 - offset) / n)
        sxy += x * y
        sxx += x * x
    return sxy / sxx


@njit(cache=True, error_model="numpy")
def fit_ratios(mu: np.ndarray, discard_fraction: float, mle: bool, offset: int) -> float:
    return _fit_ratios(mu, mu.shape[0], discard_fraction, mle, offset)


@njit(cache=True, parallel=True, error_model="numpy")
def local_twonn(
    X: np.ndarray,
    dist: np.ndarray,
    idx: np.ndarray,
    n_neighbors: int,
    discard_fraction: float,
    mle: bool,
    offset: int,
    chunk: int = 512,
):
    """TwoNN inside each point's neighbourhood, reusing the neighbour lists.

    dist, idx: (n, c) sorted neighbour lists of every point (self excluded, c >= n_neighbors).
    The neighbourhood of q is idx[q, :n_neighbors]. For each member p, the two nearest other
    members are the first two entries of p's own sorted list that are members; where p's list
    holds fewer than two, their distances are computed directly in float64.
    Returns estimates (n,) and the number of members that needed the direct computation.
    """
    n = idx.shape[0]
    L = n_neighbors
    est = np.empty(n)
    n_chunks = (n + chunk - 1) // chunk
    fallbacks = np.zeros(n_chunks, dtype=np.int64)
    for ch in prange(n_chunks):
        stamp = np.full(n, -1, dtype=np.int64)
        mu = np.empty(L)
        for q in range(ch * chunk, min(n, (ch + 1) * chunk)):
            for j in range(L):
                stamp[idx[q, j]] = q
            for j in range(L):
                p = idx[q, j]
                r1 = np.inf
                r2 = np.inf
                found = 0
                for t in range(idx.shape[1]):
                    m = idx[p, t]
                    if m >= 0 and stamp[m] == q:
                        if found == 0:
                            r1 = dist[p, t]
                        else:
                            r2 = dist[p, t]
                        found += 1
                        if found == 2:
                            break
                if found < 2:
                    fallbacks[ch] += 1
                    r1 = np.inf
                    r2 = np.inf
                    for t in range(L):
                        m = idx[q, t]
                        if m == p:
                            continue
                        d = np.sqrt(sqdist(X, p, m))
                        if d < r1:
                            r2 = r1
                            r1 = d
                        elif d < r2:
                            r2 = d
                mu[j] = r2 / r1 if r1 > 0.0 else np.inf
            est[q] = _fit_ratios(mu, L, discard_fraction, mle, offset)
    return est, fallbacks.sum()


@njit(cache=True, parallel=True, error_model="numpy")
def local_mle(dist: np.ndarray, n_neighbors: int, unbiased: bool):
    """Levina-Bickel MLE per point from its sorted neighbour distances dist[:, :k].

    m(x) = (k - 1) / sum_{j<=k} log(T_k / T_j)   ((k - 2) in the numerator when unbiased).
    """
    n = dist.shape[0]
    k = n_neighbors
    out = np.empty(n)
    num = (k - 2) if unbiased else (k - 1)
    for i in prange(n):
        tk = dist[i, k - 1]
        s = 0.0
        for j in range(k):
            s += np.log(tk / dist[i, j])
        out[i] = num / s if s > 0.0 else np.nan
    return out
