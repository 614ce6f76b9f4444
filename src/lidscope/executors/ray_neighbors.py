"""Exact kNN of a large point cloud on a Ray cluster: query blocks as parallel tasks, then merged.

`kneighbors_ray` returns exactly what `lidscope.kneighbors` returns on the CPU path (same indices,
same float64 distances, bit for bit): the cloud, its centred float32 copy and its row keys are put
in Ray's object store once (shared, zero-copy, by every task on a node); each task takes a block of
query rows and runs `lidscope.neighbors.search_rows` on it: the in-process search kernels (float32
GEMM candidates against the *full* centred cloud, float64 re-rank, ties by row content) and the
same widening rule and constants as `lidscope.kneighbors`, counted in ``n_searched_again``.
Because the re-rank is exact and the widening proves the exact k nearest are among the candidates,
a row's result does not depend on which block it was searched in.

Memory: each node holds the cloud once in float64 (or its input dtype) and once in float32 in the
object store, plus (block, k) results and a (block / n * 2^23, n) chunk of distances per running
task; the driver holds the merged (n, k) arrays. For N = 2,000,000 points of dimension 2,048 that
is 16 GB + 16 GB per node: size the object store (``ray start --object-store-memory``) accordingly.

Use the neighbours with the estimators, e.g. ``LocalTwoNN(L).fit(X, neighbors=kneighbors_ray(X, L))``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from lidscope.executors.ray import assigned_cpus, ray_session
from lidscope.neighbors import (EXTRA_CANDIDATES, SEARCH_CPU, Neighbors, centred_float32, rescale_note, row_keys,
                                search_rows, to_input_units)
from lidscope.scaling import Rescaled, check_resolved, rescaled
from lidscope.threads import limit_threads

Progress = Callable[[str, int, int], None]


def search_block(X: np.ndarray, X32: np.ndarray, sq: np.ndarray, keys: np.ndarray, start: int, stop: int,
                 k: int, n_search: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Exact k nearest other points of rows ``start:stop`` against the full cloud.

    X: the cloud (any float dtype, C-contiguous); X32, sq: `centred_float32(X)`; keys: `row_keys(X)`.
    Returns distances (m, k) float64 and indices (m, k) int64, as rows ``start:stop`` of
    `lidscope.kneighbors`, and how many rows were searched again wider.
    """
    return search_rows(X, X32, sq, keys, np.arange(start, stop), k, n_search)


def _block_task(X: np.ndarray, X32: np.ndarray, sq: np.ndarray, keys: np.ndarray, start: int, stop: int,
                k: int, n_search: int) -> tuple[int, np.ndarray, np.ndarray, int]:
    limit_threads(assigned_cpus())
    return (start, *search_block(X, X32, sq, keys, start, stop, k, n_search))


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

    Identical lists to ``lidscope.kneighbors(X, n_neighbors, extra_candidates=..., backend="numba")``;
    ``n_searched_again`` counts the rows each block had to search again (the block search starts
    from its own float32 candidates, so the count can differ from the in-process search's).

    Args:
        X: (n, d) cloud of distinct finite rows, n > n_neighbors.
        block_size: query rows per task (default: `default_block_size`).
        num_cpus: CPUs (threads) per task.
        max_retries: Ray's re-runs of a task whose worker died.
        address / init_options: where Ray runs (see `lidscope.executors.ray.connect`); an already
            initialised Ray is used as is; one started here is shut down at the end.
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
    scaled = rescaled(X)  # the same exact power-of-two rescale as lidscope.kneighbors (LIDInputError on NaN / inf)
    with ray_session(address, **(init_options or {})) as ray:  # a Ray started here ends here
        nb = _search(ray, scaled, n_neighbors, extra_candidates, block_size, num_cpus, max_retries, progress)
    check_resolved(scaled, nb.distances[:, 0])
    return to_input_units(nb, scaled)


def _search(ray: Any, scaled: Rescaled, n_neighbors: int, extra_candidates: int, block_size: int | None,
            num_cpus: float, max_retries: int, progress: Progress | None) -> Neighbors:
    X = scaled.X
    n = X.shape[0]
    n_search = min(n, n_neighbors + 1 + max(0, extra_candidates))
    X32, sq = centred_float32(X)
    slots = max(1, int(ray.cluster_resources().get("CPU", 1) // max(num_cpus, 1e-9)))
    bs = int(block_size) if block_size else default_block_size(n, slots)
    if bs < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}.")
    refs = [ray.put(a) for a in (X, X32, sq, row_keys(scaled.input))]  # ties by the input rows' content
    task = ray.remote(_block_task).options(num_cpus=num_cpus, max_retries=max_retries, num_returns=1)
    pending = {task.remote(*refs, s, min(n, s + bs), n_neighbors, n_search): s for s in range(0, n, bs)}
    dist = np.empty((n, n_neighbors))
    idx = np.empty((n, n_neighbors), dtype=np.int64)
    done = again = 0
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            start, d, i, a = ray.get(ready[0])
            again += a
            del pending[ready[0]]
            dist[start:start + d.shape[0]] = d
            idx[start:start + d.shape[0]] = i
            done += d.shape[0]
            if progress:
                progress("neighbors", done, n)
    finally:
        for ref in pending:
            ray.cancel(ref)
    method = SEARCH_CPU.format(extra=n_search - n_neighbors - 1) + f"; in Ray tasks of {bs} query rows"
    if scaled.exponent:
        method += rescale_note(scaled)
    return Neighbors(dist, idx, n_searched_again=again, method=method)


__all__ = ["default_block_size", "kneighbors_ray", "search_block"]
