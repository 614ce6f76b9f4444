"""Exact float32 k-nearest-neighbour candidates by a symmetric blocked GEMM search.

Every pair distance is computed once: a block of inner products ``G = X[a] @ X[b].T`` between row
blocks a <= b feeds both sides, row i of G to point ``a0 + i`` and column j to point ``b0 + j``.
That halves the GEMM work of a query-by-query search (N^2 d instead of 2 N^2 d flops).

Each point keeps a reservoir of candidates (``cap`` slots, of which the best ``c`` survive each
compaction): a candidate enters when its squared distance is below the point's threshold (the c-th
best after the last compaction) and a full reservoir is cut back to its c best by a quickselect.
That costs O(1) per accepted candidate, without branches, where a heap would pay log c mispredicted
branches. Chunks of columns are first tested with a vectorised minimum, so in the late blocks,
where few candidates beat the thresholds, the scan runs at SIMD speed.
Squared distances are formed as ``sq[a] + sq[b] - 2 G[a, b]`` in float32, as a GEMM search does;
`rerank` then orders the candidates by exact float64 distances, ties by a key of the rows' content
(`row_keys`), so the lists do not depend on the order of the rows.
"""

from __future__ import annotations

import os
from typing import Callable

import numba
import numpy as np
from numba import njit, prange

from .errors import LIDInputError

# numba's OpenMP layer shares libgomp with torch and resets torch's thread count on first use;
# the simple work-queue layer leaves the caller's torch settings alone (and is as fast for these
# coarse parallel loops). A user's NUMBA_THREADING_LAYER still wins.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"

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


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def _chunk_hits(u: np.ndarray, g: np.ndarray, s: int, w: int, bound) -> int:
    """How many j < w have u[s + j] - 2 g[s + j] < bound: the chunk test. A count (an integer
    sum of comparisons) vectorises where a float minimum does not (LLVM leaves numba's min scalar)."""
    hits = np.int32(0)
    if w == _CHUNK:
        for j in range(_CHUNK):
            hits += np.int32(u[s + j] - _TWO * g[s + j] < bound)
    elif w == _SUB:
        for j in range(_SUB):
            hits += np.int32(u[s + j] - _TWO * g[s + j] < bound)
    else:
        for j in range(w):
            hits += np.int32(u[s + j] - _TWO * g[s + j] < bound)
    return hits


@njit(cache=True, fastmath=_FASTMATH)
def _first_threshold(g, sqb, sa, rank, skip, scratch):
    """An upper bound on the rank-th smallest (1-based) of sa + sqb[j] - 2 g[j] over j != skip.

    The rank-th smallest of the minima of groups of w consecutive entries bounds it (those minima
    are distinct entries) and needs a selection over p / w values instead of p.
    """
    p = g.shape[0]
    w = min(16, max(1, (p - 1) // (2 * rank)))
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
    if n_groups <= rank:  # too few groups (tiny blocks): no bound, let everything in
        return np.float32(np.inf)
    v = _select(scratch[:n_groups], rank - 1)
    # a few float32 ulps of the operands' size: the candidates' own sums may round differently
    return sa + v + _SLACK * (abs(sa) + abs(v))


@njit(cache=True, inline="always")
def _offer(rd, ri, cnt, thr, row, d, idx, take, c, scratch) -> bool:
    """Writes (d, idx) into the next free slot of reservoir ``row`` and keeps it if ``take``.

    Branch-free on ``take`` (hits are too frequent in early blocks for a predictable branch);
    returns True when a full reservoir was compacted, i.e. its threshold changed.
    """
    t = cnt[row]
    rd[row, t] = d
    ri[row, t] = idx
    cnt[row] = t + take
    if t + take == rd.shape[1]:
        _compact(rd, ri, cnt, thr, row, c, scratch)
        return True
    return False


@njit(cache=True, parallel=True, fastmath=_FASTMATH)
def offer_rows(G, sq, a0, b0, rd, ri, cnt, thr, c, diagonal, seed_rank):
    """Offers row i of block G to point a0 + i (candidates b0 + j); skips j == i if ``diagonal``.

    A point's first block sets its threshold to (a bound on) its ``seed_rank``-th best candidate
    there: with seed_rank = c that bounds its c-th nearest neighbour; smaller values are a guess
    at the c-th over the whole cloud, which `symmetric_topk` checks.
    """
    m, p = G.shape
    cap = rd.shape[1]
    sqb = sq[b0 : b0 + p]
    for i in prange(m):
        a = a0 + i
        sa = sq[a]
        scratch = np.empty(max(p, rd.shape[1]), dtype=rd.dtype)
        g = G[i]
        if cnt[a] == 0 and p > c:
            thr[a] = _first_threshold(g, sqb, sa, seed_rank, i if diagonal else -1, scratch)
        for s in range(0, p, _CHUNK):
            e = min(p, s + _CHUNK)
            if _chunk_hits(sqb, g, s, e - s, thr[a] - sa) == 0:
                continue
            for u in range(s, e, _SUB):
                v = min(e, u + _SUB)
                if _chunk_hits(sqb, g, u, v - u, thr[a] - sa) == 0:
                    continue
                t = cnt[a]
                lim = thr[a]
                for j in range(u, v):
                    d = sa + sqb[j] - _TWO * g[j]
                    rd[a, t] = d
                    ri[a, t] = b0 + j
                    t += np.int64(d < lim) & np.int64(not (diagonal and j == i))
                    if t == cap:
                        cnt[a] = t
                        _compact(rd, ri, cnt, thr, a, c, scratch)
                        t = cnt[a]
                        lim = thr[a]
                cnt[a] = t


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
            if _chunk_hits(lim, g, 0, w, -sq[a0 + i]) == 0:
                continue
            for u in range(0, w, _SUB):
                v = min(w, u + _SUB)
                if _chunk_hits(lim, g, u, v - u, -sq[a0 + i]) == 0:
                    continue
                for j in range(u, v):
                    b = b0 + s + j
                    d = sq[a0 + i] + sq[b] - _TWO * g[j]
                    if _offer(rd, ri, cnt, thr, b, d, a0 + i, np.int64(d < thr[b]), c, scratch):
                        lim[j] = sq[b] - thr[b]


@njit(cache=True, parallel=True)
def finish(rd, ri, cnt, thr, c):
    """Compacts every reservoir to its c best candidates and sets ``thr`` to its horizon.

    A reservoir left with fewer than c candidates (its first threshold was a guess that proved
    too tight) gets horizon -inf and its empty slots inf / -1.
    """
    for row in prange(rd.shape[0]):
        if cnt[row] > c:
            _compact(rd, ri, cnt, thr, row, c, np.empty(rd.shape[1], dtype=rd.dtype))
        elif cnt[row] == c:
            v = rd[row, 0]
            for t in range(c):
                v = max(v, rd[row, t])
            thr[row] = v
        else:
            for t in range(cnt[row], c):
                rd[row, t] = np.inf
                ri[row, t] = -1
            thr[row] = -np.inf


def symmetric_topk(
    X32: np.ndarray,
    c: int,
    block: int = 4096,
    progress: Callable[[int, int], None] | None = None,
    oversample: float = 2.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``c`` nearest other points of every row of ``X32`` (n, d) float32, n > c.

    Returns float32 squared distances (n, c) and int64 indices (n, c), each row unsorted, and
    each row's float32 search horizon (n,): its c-th smallest squared distance, or -inf for a
    row whose list is incomplete (-1 indices), which the caller must search again.

    Diagonal blocks go first and set each point's threshold from its own block. Rows should come
    in random order (for speed only): then a block is a random sample of the cloud, and the
    ``oversample * c * block / n``-th best in it is a tight guess at the c-th over the whole
    cloud that lets about ``oversample * c`` candidates through in all, instead of
    c (1 + ln(n / block)) with a safe bound. The guess is too tight for a row only when its
    block held unusually close points (a fraction of a per cent of rows at the default 2).
    """
    n = X32.shape[0]
    if not 1 <= c < n:
        raise ValueError(f"c must be in [1, n - 1], got {c} for n = {n}")
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    cap = 2 * c
    if X32.dtype != np.float32:
        raise ValueError(f"X32 must be float32, got {X32.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        sq = np.einsum("ij,ij->i", X32, X32)
    # every distance sq[a] + sq[b] - 2 G[a, b] <= 2 (sq[a] + sq[b]) must be finite: the kernels'
    # reservoirs and quickselect assume ordered (non-NaN) values
    if not (np.isfinite(sq).all() and float(sq.max()) <= float(np.finfo(np.float32).max) / 8):
        raise LIDInputError(
            "The float32 cloud's squared norms overflow (or hold NaN): the search needs a finite cloud "
            "rescaled into float32's range (lidscope.scaling.rescaled; lidscope.kneighbors does it)."
        )
    rd = np.empty((n, cap), dtype=np.float32)
    ri = np.empty((n, cap), dtype=np.int32 if n < 2**31 else np.int64)
    cnt = np.zeros(n, dtype=np.int64)
    thr = np.full(n, np.inf, dtype=np.float32)
    block = min(block, n)
    buf = np.empty(block * block, dtype=np.float32)
    starts = list(range(0, n, block))
    pairs = [(a, a) for a in starts] + [(a, b) for a in starts for b in starts if b > a]
    for done, (a0, b0) in enumerate(pairs, 1):
        A, B = X32[a0 : a0 + block], X32[b0 : b0 + block]
        G = np.matmul(A, B.T, out=buf[: len(A) * len(B)].reshape(len(A), len(B)))
        seed_rank = int(min(c, max(1, np.ceil(oversample * c * (len(B) - 1) / (n - 1)))))
        offer_rows(G, sq, a0, b0, rd, ri, cnt, thr, c, a0 == b0, seed_rank)
        if a0 != b0:
            offer_columns(G, sq, a0, b0, rd, ri, cnt, thr, c)
        if progress:
            progress(done, len(pairs))
    finish(rd, ri, cnt, thr, c)
    return rd[:, :c].copy(), ri[:, :c].astype(np.int64), thr


def _check_ids(ids: np.ndarray, n: int, what: str, lowest: int) -> None:
    """Raises LIDInputError unless every entry of ``ids`` lies in [lowest, n): the compiled loops
    index with them unchecked."""
    if ids.size and (int(ids.min()) < lowest or int(ids.max()) >= n):
        raise LIDInputError(
            f"{what} must be row numbers in [{lowest}, {n - 1}]; found values from {int(ids.min())} to "
            f"{int(ids.max())}."
        )


def graph_order(cand: np.ndarray) -> np.ndarray:
    """A breadth-first order of the candidate graph (n, c), -1 entries ignored: (n,) row ids (see
    `_graph_order`); entries outside [-1, n) are refused."""
    cand = np.asarray(cand)
    _check_ids(cand, cand.shape[0], "candidate ids", -1)
    return _graph_order(cand)


@njit(cache=True)
def _graph_order(cand: np.ndarray) -> np.ndarray:
    """A breadth-first order of the candidate graph (n, c), -1 entries ignored: (n,) row ids.

    Consecutive rows in it share most of their candidates, so a pass that gathers every row's
    candidates (the float64 re-rank) finds them in cache instead of main memory.
    """
    n, c = cand.shape
    seen = np.zeros(n, dtype=np.bool_)
    out = np.empty(n, dtype=np.int64)
    head = 0
    tail = 0
    for root in range(n):
        if seen[root]:
            continue
        seen[root] = True
        out[tail] = root
        tail += 1
        while head < tail:
            q = out[head]
            head += 1
            for t in range(c):
                m = cand[q, t]
                if m >= 0 and not seen[m]:
                    seen[m] = True
                    out[tail] = m
                    tail += 1
    return out


def brute_candidates(X: np.ndarray, queries: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``width`` nearest rows of X (self included) to rows ``queries``, by GEMM in X's dtype.

    For the few rows the symmetric search must redo. Returns each query's search horizon (its
    width-th smallest squared distance, as float64) and the candidate ids (m, width), unsorted.
    """
    n = X.shape[0]
    sq = np.einsum("ij,ij->i", X, X)
    step = max(1, (1 << 23) // n)  # 32-64 MB of distances per chunk
    horizon = np.empty(len(queries))
    cand = np.empty((len(queries), width), dtype=np.int64)
    for s in range(0, len(queries), step):
        q = queries[s : s + step]
        D = X[q] @ X.T  # becomes |y|^2 - 2 x.y in place: the row's |x|^2 does not change the order
        D *= -2.0
        D += sq
        part = np.argpartition(D, width - 1, axis=1)[:, :width] if width < n else np.tile(np.arange(n), (len(q), 1))
        cand[s : s + step] = part
        horizon[s : s + step] = np.take_along_axis(D, part, axis=1).max(axis=1) + sq[q]
    return horizon, cand



@njit(cache=True, fastmath={"reassoc", "contract"}, error_model="numpy")
def sqdist(X: np.ndarray, a: int, b: int) -> float:
    """Squared Euclidean distance of rows a and b of X, summed in float64 (vectorised: the
    rounding differs from a sequential sum at 1e-16 relative)."""
    s = 0.0
    for t in range(X.shape[1]):
        diff = np.float64(X[a, t]) - np.float64(X[b, t])
        s += diff * diff
    return s


@njit(cache=True, parallel=True)
def _hash_words(words: np.ndarray) -> np.ndarray:
    n, w = words.shape
    out = np.empty(n, dtype=np.int64)
    for i in prange(n):
        h = np.uint64(0xCBF29CE484222325)
        for t in range(w):
            h = (h ^ np.uint64(words[i, t])) * np.uint64(0x100000001B3)
        h ^= h >> np.uint64(33)  # final avalanche (splitmix64's), so nearby rows get unrelated keys
        h *= np.uint64(0xFF51AFD7ED558CCD)
        h ^= h >> np.uint64(33)
        out[i] = np.int64(h)
    return out


def row_keys(X: np.ndarray) -> np.ndarray:
    """(n,) int64 hash of each row's bytes: the tie-break among equally distant neighbours.

    It depends on a row's values only, never on its position, so the neighbour lists (and the
    estimates) do not change when the rows are shuffled. Two distinct rows share a key with
    probability 2^-64; the smaller row id then decides.
    """
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    X = np.ascontiguousarray(X)
    return _hash_words(X.view(np.uint32).reshape(X.shape[0], -1))


def rerank(X: np.ndarray, keys: np.ndarray, queries: np.ndarray, candidates: np.ndarray, k: int):
    """`_rerank` with its row ids checked: queries in [0, n), candidates in [-1, n) (-1: none)."""
    n = X.shape[0]
    if keys.shape[0] != n or candidates.shape[0] != queries.shape[0]:
        raise ValueError(f"rerank: {n} rows, {keys.shape[0]} keys, {queries.shape[0]} queries, "
                         f"{candidates.shape[0]} candidate lists")
    _check_ids(queries, n, "query ids", 0)
    _check_ids(candidates, n, "candidate ids", -1)
    return _rerank(X, keys, queries, candidates, k)


@njit(cache=True, parallel=True, error_model="numpy")
def _rerank(X: np.ndarray, keys: np.ndarray, queries: np.ndarray, candidates: np.ndarray, k: int):
    """Exact float64 distances to candidate neighbours, sorted, self removed.

    X: (n, d) cloud; keys: (n,) `row_keys(X)`; queries: (m,) row ids of the query points;
    candidates: (m, c) row ids (-1 = none, repeats allowed). Returns distances (m, k) float64 and
    indices (m, k) int64, ascending by (distance, key, index); rows with fewer than k valid
    candidates are padded with inf / -1.
    """
    m, c = candidates.shape
    out_d = np.full((m, k), np.inf)
    out_i = np.full((m, k), -1, dtype=np.int64)
    for r in prange(m):
        q = queries[r]
        ids = np.sort(candidates[r])
        valid = np.empty(c, dtype=np.int64)
        v = 0
        prev = -2
        for j in range(c):
            idx = ids[j]
            if idx >= 0 and idx != q and idx != prev:
                valid[v] = idx
                v += 1
            prev = idx
        valid = valid[:v]
        valid = valid[np.argsort(keys[valid], kind="mergesort")]  # ids ascending within a key
        d2 = np.empty(v)
        for j in range(v):
            d2[j] = sqdist(X, q, valid[j])
        order = np.argsort(d2, kind="mergesort")
        for j in range(min(k, v)):
            out_d[r, j] = np.sqrt(d2[order[j]])
            out_i[r, j] = valid[order[j]]
    return out_d, out_i
