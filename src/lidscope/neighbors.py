"""Exact k-nearest-neighbour lists of a point cloud, every point a query, itself excluded.

CPU: a symmetric blocked float32 GEMM search (`lidscope._search_kernels`) computes every pair
distance once, for block pairs on and above the diagonal, and feeds both points' candidate lists:
half the flops of a query-by-query search, memory O(n * k) plus one block of inner products.
CUDA: query blocks through torch. Float32 GEMM distances lose precision for close points
(|x|^2 + |y|^2 - 2 x.y cancels), so a few extra candidates are searched and re-ranked with
distances computed directly in float64: float64 input then gives the exact float64 neighbours.
A point whose float32 search horizon lies within the float32 error of its k-th exact distance is
searched again wider, so no true neighbour can hide beyond the horizon.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np

Progress = Callable[[str, int, int], None]

#: Extra candidates searched in float32 before the float64 re-rank (protects near-ties at rank k).
EXTRA_CANDIDATES = 16


@dataclass(frozen=True)
class Neighbors:
    """Sorted neighbour lists: ``distances`` (n, k) float64 Euclidean, ``indices`` (n, k) int64.

    ``n_searched_again``: points whose first float32 search could not prove their list exact and
    that were searched again with a wider horizon (the lists are exact either way).
    """

    distances: np.ndarray
    indices: np.ndarray
    n_searched_again: int = 0

    @property
    def k(self) -> int:
        return self.indices.shape[1]


def resolve_backend(backend: str = "auto", device: str | None = None) -> tuple[str, str]:
    """Returns (backend, device): "numba" on CPU (BLAS + compiled loops) or "torch" (any device).

    "auto" picks torch on CUDA when torch is already imported and sees a GPU, else numba.
    """
    if backend not in ("auto", "numba", "torch"):
        raise ValueError(f"backend must be 'auto', 'numba' or 'torch', not {backend!r}")
    if backend == "auto":
        if device not in (None, "cpu"):
            return "torch", device
        torch = sys.modules.get("torch")  # never pay torch's import just to look for a GPU
        if torch is not None and device is None and torch.cuda.is_available():
            return "torch", "cuda"
        return "numba", "cpu"
    if backend == "torch":
        return "torch", device or "cpu"
    return "numba", "cpu"


def kneighbors(
    X: np.ndarray,
    n_neighbors: int,
    *,
    extra_candidates: int = EXTRA_CANDIDATES,
    backend: str = "auto",
    device: str | None = None,
    block_size: int = 4096,
    progress: Progress | None = None,
) -> Neighbors:
    """The ``n_neighbors`` nearest other points of every row of ``X`` (n, d), exact in float64.

    Distances are Euclidean (not squared), computed in float64 from X's own values; ties are
    broken by the smaller row index. ``X`` must hold distinct, finite rows and n > n_neighbors.
    ``block_size``: rows per GEMM block (CPU: a block_size^2 float32 buffer, 64 MB at 4096).
    ``progress("neighbors", done, total)`` is called as work finishes: block pairs on the CPU,
    query rows with torch.
    """
    n = X.shape[0]
    if not 1 <= n_neighbors < n:
        raise ValueError(f"n_neighbors must be in [1, n - 1] = [1, {n - 1}], got {n_neighbors}")
    n_search = min(n, n_neighbors + 1 + max(0, extra_candidates))
    backend, device = resolve_backend(backend, device)
    if backend == "torch":
        return _kneighbors_torch(X, n_neighbors, n_search, device, block_size, progress)
    return _kneighbors_cpu(X, n_neighbors, n_search, block_size, progress)


#: Bound on float32 GEMM squared-distance error, relative to |x|^2 + |y|^2 of the centred cloud.
FLOAT32_MARGIN = 2e-5
#: The same for float64 GEMM distances (FLOAT32_MARGIN scaled by the ratio of the epsilons, x3).
FLOAT64_MARGIN = 1e-13


def _centred_float32(X: np.ndarray, order: np.ndarray | None = None, chunk: int = 16384) -> np.ndarray:
    """X minus its column mean, as float32 (rows taken in ``order`` if given), in chunks."""
    mean = X.mean(axis=0, dtype=np.float64)
    out = np.empty(X.shape, dtype=np.float32)
    for s in range(0, X.shape[0], chunk):
        rows = slice(s, s + chunk) if order is None else order[s : s + chunk]
        out[s : s + chunk] = X[rows] - mean
    return out


def _kneighbors_cpu(
    X: np.ndarray, k: int, n_search: int, block_size: int, progress: Progress | None
) -> Neighbors:
    from ._search_kernels import graph_order, symmetric_topk
    from .estimators._kernels import rerank

    n = X.shape[0]
    # Centring costs nothing (distances are translation invariant) and removes the worst of the
    # float32 cancellation for clouds far from the origin. The search runs on the rows in a
    # fixed random order, which its thresholds assume (inputs often come sorted, e.g. by text).
    order = np.random.default_rng(0).permutation(n)
    X32 = _centred_float32(X, order)
    report = (lambda done, total: progress("neighbors", done, total)) if progress else None
    _, cand_p, horizon_p = symmetric_topk(X32, n_search - 1, block=block_size, progress=report)
    cand = np.empty_like(cand_p)
    cand[order] = np.where(cand_p >= 0, order[cand_p], -1)
    horizon = np.empty_like(horizon_p)
    horizon[order] = horizon_p
    del cand_p, horizon_p
    sq = np.empty(n)
    sq[order] = np.einsum("ij,ij->i", X32, X32, dtype=np.float64)
    Xc = np.ascontiguousarray(X)
    walk = graph_order(cand)  # re-rank in an order that keeps the gathered rows in cache
    dist, idx = np.empty((n, k)), np.empty((n, k), dtype=np.int64)
    dist[walk], idx[walk] = rerank(Xc, walk, cand[walk], k)
    if n_search < n:
        # A point beyond the float32 horizon could still be closer than the k-th exact neighbour
        # only if the horizon lies within the float32 error of it: search those rows again wider.
        rows = np.flatnonzero(_unproven(horizon, sq, sq.max(), dist[:, k - 1], FLOAT32_MARGIN))
        if rows.size:
            _widen(X32, order, Xc, sq, rows, k, 2 * n_search, dist, idx)
        return Neighbors(dist, idx, n_searched_again=int(rows.size))
    return Neighbors(dist, idx)


def _unproven(horizon, sq_rows, sq_max, kth, margin):
    """Rows whose search horizon (squared) is within the GEMM error bound of their k-th exact
    distance: a point beyond the horizon could still be closer than the k-th neighbour."""
    return np.asarray(horizon, dtype=np.float64) - margin * (sq_rows + sq_max) <= kth**2


def _widen(X32, order, Xc, sq, rows, k, width, dist, idx) -> None:
    """Searches ``rows`` again until each list is proven exact, in at most three passes.

    1. float32, twice the horizon; 2. float64 GEMM distances on the centred cloud, whose error
    is 1e-9 of float32's; 3. (clouds whose neighbours are ~1e-7 of their spread apart) every
    point a candidate, distances computed directly. ``X32`` holds the centred rows in ``order``
    (row p of X32 is input row order[p]).
    """
    from ._search_kernels import brute_candidates
    from .estimators._kernels import rerank

    n = X32.shape[0]
    width = min(n, width)
    # where the float32 error bound alone exceeds the k-th distance, a wider float32 search
    # cannot prove anything: those rows go straight to float64
    hopeless = FLOAT32_MARGIN * (sq[rows] + sq.max()) > dist[rows, k - 1] ** 2
    rows, later = rows[~hopeless], rows[hopeless]
    if rows.size:
        position = np.empty(n, dtype=np.int64)
        position[order] = np.arange(n)
        horizon, cand = brute_candidates(X32, position[rows], width)
        dist[rows], idx[rows] = rerank(Xc, rows, order[cand], k)
        if width < n:
            rows = rows[_unproven(horizon, sq[rows], sq.max(), dist[rows, k - 1], FLOAT32_MARGIN)]
        else:
            rows = rows[:0]
    rows = np.sort(np.concatenate([rows, later]))
    if not rows.size:
        return
    X64 = Xc - Xc.mean(axis=0, dtype=np.float64)
    sq64 = np.einsum("ij,ij->i", X64, X64)
    horizon, cand = brute_candidates(X64, rows, width)
    dist[rows], idx[rows] = rerank(Xc, rows, cand, k)
    rows = rows[_unproven(horizon, sq64[rows], sq64.max(), dist[rows, k - 1], FLOAT64_MARGIN)]
    for chunk in np.array_split(rows, max(1, rows.size * n // (1 << 24))) if rows.size else ():
        dist[chunk], idx[chunk] = rerank(Xc, chunk, np.tile(np.arange(n), (chunk.size, 1)), k)


def _kneighbors_torch(
    X: np.ndarray, k: int, n_search: int, device: str, block_size: int, progress: Progress | None
) -> Neighbors:
    import torch

    X64 = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float64), device=device)
    X32 = (X64 - X64.mean(0)).float()
    sq = (X32 * X32).sum(1)
    n = X.shape[0]
    dist = np.empty((n, k))
    idx = np.empty((n, k), dtype=np.int64)
    block = max(1, min(block_size, 256))  # the float64 re-rank gathers (block, k, d) values
    with torch.inference_mode():
        for start in range(0, n, block):
            stop = min(n, start + block)
            rows = torch.arange(start, stop, device=device)
            d2 = sq[start:stop, None] + sq[None, :] - 2.0 * (X32[start:stop] @ X32.T)
            cand = d2.topk(n_search, dim=1, largest=False).indices
            exact = ((X64[cand] - X64[rows, None, :]) ** 2).sum(-1)
            exact[cand == rows[:, None]] = float("inf")
            # sort by (distance, index): sort indices first, then a stable sort on distance
            cand, perm = cand.sort(dim=1)
            exact = exact.gather(1, perm)
            exact, order = exact.sort(dim=1, stable=True)
            cand = cand.gather(1, order)
            dist[start:stop] = exact[:, :k].sqrt().cpu().numpy()
            idx[start:stop] = cand[:, :k].cpu().numpy()
            if progress:
                progress("neighbors", stop, n)
    return Neighbors(dist, idx)
