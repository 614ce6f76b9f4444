"""Neighbourhood overlap between two representations of the same points (e.g. two layers or checkpoints)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import LIDInputError
from ..neighbors import Neighbors, kneighbors
from ..settings import OVERLAP_NEIGHBORS
from ..validation import as_cloud, check_neighbor_lists, check_neighbors_param, require_distinct


@dataclass(frozen=True)
class Overlap:
    """``per_point`` (n,) the fraction of each point's k nearest neighbours shared by both clouds;
    ``mean`` their mean (unitless, in [0, 1]; DADApy's ``return_data_overlap``); ``n_neighbors`` k."""

    per_point: np.ndarray
    mean: float
    n_neighbors: int


def overlap_from_indices(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-row fraction of shared entries of two (n, k) neighbour index arrays (each row distinct)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise LIDInputError(f"neighbour lists of different shapes {a.shape} and {b.shape}.")
    k = a.shape[1]
    sa, sb = np.sort(a, axis=1), np.sort(b, axis=1)
    # count common values row by row: for each entry of sa, is it in sb's row?
    pos = np.empty_like(sa)
    for i in range(sa.shape[0]):
        pos[i] = np.searchsorted(sb[i], sa[i])
    pos = np.minimum(pos, k - 1)
    hits = np.take_along_axis(sb, pos, axis=1) == sa
    return hits.sum(axis=1) / k


def neighborhood_overlap(A, B, n_neighbors: int = OVERLAP_NEIGHBORS, *, neighbors_a: Neighbors | None = None,
                         neighbors_b: Neighbors | None = None, backend: str = "auto",
                         device: str | None = None) -> Overlap:
    """Mean fraction of shared k nearest neighbours of row i in A (n, d1) and in B (n, d2).

    Row i of A and of B must be the same point (token) in two representations. Both clouds need
    distinct rows (exact duplicates make the neighbour lists ambiguous) and n > k. Precomputed
    lists (``neighbors_a`` / ``neighbors_b``, >= k columns) are checked and their first k columns used.
    """
    k = check_neighbors_param(n_neighbors, minimum=1)
    A, B = as_cloud(A, name="A"), as_cloud(B, name="B")
    if A.shape[0] != B.shape[0]:
        raise LIDInputError(f"the two clouds must hold the same points in the same row order; A has {A.shape[0]} "
                            f"rows and B {B.shape[0]}.")
    if A.shape[0] <= k:
        raise LIDInputError(f"neighbourhood overlap at k = {k} needs more than {k} points; the clouds have "
                            f"{A.shape[0]}.")
    lists = []
    for X, nb in ((A, neighbors_a), (B, neighbors_b)):
        if nb is None:
            require_distinct(X)
            nb = kneighbors(X, k, backend=backend, device=device)
        else:
            check_neighbor_lists(X, nb, k)
        lists.append(nb.indices[:, :k])
    per_point = overlap_from_indices(*lists)
    return Overlap(per_point=per_point, mean=float(per_point.mean()), n_neighbors=k)
