"""Exact k-nearest-neighbour lists of a point cloud, every point a query, itself excluded.

CPU: a symmetric blocked float32 GEMM search (`lidscope._search_kernels`) computes every pair
distance once, for block pairs on and above the diagonal, and feeds both points' candidate lists:
half the flops of a query-by-query search, memory O(n * k) plus one block of inner products.
CUDA: query blocks through torch. Float32 GEMM distances lose precision for close points
(|x|^2 + |y|^2 - 2 x.y cancels), so a few extra candidates are searched and re-ranked with
distances computed directly in float64: float64 input then gives the exact float64 neighbours.
On both paths, a point whose float32 search horizon lies within the float32 error of its k-th
exact distance is searched again wider (torch: on the CPU), so no true neighbour can hide beyond
the horizon. `search_rows` runs the same search and proof for one block of query rows.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._search_kernels import row_keys, sqdist  # sqdist: for the estimators' direct distances
from .errors import LIDInputError
from .scaling import Rescaled, check_resolved, rescaled
from .settings import EXTRA_CANDIDATES  # float32 candidates beyond k, re-ranked in float64

Progress = Callable[[str, int, int], None]



@dataclass(frozen=True)
class Neighbors:
    """Sorted neighbour lists: ``distances`` (n, k) float64 Euclidean, ``indices`` (n, k) int64.

    ``n_searched_again``: points whose first float32 search could not prove their list exact and
    that were searched again with a wider horizon (the lists are exact either way).
    ``method``: how the lists were found and proven, recorded with results.
    """

    distances: np.ndarray
    indices: np.ndarray
    n_searched_again: int = 0
    method: str = "neighbour lists supplied by the caller"

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
    broken by a hash of the rows' content (`row_keys`), so the lists do not depend on row order.
    ``X`` must hold distinct, finite rows and n > n_neighbors. Both backends prove every list
    exact: a row whose float32 search horizon lies within float32 error of its k-th distance is
    searched again wider (counted in ``n_searched_again``; with torch that runs on the CPU).
    Any finite scale works: a cloud outside the safe range of the float32 search is searched
    rescaled by a power of two (`lidscope.scaling`, exact), and the distances are returned in X's
    units (LIDInputError where float64 cannot hold them, beyond 1.8e308 or below 2.2e-308).
    ``block_size``: rows per GEMM block (CPU: a block_size^2 float32 buffer, 64 MB at 4096).
    ``progress("neighbors", done, total)`` is called as work finishes: once with ``done = 0``
    before any work, then per block pair on the CPU (per query block with torch), and a last unit
    for the re-rank and the proof, so the stage spans the whole search.
    """
    scaled = rescaled(np.asarray(X))
    nb = search_rescaled(scaled, n_neighbors, extra_candidates=extra_candidates, backend=backend,
                         device=device, block_size=block_size, progress=progress)
    return to_input_units(nb, scaled)


def search_rescaled(
    scaled: Rescaled,
    n_neighbors: int,
    *,
    extra_candidates: int = EXTRA_CANDIDATES,
    backend: str = "auto",
    device: str | None = None,
    block_size: int = 4096,
    progress: Progress | None = None,
) -> Neighbors:
    """`kneighbors` of the rescaled cloud ``scaled.X``, distances in its (rescaled) units; ties are
    broken by the content of the input rows, so the lists are those of the input."""
    X = scaled.X
    n = X.shape[0]
    if not 1 <= n_neighbors < n:
        raise ValueError(f"n_neighbors must be in [1, n - 1] = [1, {n - 1}], got {n_neighbors}")
    n_search = min(n, n_neighbors + 1 + max(0, extra_candidates))
    backend, device = resolve_backend(backend, device)
    keys = row_keys(scaled.input)
    blocks = _StageReport(progress, "neighbors") if progress else None
    if backend == "torch":
        nb = _kneighbors_torch(X, keys, n_neighbors, n_search, device, block_size, blocks)
    else:
        nb = _kneighbors_cpu(X, keys, n_neighbors, n_search, block_size, blocks)
    if blocks is not None:
        blocks.finish()
    check_resolved(scaled, nb.distances[:, 0])
    if scaled.exponent:
        nb = Neighbors(nb.distances, nb.indices, nb.n_searched_again, nb.method + rescale_note(scaled))
    return nb


def rescale_note(scaled: Rescaled) -> str:
    """What the search records when it ran on a rescaled cloud."""
    return f"; searched on the cloud x 2^{scaled.exponent} (exact power-of-two rescale)"


def to_input_units(nb: Neighbors, scaled: Rescaled) -> Neighbors:
    """Lists searched on ``scaled.X`` with their distances in the input's units."""
    if scaled.exponent == 0:
        return nb
    return Neighbors(scaled.distances_to_input(nb.distances), nb.indices, nb.n_searched_again, nb.method)


def to_rescaled_units(nb: Neighbors, scaled: Rescaled) -> Neighbors:
    """Lists given in the input's units with their distances in ``scaled.X``'s units (exact:
    a power of two)."""
    if scaled.exponent == 0:
        return nb
    with np.errstate(over="ignore", under="ignore"):
        dist = np.ldexp(np.asarray(nb.distances, dtype=np.float64), scaled.exponent)
    return Neighbors(dist, nb.indices, nb.n_searched_again, nb.method)


class _StageReport:
    """Reports a stage from its start (``done = 0``) to the end of the work after the reported
    units: the units a search reports are counted out of ``total + 1``, the last unit being what
    follows them (re-rank and proof)."""

    def __init__(self, progress: Progress, stage: str) -> None:
        self.progress, self.stage, self.total = progress, stage, 1
        progress(stage, 0, 2)

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.total = total + 1
        self.progress(stage, done, self.total)

    def finish(self) -> None:
        self.progress(self.stage, self.total, self.total)


#: Bound on float32 GEMM squared-distance error, relative to |x|^2 + |y|^2 of the centred cloud.
FLOAT32_MARGIN = 2e-5
#: The same for float64 GEMM distances (FLOAT32_MARGIN scaled by the ratio of the epsilons, x3).
FLOAT64_MARGIN = 1e-13


def _centred_float32(X: np.ndarray, order: np.ndarray | None = None, chunk: int = 16384) -> np.ndarray:
    """X minus its column mean, as float32 (rows taken in ``order`` if given), in chunks."""
    mean = X.mean(axis=0, dtype=np.float64)
    out = np.empty(X.shape, dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        for s in range(0, X.shape[0], chunk):
            rows = slice(s, s + chunk) if order is None else order[s : s + chunk]
            out[s : s + chunk] = X[rows] - mean
    check_float32_range(float(max(out.max(initial=0.0), -out.min(initial=0.0))), out.shape[1])
    return out


def check_float32_range(largest: float, d: int) -> None:
    """Raises LIDInputError unless every float32 squared distance of a centred cloud whose largest
    |coordinate| is ``largest`` (d columns) is finite: |x|^2 + |y|^2 - 2 x.y <= 2 (|x|^2 + |y|^2)
    <= 4 d largest^2 < float32's largest. The search kernels rely on it (a NaN or inf distance
    would corrupt their candidate lists); clouds from `lidscope.scaling.rescaled` always pass."""
    big = float(largest)
    limit = float(np.finfo(np.float32).max) / 8
    if not np.isfinite(big) or big * big * d > limit:
        raise LIDInputError(
            f"The centred cloud's coordinates (up to {big:.3g}) overflow float32 squared distances. "
            "Rescale it by a power of two first (lidscope.scaling.rescaled); lidscope.kneighbors and "
            "lidscope.local_dimensions do so themselves."
        )


def _kneighbors_cpu(
    X: np.ndarray, keys: np.ndarray, k: int, n_search: int, block_size: int, progress: Progress | None
) -> Neighbors:
    from ._search_kernels import graph_order, rerank, symmetric_topk

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
    dist[walk], idx[walk] = rerank(Xc, keys, walk, cand[walk], k)
    again = _unproven_rows(horizon, sq, dist[:, k - 1], n_search, n)
    if again.size:
        dist[again], idx[again] = _widen(X32, order, Xc, keys, sq, again, k, 2 * n_search, dist[again, k - 1])
    return Neighbors(dist, idx, n_searched_again=int(again.size), method=SEARCH_CPU.format(extra=n_search - k - 1))


#: What each path does, recorded with the results (``{extra}``: extra float32 candidates).
SEARCH_CPU = ("exact: float32 GEMM candidates (L + {extra}), float64 re-rank, ties by row content, "
              "rows whose float32 horizon could hide a neighbour searched again wider")
SEARCH_TORCH = ("exact: float32 GEMM candidates (L + {extra}) with torch on {device}, float64 re-rank, "
                "ties by row content, rows whose float32 horizon could hide a neighbour searched again "
                "wider on the CPU")


def _partner_bound(sq_rows, sq_max, kth):
    """Bound on |y|^2 over the points y that could lie within ``kth`` of each row x: |y| <= |x| + kth
    (triangle inequality in the centred cloud), and never more than the cloud's largest |y|^2. The
    (1 + 1e-6) covers the float32 rounding of the centred norms. Without it one far outlier (e.g. a
    token with massive activations) would make every row's bound its own and leave every row unproven."""
    reach = (np.sqrt(np.asarray(sq_rows, dtype=np.float64)) + kth) ** 2 * (1.0 + 1e-6)
    return np.minimum(sq_max, reach)


def _unproven(horizon, sq_rows, sq_max, kth, margin):
    """Rows whose search horizon (squared) is within the GEMM error bound of their k-th exact
    distance: a point beyond the horizon could still be closer than the k-th neighbour. The error of
    a squared distance |x|^2 + |y|^2 - 2 x.y is at most ``margin * (|x|^2 + |y|^2)``, taken over the
    points y that could be that close (`_partner_bound`)."""
    bound = margin * (sq_rows + _partner_bound(sq_rows, sq_max, kth))
    return np.asarray(horizon, dtype=np.float64) - bound <= kth**2


def _unproven_rows(horizon, sq_rows, kth, n_search: int, n: int, sq_max: float | None = None) -> np.ndarray:
    """Positions of the rows a float32 search of width ``n_search`` left unproven (none if it saw
    every point)."""
    if n_search >= n:
        return np.empty(0, dtype=np.int64)
    sq_max = sq_rows.max() if sq_max is None else sq_max
    return np.flatnonzero(_unproven(horizon, sq_rows, sq_max, kth, FLOAT32_MARGIN))


def centred_float32(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """X minus its column mean as float32 (rows in input order) and its squared row norms
    (float64): what `search_rows` searches in."""
    X32 = _centred_float32(X)
    return X32, np.einsum("ij,ij->i", X32, X32, dtype=np.float64)


def search_rows(
    X: np.ndarray, X32: np.ndarray, sq: np.ndarray, keys: np.ndarray, rows: np.ndarray, k: int, n_search: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Exact k nearest other points of ``rows`` (m,) against the whole cloud, as `kneighbors`.

    The same proof as the full search, for one block of query rows (e.g. a Ray task): float32
    GEMM candidates (``n_search`` of them, self included), float64 re-rank, and a wider search
    for rows whose float32 horizon lies within float32 error of their k-th exact distance.
    X: the cloud (C-contiguous); X32, sq: `centred_float32(X)`; keys: `row_keys(X)`.
    Returns distances (m, k) float64, indices (m, k) int64 and how many rows were searched again.
    """
    from ._search_kernels import brute_candidates, rerank

    rows = np.asarray(rows, dtype=np.int64)
    n = X.shape[0]
    width = min(n, n_search)
    horizon, cand = brute_candidates(X32, rows, width)
    dist, idx = rerank(X, keys, rows, cand, k)
    again = _unproven_rows(horizon, sq[rows], dist[:, k - 1], width, n, sq.max())
    if again.size:
        dist[again], idx[again] = _widen(X32, None, X, keys, sq, rows[again], k, 2 * width, dist[again, k - 1])
    return dist, idx, int(again.size)


def _widen(X32, order, Xc, keys, sq, rows, k, width, kth) -> tuple[np.ndarray, np.ndarray]:
    """The exact lists (len(rows), k) of ``rows``, searched again until proven, in at most three passes.

    1. float32, ``width`` candidates; 2. float64 GEMM distances on the centred cloud, whose error
    is 1e-9 of float32's; 3. (clouds whose neighbours are ~1e-7 of their spread apart) every
    point a candidate, distances computed directly. ``X32`` holds the centred rows in ``order``
    (row p of X32 is input row order[p]; None: input order); ``sq`` their squared norms by input
    row; ``kth`` the rows' current k-th exact distances.
    """
    from ._search_kernels import brute_candidates, rerank

    n = X32.shape[0]
    width = min(n, width)
    dist, idx = np.empty((rows.size, k)), np.empty((rows.size, k), dtype=np.int64)
    # where the float32 error bound alone exceeds the k-th distance, a wider float32 search
    # cannot prove anything: those rows go straight to float64
    hopeless = FLOAT32_MARGIN * (sq[rows] + _partner_bound(sq[rows], sq.max(), kth)) > kth**2
    todo = np.flatnonzero(hopeless)
    first = np.flatnonzero(~hopeless)
    if first.size:
        if order is None:
            horizon, cand = brute_candidates(X32, rows[first], width)
        else:
            position = np.empty(n, dtype=np.int64)
            position[order] = np.arange(n)
            horizon, cand = brute_candidates(X32, position[rows[first]], width)
            cand = order[cand]
        dist[first], idx[first] = rerank(Xc, keys, rows[first], cand, k)
        again = _unproven_rows(horizon, sq[rows[first]], dist[first, k - 1], width, n, sq.max())
        todo = np.sort(np.concatenate([todo, first[again]]))
    if not todo.size:
        return dist, idx
    X64 = Xc - Xc.mean(axis=0, dtype=np.float64)
    sq64 = np.einsum("ij,ij->i", X64, X64)
    horizon, cand = brute_candidates(X64, rows[todo], width)
    dist[todo], idx[todo] = rerank(Xc, keys, rows[todo], cand, k)
    if width < n:
        todo = todo[_unproven(horizon, sq64[rows[todo]], sq64.max(), dist[todo, k - 1], FLOAT64_MARGIN)]
        every = np.arange(n)
        for chunk in np.array_split(todo, max(1, todo.size * n // (1 << 24))) if todo.size else ():
            dist[chunk], idx[chunk] = rerank(Xc, keys, rows[chunk], np.tile(every, (chunk.size, 1)), k)
    return dist, idx


#: Share of the GPU's free memory one query block of the torch search may use (its (rows, n) float32
#: distances, their top-k and the (rows, L + extra, d) float64 re-rank gather).
TORCH_BLOCK_MEMORY = 0.25


def _torch_block_rows(n: int, d: int, n_search: int, device: str, block_size: int) -> int:
    """Query rows per torch block: at most ``block_size``; on the CPU at most 256 (the float64
    re-rank gathers (rows, n_search, d) values); on CUDA as many as a quarter of free memory holds."""
    import torch

    if torch.device(device).type != "cuda":
        return max(1, min(block_size, 256))
    free, _ = torch.cuda.mem_get_info(torch.device(device))
    per_row = 3 * 4 * n + 3 * 8 * n_search * d  # d2, its top-k workspace; gather, difference, square
    return max(1, min(block_size, int(TORCH_BLOCK_MEMORY * free) // per_row))


def _kneighbors_torch(
    X: np.ndarray, keys: np.ndarray, k: int, n_search: int, device: str, block_size: int,
    progress: Progress | None,
) -> Neighbors:
    import torch

    Xc = np.ascontiguousarray(X)
    X64 = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float64), device=device)
    X32 = (X64 - X64.mean(0)).float()
    check_float32_range(float(X32.abs().max()) if X32.numel() else 0.0, X32.shape[1])
    sq = (X32 * X32).sum(1)
    keys_t = torch.as_tensor(keys, device=device)
    n = X.shape[0]
    dist = np.empty((n, k))
    idx = np.empty((n, k), dtype=np.int64)
    horizon = np.empty(n)
    block = _torch_block_rows(n, X.shape[1], n_search, device, block_size)
    precision = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")  # TF32 / bf16 GEMMs would break the error bound
    try:
        with torch.inference_mode():
            for start in range(0, n, block):
                stop = min(n, start + block)
                rows = torch.arange(start, stop, device=device)
                d2 = torch.addmm(sq[None, :], X32[start:stop], X32.T, alpha=-2.0).add_(sq[start:stop, None])
                top = d2.topk(n_search, dim=1, largest=False)
                cand = top.indices
                exact = ((X64[cand] - X64[rows, None, :]) ** 2).sum(-1)
                exact[cand == rows[:, None]] = float("inf")
                # sort by (distance, key, index): stable sorts from the last key to the first
                cand, perm = cand.sort(dim=1)
                exact = exact.gather(1, perm)
                _, perm = keys_t[cand].sort(dim=1, stable=True)
                cand, exact = cand.gather(1, perm), exact.gather(1, perm)
                exact, perm = exact.sort(dim=1, stable=True)
                cand = cand.gather(1, perm)
                dist[start:stop] = exact[:, :k].sqrt().cpu().numpy()
                idx[start:stop] = cand[:, :k].cpu().numpy()
                horizon[start:stop] = top.values.max(dim=1).values.double().cpu().numpy()
                if progress:
                    progress("neighbors", stop, n)
        sq_np = sq.double().cpu().numpy()
    finally:
        torch.set_float32_matmul_precision(precision)
    # the same proof as the CPU path; rows it leaves unproven are searched again on the CPU
    again = _unproven_rows(horizon, sq_np, dist[:, k - 1], n_search, n)
    if again.size:
        X32_np, sq_cpu = centred_float32(Xc)
        dist[again], idx[again] = _widen(X32_np, None, Xc, keys, sq_cpu, again, k, 2 * n_search, dist[again, k - 1])
    method = SEARCH_TORCH.format(extra=n_search - k - 1, device=device)
    return Neighbors(dist, idx, n_searched_again=int(again.size), method=method)
