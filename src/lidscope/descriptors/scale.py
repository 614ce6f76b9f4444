"""The dimension as a function of scale: the TwoNN scale profile and GRIDE, from one neighbour search.

Both read sorted neighbour lists (self excluded, `lidscope.kneighbors`): the profile's local TwoNN at
size L uses the first L columns, GRIDE's scale n1 the ratio of columns 2 n1 and n1. One search at the
largest rank serves every scale of both.

References: E. Facco et al., Sci. Rep. 7, 12140 (2017) (TwoNN). F. Denti, D. Doimo, A. Laio, A. Mira,
"The generalized ratios intrinsic dimension estimator", Sci. Rep. 12, 20005 (2022) (GRIDE).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from ..errors import LIDInputError
from ..estimators.twonn import _check_method, fraction_offset, local_twonn_from_neighbors
from ..neighbors import Neighbors, kneighbors
from ..settings import (DISCARD_FRACTION, GRIDE_D0, GRIDE_D1, GRIDE_EPS, GRIDE_MAX_RANK,
                        SCALE_PROFILE_NEIGHBORS, TWONN_FRACTION)
from ..validation import as_cloud, check_fraction, check_neighbor_lists, require_distinct


def _check_sizes(sizes, minimum: int, what: str) -> tuple[int, ...]:
    try:
        out = tuple(sorted({int(s) for s in sizes}))
    except (TypeError, ValueError):
        raise LIDInputError(f"{what} must be integers, got {sizes!r}.") from None
    if not out or out[0] < minimum:
        raise LIDInputError(f"{what} must be integers >= {minimum}, got {sizes!r}.")
    return out


def _neighbors_for(X: np.ndarray, neighbors: Neighbors | None, k: int, backend: str, device) -> Neighbors:
    if neighbors is None:
        require_distinct(X)
        return kneighbors(X, k, backend=backend, device=device)
    check_neighbor_lists(X, neighbors, k)
    return neighbors


class ScaleProfile(BaseEstimator):
    """Mean local TwoNN as a function of the neighbourhood size L (scikit-learn style).

    Parameters: ``n_neighbors`` the sizes L (sorted, each >= 3; default
    `settings.SCALE_PROFILE_NEIGHBORS`); ``discard_fraction``, ``method``, ``empirical_fraction``
    as `LocalTwoNN`; ``backend`` / ``device`` of the one neighbour search.

    ``fit(X)`` with X (n, d) of distinct finite rows searches the max(L) nearest neighbours once and
    fits the local TwoNN of every point at every L on the first L columns: the same numbers as
    ``skdim.id.TwoNN().fit_pw(X, n_neighbors=L)`` at each L. Sizes L >= n cannot be fitted and raise;
    `lidscope.geometry` drops them and says so.

    Fitted: ``n_neighbors_`` (m,) the sizes; ``mean_`` / ``median_`` / ``std_`` (m,) of the local
    estimates at each L (std ddof=1); ``dimension_pw_`` (n, m); ``neighbors_``. Unitless.
    ``fit(X, neighbors=nb)`` uses precomputed lists with >= max(L) columns.
    """

    def __init__(self, n_neighbors=SCALE_PROFILE_NEIGHBORS, discard_fraction: float = DISCARD_FRACTION,
                 method: str = "linear", empirical_fraction: str = TWONN_FRACTION, backend: str = "auto",
                 device: str | None = None):
        self.n_neighbors = n_neighbors
        self.discard_fraction = discard_fraction
        self.method = method
        self.empirical_fraction = empirical_fraction
        self.backend = backend
        self.device = device

    def fit(self, X, y=None, neighbors: Neighbors | None = None) -> "ScaleProfile":
        sizes = _check_sizes(self.n_neighbors, 3, "n_neighbors (the profile's sizes L)")
        check_fraction(self.discard_fraction, "discard_fraction")
        _check_method(self.method, self.discard_fraction)
        fraction_offset(self.empirical_fraction)
        X = as_cloud(X)
        if sizes[-1] >= X.shape[0]:
            raise LIDInputError(f"the scale profile's largest L = {sizes[-1]} needs more than {sizes[-1]} distinct "
                                f"points; X has {X.shape[0]}. Use smaller sizes or more points.")
        nb = _neighbors_for(X, neighbors, sizes[-1], self.backend, self.device)
        pw = np.empty((X.shape[0], len(sizes)))
        for j, L in enumerate(sizes):
            pw[:, j], _ = local_twonn_from_neighbors(
                X, nb, L, self.discard_fraction, self.method, empirical_fraction=self.empirical_fraction,
                backend=self.backend, device=self.device)
        undefined = ~np.isfinite(pw)
        if undefined.any():
            j = int(np.flatnonzero(undefined.any(axis=0))[0])
            raise LIDInputError(f"{int(undefined.sum())} local TwoNN estimates of the scale profile are undefined "
                                f"(first at L = {sizes[j]}), e.g. all distance ratios equal on a lattice.")
        self.n_neighbors_ = np.asarray(sizes)
        self.dimension_pw_ = pw
        self.mean_ = pw.mean(axis=0)
        self.median_ = np.median(pw, axis=0)
        self.std_ = pw.std(axis=0, ddof=1) if X.shape[0] > 1 else np.zeros(len(sizes))
        self.neighbors_ = nb
        self.n_features_in_ = X.shape[1]
        return self


def gride_ranks(max_rank: int) -> np.ndarray:
    """The doubling ranks 1, 2, 4, ..., 2**floor(log2(max_rank)) (DADApy's ``nn_ranks``)."""
    return 2 ** np.arange(int(np.floor(np.log2(max_rank))) + 1)


def _neg_dloglik(d: float, mus: np.ndarray, log_mus: np.ndarray, n1: int, n2: int, eps: float) -> float:
    """Minus the derivative in d of the GRIDE log-likelihood (the (N - 1) / d form of DADApy 0.3.4)."""
    one_m = 1.0 - mus ** (-d)
    one_m = np.maximum(one_m, 2 * eps)
    return float(np.sum(((1 - n2 + n1) / one_m + n2 - 1.0) * log_mus) - (mus.size - 1) / d)


def gride_single_scale(mus: np.ndarray, n1: int, n2: int, d0: float = GRIDE_D0, d1: float = GRIDE_D1,
                       eps: float = GRIDE_EPS, dtype=np.float64) -> tuple[float, float]:
    """(ID, its standard error) from the ratios mus (n,) = r_{n2} / r_{n1} of every point.

    The maximum-likelihood root is bracketed in [d0, d1] and bisected to ``eps``, as DADApy 0.3.4:
    ratios equal to 1 are raised by 10 float eps of ``dtype``; ratios at or above
    median + 20 (q95 - median) (overlapping points) are left out of the root; the error is the
    inverse square root of the Fisher information over all ratios.
    """
    mus = np.array(mus, dtype=np.float64)
    mus[mus == 1] += 10 * np.finfo(dtype).eps
    q95, q50 = np.percentile(mus, [95, 50])
    kept = mus[mus < 20 * (q95 - q50) + q50]
    if kept.size < 2:
        raise LIDInputError(f"GRIDE at n1 = {n1} has {kept.size} usable distance ratios; it needs at least 2.")
    log_kept = np.log(kept)
    lo, hi = float(d0), float(d1)
    f_hi = _neg_dloglik(hi, kept, log_kept, n1, n2, eps)
    while abs(lo - hi) > eps:
        mid = (lo + hi) / 2.0
        if _neg_dloglik(mid, kept, log_kept, n1, n2, eps) * f_hi > 0:
            hi = mid
        else:
            lo = mid
    d = (lo + hi) / 2.0
    # Fisher information (DADApy's regularisation: 1 - mu^-d floored at 5 float eps)
    one_m = np.maximum(1.0 - mus ** (-d), 5 * np.finfo(dtype).eps)
    info = mus.size / d**2 + (n2 - n1 - 1) * np.sum((np.log(mus) / one_m) ** 2 * mus ** (-d))
    return d, float(info ** -0.5)


class GRIDE(BaseEstimator):
    """GRIDE: the global ID at doubling neighbour ranks n1 = 1, 2, 4, ..., n2 = 2 n1 (scikit-learn style).

    Parameters: ``max_rank`` the largest n2 (default `settings.GRIDE_MAX_RANK`; ranks are the powers
    of 2 up to it); ``d0`` / ``d1`` / ``eps`` the likelihood bracket and bisection precision;
    ``backend`` / ``device`` of the neighbour search.

    ``fit(X)`` with X (n, d) of distinct finite rows, n > max_rank. Fitted: ``n1_`` / ``n2_`` (m,)
    the ranks; ``dimension_`` (m,) the ID at each scale, ``dimension_err_`` (m,) its standard
    error; ``scale_`` (m,) the mean distance of the n1-th and n2-th neighbours over all points (the
    input's distance units), as DADApy's ``return_id_scaling_gride`` returns (ids, ids_err, rs).
    """

    def __init__(self, max_rank: int = GRIDE_MAX_RANK, d0: float = GRIDE_D0, d1: float = GRIDE_D1,
                 eps: float = GRIDE_EPS, backend: str = "auto", device: str | None = None):
        self.max_rank = max_rank
        self.d0 = d0
        self.d1 = d1
        self.eps = eps
        self.backend = backend
        self.device = device

    def fit(self, X, y=None, neighbors: Neighbors | None = None) -> "GRIDE":
        (max_rank,) = _check_sizes([self.max_rank], 2, "max_rank")
        if not 0 < self.d0 < self.d1:
            raise LIDInputError(f"GRIDE needs 0 < d0 < d1, got d0={self.d0!r}, d1={self.d1!r}.")
        X = as_cloud(X)
        if max_rank >= X.shape[0]:
            raise LIDInputError(f"GRIDE's max_rank = {max_rank} needs more than {max_rank} distinct points; X has "
                                f"{X.shape[0]}. Use a smaller max_rank or more points.")
        ranks = gride_ranks(max_rank)
        nb = _neighbors_for(X, neighbors, int(ranks[-1]), self.backend, self.device)
        dist = nb.distances
        if (dist[:, 0] <= 0).any():
            raise LIDInputError("GRIDE needs distinct points: some first-neighbour distances are 0.")
        n1, n2 = ranks[:-1], ranks[1:]
        ids, errs = np.empty(n1.size), np.empty(n1.size)
        for i, (a, b) in enumerate(zip(n1, n2)):
            ids[i], errs[i] = gride_single_scale(dist[:, b - 1] / dist[:, a - 1], int(a), int(b), self.d0, self.d1,
                                                 self.eps, X.dtype)
        self.n1_, self.n2_ = n1, n2
        self.dimension_, self.dimension_err_ = ids, errs
        self.scale_ = (dist[:, n1 - 1].mean(axis=0) + dist[:, n2 - 1].mean(axis=0)) / 2.0
        self.neighbors_ = nb
        self.n_features_in_ = X.shape[1]
        return self
