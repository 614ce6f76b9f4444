"""Exact float32 k-nearest-neighbour candidates by a symmetric blocked GEMM search.

Every pair distance is computed once: a block of inner products ``G = X[a] @ X[b].T`` between row
blocks a <= b feeds both sides, row i of G to point ``a0 + i`` and column j to point ``b0 + j``.
That halves the GEMM work of a query-by-query search (N^2 d instead of 2 N^2 d flops).

Each point keeps a reservoir of candidates (``cap`` slots, of which the best ``c`` survive each
compaction): a candidate enters when its squared distance is below the point's threshold (the c-th
best after the last compaction) and a full reservoir is cut back to its c best by a quickselect.
That costs O(1) per accepted candidate, where a heap would pay log c mispredicted branches.
Squared distances are formed as ``sq[a] + sq[b] - 2 G[a, b]`` in float32, as a GEMM search does;
the caller re-ranks the candidates in float64.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from numba import njit, prange

# No "ninf": empty reservoirs have +inf thresholds that must compare as such.
_FASTMATH = {"nsz", "reassoc", "contract", "arcp", "nnan"}
_TWO = np.float32(2.0)
_SLACK = np.float32(8 * np.finfo(np.float32).eps)
#: Columns tested together before the per-candidate logic; a multiple of the SIMD width.
_CHUNK = 64
#: Sub-chunks of a chunk that passed the test, tested again before the scalar loop.
_SUB = 16


@njit(cache=True, fastmath=_FASTMATH)
def _select(vals: np.ndarray, kth: int) -> float:
    """The kth smallest (0-based) of ``vals``, which it reorders (Hoare quickselect)."""
    lo, hi = 0, vals.shape[0] - 1
    while lo < hi:
        pivot = vals[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while vals[i] < pivot:
                i += 1
            while vals[j] > pivot:
                j -= 1
            if i <= j:
                vals[i], vals[j] = vals[j], vals[i]
                i += 1
                j -= 1
        if kth <= j:
            hi = j
        elif kth >= i:
            lo = i
        else:
            break
    return vals[kth]


@njit(cache=True)
def _compact(rd, ri, cnt, thr, row, c, scratch):
    """Cuts reservoir ``row`` back to its c best candidates and sets its threshold to the c-th."""
    m = cnt[row]
    for t in range(m):
        scratch[t] = rd[row, t]
    v = _select(scratch[:m], c - 1)
    below = 0
    for t in range(m):
        below += rd[row, t] < v
    ties = c - below
    kept = 0
    for t in range(m):
        d = rd[row, t]
        if d < v or (d == v and ties > 0):
            if d == v:
                ties -= 1
            rd[row, kept] = d
            ri[row, kept] = ri[row, t]
            kept += 1
    cnt[row] = kept
    thr[row] = v


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def _chunk_min(u: np.ndarray, g: np.ndarray, s: int, w: int) -> float:
    """min over j < w of u[s + j] - 2 g[s + j]; a fixed trip count of _CHUNK vectorises."""
    best = np.float32(np.inf)
    if w == _CHUNK:
        for j in range(_CHUNK):
            best = min(best, u[s + j] - _TWO * g[s + j])
    elif w == _SUB:
        for j in range(_SUB):
            best = min(best, u[s + j] - _TWO * g[s + j])
    else:
        for j in range(w):
            best = min(best, u[s + j] - _TWO * g[s + j])
    return best


@njit(cache=True, fastmath=_FASTMATH)
def _first_threshold(g, sqb, sa, c, skip, scratch):
    """An upper bound on the c-th smallest of sa + sqb[j] - 2 g[j] over j != skip.

    The c-th smallest of the minima of groups of w consecutive entries bounds it (those c minima
    are c distinct entries) and needs a selection over p / w values instead of p: about 2c
    candidates then pass it, where no threshold would let all p through.
    """
    p = g.shape[0]
    w = min(16, max(1, (p - 1) // (2 * c)))
    n_groups = 0
    for s in range(0, p - w + 1, w):
        if s <= skip < s + w:
            best = np.float32(np.inf)
            for j in range(s, s + w):
                if j != skip:
                    best = min(best, sqb[j] - _TWO * g[j])
        else:
            best = _chunk_min(sqb, g, s, w)
        scratch[n_groups] = best
        n_groups += 1
    if n_groups <= c:  # too few groups (tiny blocks): no bound, let everything in
        return np.float32(np.inf)
    v = _select(scratch[:n_groups], c - 1)
    # a few float32 ulps of the operands' size: the candidates' own sums may round differently
    return sa + v + _SLACK * (abs(sa) + abs(v))


@njit(cache=True, inline="always")
def _offer(rd, ri, cnt, thr, row, d, idx, c, scratch):
    t = cnt[row]
    rd[row, t] = d
    ri[row, t] = idx
    cnt[row] = t + 1
    if t + 1 == rd.shape[1]:
        _compact(rd, ri, cnt, thr, row, c, scratch)


@njit(cache=True, parallel=True, fastmath=_FASTMATH)
def offer_rows(G, sq, a0, b0, rd, ri, cnt, thr, c, diagonal):
    """Offers row i of block G to point a0 + i (candidates b0 + j); skips j == i if ``diagonal``."""
    m, p = G.shape
    sqb = sq[b0 : b0 + p]
    for i in prange(m):
        a = a0 + i
        sa = sq[a]
        scratch = np.empty(max(p, rd.shape[1]), dtype=rd.dtype)
        g = G[i]
        if cnt[a] == 0 and p > c:
            thr[a] = _first_threshold(g, sqb, sa, c, i if diagonal else -1, scratch)
        for s in range(0, p, _CHUNK):
            e = min(p, s + _CHUNK)
            if _chunk_min(sqb, g, s, e - s) >= thr[a] - sa:
                continue
            for u in range(s, e, _SUB):
                v = min(e, u + _SUB)
                if _chunk_min(sqb, g, u, v - u) >= thr[a] - sa:
                    continue
                for j in range(u, v):
                    d = sa + sqb[j] - _TWO * g[j]
                    if d < thr[a] and not (diagonal and j == i):
                        _offer(rd, ri, cnt, thr, a, d, b0 + j, c, scratch)


@njit(cache=True, parallel=True, fastmath=_FASTMATH)
def offer_columns(G, sq, a0, b0, rd, ri, cnt, thr, c):
    """Offers column j of block G to point b0 + j (candidates a0 + i); off-diagonal blocks only.

    Threads own disjoint tiles of columns, so no two threads touch the same reservoir.
    """
    m, p = G.shape
    n_tiles = (p + _CHUNK - 1) // _CHUNK
    for t in prange(n_tiles):
        s = t * _CHUNK
        w = min(p, s + _CHUNK) - s
        lim = np.empty(w, dtype=G.dtype)  # sq[b] - thr[b]: the test is lim - 2 G < -sq[a]
        for j in range(w):
            lim[j] = sq[b0 + s + j] - thr[b0 + s + j]
        scratch = np.empty(rd.shape[1], dtype=rd.dtype)
        for i in range(m):
            g = G[i, s : s + w]
            if _chunk_min(lim, g, 0, w) >= -sq[a0 + i]:
                continue
            for u in range(0, w, _SUB):
                v = min(w, u + _SUB)
                if _chunk_min(lim, g, u, v - u) >= -sq[a0 + i]:
                    continue
                for j in range(u, v):
                    b = b0 + s + j
                    d = sq[a0 + i] + sq[b] - _TWO * g[j]
                    if d < thr[b]:
                        _offer(rd, ri, cnt, thr, b, d, a0 + i, c, scratch)
                        lim[j] = sq[b] - thr[b]


@njit(cache=True, parallel=True)
def finish(rd, ri, cnt, thr, c):
    """Compacts every reservoir to exactly its c best candidates."""
    for row in prange(rd.shape[0]):
        if cnt[row] > c:
            _compact(rd, ri, cnt, thr, row, c, np.empty(rd.shape[1], dtype=rd.dtype))
        elif cnt[row] == c:
            v = rd[row, 0]
            for t in range(c):
                v = max(v, rd[row, t])
            thr[row] = v


def symmetric_topk(
    X32: np.ndarray,
    c: int,
    block: int = 2048,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``c`` nearest other points of every row of ``X32`` (n, d) float32, n > c.

    Returns float32 squared distances (n, c) and int64 indices (n, c), each row unsorted, and
    each row's float32 search horizon (its c-th smallest squared distance) as a third (n,) array.
    Diagonal blocks go first so thresholds are tight before the off-diagonal blocks stream by.
    """
    n = X32.shape[0]
    if not 1 <= c < n:
        raise ValueError(f"c must be in [1, n - 1], got {c} for n = {n}")
    cap = 2 * c
    sq = np.einsum("ij,ij->i", X32, X32)
    rd = np.empty((n, cap), dtype=np.float32)
    ri = np.empty((n, cap), dtype=np.int32 if n < 2**31 else np.int64)
    cnt = np.zeros(n, dtype=np.int64)
    thr = np.full(n, np.inf, dtype=np.float32)
    buf = np.empty(block * block, dtype=np.float32)
    starts = list(range(0, n, block))
    pairs = [(a, a) for a in starts] + [(a, b) for a in starts for b in starts if b > a]
    for done, (a0, b0) in enumerate(pairs, 1):
        A, B = X32[a0 : a0 + block], X32[b0 : b0 + block]
        G = np.matmul(A, B.T, out=buf[: len(A) * len(B)].reshape(len(A), len(B)))
        offer_rows(G, sq, a0, b0, rd, ri, cnt, thr, c, a0 == b0)
        if a0 != b0:
            offer_columns(G, sq, a0, b0, rd, ri, cnt, thr, c)
        if progress:
            progress(done, len(pairs))
    finish(rd, ri, cnt, thr, c)
    return rd[:, :c].copy(), ri[:, :c].astype(np.int64), thr
