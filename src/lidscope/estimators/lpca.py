"""Local PCA dimension: the spectrum of each point's neighbourhood.

The eigenvalues lambda_1 >= ... of the covariance of the ``n_neighbors`` nearest neighbours
(the point itself excluded, as ``skdim.id.lPCA().fit_pw``) give the local dimension by
* ``FO`` (Fukunaga-Olsen): #{i : lambda_i > alpha * lambda_1}, alpha = 0.05;
* ``participation_ratio``: (sum lambda)^2 / sum lambda^2 (a continuous value);
* ``ratio``: the fewest components whose cumulative share of variance reaches 1 - alpha.

References: K. Fukunaga, D. Olsen, "An algorithm for finding intrinsic dimensionality of data",
IEEE Trans. Computers 20 (1971); P. Gao, E. Trautmann, B. Yu et al., "A theory of multineuronal
dimensionality, dynamics and measurement", bioRxiv (2017) for the participation ratio.
"""

from __future__ import annotations

import numpy as np

from ..errors import LIDInputError
from ..neighbors import Neighbors
from ..settings import N_NEIGHBORS
from .base import NeighborhoodEstimator

VERSIONS = ("FO", "participation_ratio", "ratio")


def neighborhood_spectra(X: np.ndarray, members: np.ndarray, block: int = 256, threads: int | None = None) -> np.ndarray:
    """Covariance eigenvalues (n, L), descending, of each neighbourhood X[members[i]] (L points).

    Uses the L x L Gram matrix of the centred neighbourhood (L < d in practice), float64. Blocks
    of neighbourhoods run on ``threads`` threads (default: numba's thread count, which
    `lidscope.threads.limit_threads` caps), each with single-threaded BLAS: the products and
    eigensolvers are small, and a multi-threaded BLAS inside them only oversubscribes the cores
    (measured 20x slower on a loaded 2-core machine; docs/performance.md).
    """
    from concurrent.futures import ThreadPoolExecutor

    import numba
    from threadpoolctl import threadpool_limits

    n, L = members.shape
    out = np.empty((n, L))

    def one_block(start: int) -> None:
        P = X[members[start : start + block]].astype(np.float64)
        P -= P.mean(axis=1, keepdims=True)
        if P.shape[2] >= L:
            G = P @ P.transpose(0, 2, 1)
        else:
            G = P.transpose(0, 2, 1) @ P
        ev = np.linalg.eigvalsh(G)[:, ::-1].clip(min=0.0) / (L - 1)
        out[start : start + block, : ev.shape[1]] = ev
        out[start : start + block, ev.shape[1] :] = 0.0

    starts = range(0, n, block)
    workers = max(1, min(len(starts), numba.get_num_threads() if threads is None else int(threads)))
    with threadpool_limits(1):  # NumPy releases the GIL in matmul and eigvalsh: threads run in parallel
        if workers == 1:
            for start in starts:
                one_block(start)
        else:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(one_block, starts))
    return out


def dimension_from_spectra(ev: np.ndarray, version: str = "FO", alpha: float = 0.05) -> np.ndarray:
    """Local dimension (n,) from descending eigenvalues ev (n, L)."""
    if version == "FO":
        return (ev > alpha * ev[:, :1]).sum(axis=1).astype(np.float64)
    if version == "participation_ratio":
        return ev.sum(axis=1) ** 2 / (ev**2).sum(axis=1)
    if version == "ratio":
        share = np.cumsum(ev, axis=1) / ev.sum(axis=1, keepdims=True)
        return (share < 1.0 - alpha - 1e-12).sum(axis=1).astype(np.float64) + 1.0
    raise LIDInputError(f"version must be one of {VERSIONS}, got {version!r}.")


class LocalPCA(NeighborhoodEstimator):
    """Pointwise local-PCA dimension in each point's ``n_neighbors`` neighbours (scikit-learn style).

    ``fit(X)`` sets ``dimension_pw_`` (n,), ``dimension_`` (mean), ``explained_variance_pw_``
    (n, L) descending covariance eigenvalues, and ``neighbors_``; ``fit(X, neighbors=nb)`` uses
    precomputed lists (checked).
    """

    _min_neighbors = 2

    def __init__(self, n_neighbors: int = N_NEIGHBORS, version: str = "FO", alpha: float = 0.05, backend: str = "auto"):
        self.n_neighbors = n_neighbors
        self.version = version
        self.alpha = alpha
        self.backend = backend

    def fit(self, X, y=None, neighbors: Neighbors | None = None) -> "LocalPCA":
        if self.version not in VERSIONS:
            raise LIDInputError(f"version must be one of {VERSIONS}, got {self.version!r}.")
        X, neighbors, k = self._prepare(X, neighbors)
        spectra = neighborhood_spectra(X, neighbors.indices[:, :k])  # of the rescaled cloud: same shares
        self.explained_variance_pw_ = self._scale.variances_to_input(spectra)
        return self._finish(dimension_from_spectra(spectra, self.version, self.alpha), neighbors)
