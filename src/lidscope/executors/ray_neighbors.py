"""Exact kNN of a large point cloud on a Ray cluster: query blocks as parallel tasks, then merged.

`kneighbors_ray` returns exactly what `lidscope.kneighbors` returns on the CPU path (same indices,
same float64 distances, bit for bit): the cloud and its centred float32 copy are put in Ray's object
store once (shared, zero-copy, by every task on a node); each task takes a block of query rows,
searches it in float32 with faiss against the *full* centred cloud, re-ranks the candidates in float64
with the same `rerank` kernel, and widens the search for the rows where float32 error could hide a
closer point (the same rule and constants as `lidscope.neighbors`). Because the re-rank is exact and
the widening rule guarantees the exact k nearest are among the candidates, a row's result does not
depend on which block it was searched in.

Memory: each node holds the cloud once in float64 (or its input dtype) and once in float32 in the
object store, plus (block, k) results per running task; the driver holds the merged (n, k) arrays.
For N = 2,000,000 points of dimension 2,048 that is 16 GB + 16 GB per node: size the object store
(``ray start --object-store-memory``) accordingly.

Use the neighbours with the estimators, e.g. ``LocalTwoNN(L).fit(X, neighbors=kneighbors_ray(X, L))``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from lidscope.executors.ray import assigned_cpus, connect
from lidscope.threads import limit_threads
from lidscope.neighbors import EXTRA_CANDIDATES, FLOAT32_MARGIN, Neighbors

Progress = Callable[[str, int, int], None]


def centred_float32(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cloud centred in float64 then cast to float32, and its float64 squared norms, as
    `lidscope.kneighbors` computes them (translation does not change distances)."""
    X32 = np.ascontiguousarray(X - X.mean(axis=0, dtype=np.float64), dtype=np.float32)
    return X32, np.einsum("ij,ij->i", X32, X32, dtype=np.float64)


def search_block(X: np.ndarray, X32: np.ndarray, sq: np.ndarray, start: int, stop: int, k: int,
                 n_search: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest other points of rows ``start:stop`` against the full cloud.

    X: the cloud (any float dtype, C-contiguous); X32/sq: from `centred_float32`. Returns distances
    (m, k) float64 and indices (m, k) int64, as rows ``start:stop`` of `lidscope.kneighbors`.
    """
    import faiss

    from lidscope.estimators._kernels import rerank

    n = X.shape[0]
    sq_max = sq.max()
    m = stop - start
    dist = np.empty((m, k))
    idx = np.empty((m, k), dtype=np.int64)
    todo = np.arange(m)
    width = n_search
    while todo.size:
        rows = start + todo
        d32, cand = faiss.knn(X32[rows], X32, width)
        dist[todo], idx[todo] = rerank(X, rows, cand, k)
        if width >= n:
            break
        # the widening rule of lidscope.neighbors: search wider where the float32 horizon lies within
        # float32 error of the k-th exact neighbour
        margin = FLOAT32_MARGIN * (sq[rows] + sq_max)
        unsafe = d32[:, -1].astype(np.float64) - margin <= dist[todo, k - 1] ** 2
        todo, width = todo[unsafe], min(n, 2 * width)
    return dist, idx


def _block_task(X: np.ndarray, X32: np.ndarray, sq: np.ndarray, start: int, stop: int, k: int,
                n_search: int) -> tuple[int, np.ndarray, np.ndarray]:
    limit_threads(assigned_cpus())
    dist, idx = search_block(X, X32, sq, start, stop, k, n_search)
    return start, dist, idx


def default_block_size(n: int, slots: int) -> int:
    """About four blocks per task slot (load balance), between 1,024 and 65,536 rows."""
    return int(min(65_536, max(1_024, math.ceil(n / max(1, 4 * slots)))))


def kneighbors_ray(
    X: np.ndarray,
    n_neighbors: int,
    *,
    extra_candidates: int = EXTRA_CANDIDATES,
    block_size: int | None = None,
    num_cpus: float = 1,
    max_retries: int = 3,
    address: str | None = None,
    init_options: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> Neighbors:
    """The ``n_neighbors`` nearest other points of every row of ``X``, searched in parallel Ray tasks.

    Identical to ``lidscope.kneighbors(X, n_neighbors, extra_candidates=..., backend="numba")``.

    Args:
        X: (n, d) cloud of distinct finite rows, n > n_neighbors.
        block_size: query rows per task (default: `default_block_size`).
        num_cpus: CPUs (threads) per task.
        max_retries: Ray's re-runs of a task whose worker died.
        address / init_options: where Ray runs (see `lidscope.executors.ray.connect`); an already
            initialised Ray is used as is.
        progress: ``progress("neighbors", rows_done, n)`` as blocks finish.

    Raises:
        ValueError: bad ``n_neighbors`` or input; lidscope.executors.ray.RayExecutorError: no Ray.
    """
    X = np.ascontiguousarray(X)
    if X.ndim != 2 or not np.issubdtype(X.dtype, np.floating):
        raise ValueError(f"X must be a 2-D float array, got shape {X.shape} dtype {X.dtype}.")
    n = X.shape[0]
    if not 1 <= n_neighbors < n:
        raise ValueError(f"n_neighbors must be in [1, n - 1] = [1, {n - 1}], got {n_neighbors}")
    ray = connect(address, **(init_options or {}))
    n_search = min(n, n_neighbors + 1 + max(0, extra_candidates))
    X32, sq = centred_float32(X)
    slots = max(1, int(ray.cluster_resources().get("CPU", 1) // max(num_cpus, 1e-9)))
    bs = int(block_size) if block_size else default_block_size(n, slots)
    if bs < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}.")
    refs = [ray.put(a) for a in (X, X32, sq)]
    task = ray.remote(_block_task).options(num_cpus=num_cpus, max_retries=max_retries, num_returns=1)
    pending = {task.remote(*refs, s, min(n, s + bs), n_neighbors, n_search): s for s in range(0, n, bs)}
    dist = np.empty((n, n_neighbors))
    idx = np.empty((n, n_neighbors), dtype=np.int64)
    done = 0
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            start, d, i = ray.get(ready[0])
            del pending[ready[0]]
            dist[start:start + d.shape[0]] = d
            idx[start:start + d.shape[0]] = i
            done += d.shape[0]
            if progress:
                progress("neighbors", done, n)
    finally:
        for ref in pending:
            ray.cancel(ref)
    return Neighbors(dist, idx)


__all__ = ["centred_float32", "default_block_size", "kneighbors_ray", "search_block"]
