"""Levina-Bickel maximum-likelihood local dimension.

With T_1 <= ... <= T_k the distances from x to its k nearest neighbours (x excluded),
m(x) = (k - 1) / sum_{j=1}^{k} log(T_k / T_j), or (k - 2) / ... when ``unbiased``; the same
numbers as ``skdim.id.MLE().fit(X, n_neighbors=k).dimension_pw_``.

Reference: E. Levina, P. Bickel, "Maximum likelihood estimation of intrinsic dimension",
NeurIPS 17 (2004).
"""

from __future__ import annotations

import numpy as np

from ..neighbors import Neighbors
from ..settings import N_NEIGHBORS
from ..validation import check_list_values
from . import _kernels
from .base import NeighborhoodEstimator


def local_mle_from_neighbors(neighbors: Neighbors, n_neighbors: int, unbiased: bool = False) -> np.ndarray:
    """Levina-Bickel estimate (n,) from sorted neighbour distances (n, >= n_neighbors)."""
    check_list_values(neighbors.indices.shape[0], neighbors, n_neighbors)
    return _kernels.local_mle(np.ascontiguousarray(neighbors.distances), n_neighbors, unbiased)


class LocalMLE(NeighborhoodEstimator):
    """Pointwise Levina-Bickel MLE with ``n_neighbors`` neighbours (scikit-learn style).

    ``fit(X)`` with X (n, d) distinct finite rows sets ``dimension_pw_`` (n,), ``dimension_``
    (their mean) and ``neighbors_``; ``fit(X, neighbors=nb)`` uses precomputed lists (checked).
    """

    def __init__(self, n_neighbors: int = N_NEIGHBORS, unbiased: bool = False, backend: str = "auto"):
        self.n_neighbors = n_neighbors
        self.unbiased = unbiased
        self.backend = backend

    def fit(self, X, y=None, neighbors: Neighbors | None = None) -> "LocalMLE":
        X, neighbors, k = self._prepare(X, neighbors)
        return self._finish(local_mle_from_neighbors(neighbors, k, self.unbiased), neighbors)
