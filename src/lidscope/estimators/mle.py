"""Levina-Bickel maximum-likelihood local dimension.

With T_1 <= ... <= T_k the distances from x to its k nearest neighbours (x excluded),
m(x) = (k - 1) / sum_{j=1}^{k} log(T_k / T_j), or (k - 2) / ... when ``unbiased``; the same
numbers as ``skdim.id.MLE().fit(X, n_neighbors=k).dimension_pw_``.

Reference: E. Levina, P. Bickel, "Maximum likelihood estimation of intrinsic dimension",
NeurIPS 17 (2004).
"""

from __future__ import annotations

import numpy as np

from ..neighbors import Neighbors, kneighbors
from ..validation import as_cloud, check_enough_points, check_neighbors_param, require_distinct
from ..settings import N_NEIGHBORS
from . import _kernels


def local_mle_from_neighbors(neighbors: Neighbors, n_neighbors: int, unbiased: bool = False) -> np.ndarray:
    """Levina-Bickel estimate (n,) from sorted neighbour distances (n, >= n_neighbors)."""
    return _kernels.local_mle(np.ascontiguousarray(neighbors.distances), n_neighbors, unbiased)


class LocalMLE:
    """Pointwise Levina-Bickel MLE with ``n_neighbors`` neighbours (scikit-learn style).

    ``fit(X)`` with X (n, d) distinct finite rows sets ``dimension_pw_`` (n,), ``dimension_``
    (their mean) and ``neighbors_``.
    """

    def __init__(self, n_neighbors: int = N_NEIGHBORS, unbiased: bool = False, backend: str = "auto"):
        self.n_neighbors = n_neighbors
        self.unbiased = unbiased
        self.backend = backend

    def fit(self, X, y=None, neighbors: Neighbors | None = None) -> "LocalMLE":
        k = check_neighbors_param(self.n_neighbors)
        X = as_cloud(X)
        if neighbors is None:
            require_distinct(X)
            check_enough_points(X.shape[0], k)
            neighbors = kneighbors(X, k, backend=self.backend)
        self.dimension_pw_ = local_mle_from_neighbors(neighbors, k, self.unbiased)
        self.neighbors_ = neighbors
        self.dimension_ = float(np.mean(self.dimension_pw_))
        return self
