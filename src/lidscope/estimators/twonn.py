"""TwoNN intrinsic dimension (Facco et al. 2017), global and local.

For each point, mu = r2 / r1 (second over first nearest-neighbour distance) follows a Pareto law
with shape d. Two fits, as in scikit-dimension's ``TwoNN``:

* ``linear`` (Facco et al.): sort the N ratios, drop the largest ``discard_fraction``, keep
  k = int(N (1 - f)); with the empirical fraction F_i, the slope through the origin of
  y = -log(1 - F_i) on x = log(mu_(i)), i.e. d = sum(x y) / sum(x x). ``empirical_fraction``
  names the reference it equals: "skdim-0.5" (F_i = i / N, scikit-dimension 0.5, the default) or
  "skdim-0.3.4" (F_i = (i - 1) / N, the release locked by the paper's own code; reads about
  2.6 % lower at L = 128, 5 % at L = 64).
* ``mle``: the unbiased Type-II-censored maximum likelihood estimate
  d = (k - 1) / (sum_{i<=k} log mu_(i) + (N - k) log mu_(k)) (Denti et al. 2022).

The local version (as ``TwoNN().fit_pw(X, n_neighbors=L)``) treats the L nearest neighbours of each
point, the point itself excluded, as a cloud of its own and fits TwoNN inside it.

References: E. Facco, M. d'Errico, A. Rodriguez, A. Laio, "Estimating the intrinsic dimension of
datasets by a minimal neighborhood information", Sci. Rep. 7, 12140 (2017). F. Denti et al.,
"The generalized ratios intrinsic dimension estimator", Sci. Rep. 12, 20005 (2022).
"""

from __future__ import annotations

import numpy as np

from ..errors import LIDInputError
from ..neighbors import Neighbors, kneighbors, resolve_backend
from ..settings import DISCARD_FRACTION, N_NEIGHBORS, TWONN_FRACTION, TWONN_FRACTIONS, check_linear_twonn
from ..validation import as_cloud, check_enough_points, check_fraction, check_list_values, require_distinct
from . import _kernels
from .base import NeighborhoodEstimator

METHODS = ("linear", "mle")


def fraction_offset(empirical_fraction: str) -> int:
    """i - F_i N of the linear fit: 0 for "skdim-0.5" (F_i = i / N), 1 for "skdim-0.3.4"."""
    if empirical_fraction not in TWONN_FRACTIONS:
        raise LIDInputError(
            f"empirical_fraction must be one of {TWONN_FRACTIONS} (the scikit-dimension release whose "
            f"TwoNN fit it equals), got {empirical_fraction!r}."
        )
    return TWONN_FRACTIONS.index(empirical_fraction)


def _check_method(method: str, discard_fraction: float = DISCARD_FRACTION) -> str:
    if method not in METHODS:
        raise LIDInputError(f"method must be one of {METHODS}, got {method!r}.")
    if method == "linear":
        check_linear_twonn(discard_fraction, "method='mle'")
    return method


def twonn_from_distances(
    r1: np.ndarray,
    r2: np.ndarray,
    discard_fraction: float = DISCARD_FRACTION,
    method: str = "linear",
    empirical_fraction: str = TWONN_FRACTION,
) -> float:
    """TwoNN dimension from first and second neighbour distances r1, r2 (n,) of n points.

    Points with r1 == 0 (duplicates) give undefined ratios and are left out, as in scikit-dimension.
    """
    _check_method(method, discard_fraction)
    offset = fraction_offset(empirical_fraction)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = np.asarray(r2, dtype=np.float64) / np.asarray(r1, dtype=np.float64)
    return float(_kernels.fit_ratios(mu, float(discard_fraction), method == "mle", offset))


def local_twonn_from_neighbors(
    X: np.ndarray,
    neighbors: Neighbors,
    n_neighbors: int,
    discard_fraction: float = DISCARD_FRACTION,
    method: str = "linear",
    *,
    empirical_fraction: str = TWONN_FRACTION,
    backend: str = "auto",
    device: str | None = None,
) -> tuple[np.ndarray, int]:
    """Local TwoNN of every point from precomputed neighbour lists (self excluded, sorted).

    Returns (estimates (n,), number of neighbourhood members whose r1/r2 were computed directly
    rather than read from their own neighbour list).
    """
    backend, device = resolve_backend(backend, device)
    offset = fraction_offset(empirical_fraction)
    check_list_values(X.shape[0], neighbors, n_neighbors)  # the compiled loop indexes with them
    if backend == "torch":
        est = _local_twonn_torch(X, neighbors.indices[:, :n_neighbors], discard_fraction, method, offset, device)
        return est, n_neighbors * X.shape[0]
    return _kernels.local_twonn(
        X, neighbors.distances, neighbors.indices, n_neighbors, float(discard_fraction), method == "mle", offset
    )


def _local_twonn_torch(
    X: np.ndarray, members: np.ndarray, discard_fraction: float, method: str, offset: int, device: str,
    block: int = 128,
) -> np.ndarray:
    """Batched L x L distances inside each neighbourhood (float64, centred Gram), on any device."""
    import torch

    X64 = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float64), device=device)
    members_t = torch.as_tensor(members, device=device)
    n, L = members.shape
    out = np.empty(n)
    with torch.inference_mode():
        for start in range(0, n, block):
            P = X64[members_t[start : start + block]]  # (b, L, d)
            P = P - P.mean(dim=1, keepdim=True)
            sq = (P * P).sum(-1)
            d2 = (sq[:, :, None] + sq[:, None, :] - 2.0 * P @ P.transpose(1, 2)).clamp_min_(0.0)
            d2.diagonal(dim1=1, dim2=2).fill_(float("inf"))
            r = d2.topk(2, dim=2, largest=False).values.sqrt()
            mu = r[..., 1] / r[..., 0]  # r1 == 0 gives inf (or nan for 0/0): dropped below
            mu = torch.where(torch.isfinite(mu), mu, torch.full_like(mu, float("inf"))).sort(dim=1).values
            out[start : start + block] = _fit_sorted_ratios_torch(mu, discard_fraction, method, offset).cpu().numpy()
    return out


def _fit_sorted_ratios_torch(mu, discard_fraction: float, method: str, offset: int):
    import torch

    finite = torch.isfinite(mu)
    n = finite.sum(1, keepdim=True).to(mu.dtype)
    keep = torch.floor(n * (1.0 - discard_fraction))
    i = torch.arange(1, mu.shape[1] + 1, device=mu.device, dtype=mu.dtype)[None, :]
    used = i <= keep
    x = torch.where(used, torch.log(torch.where(finite, mu, torch.ones_like(mu))), torch.zeros_like(mu))
    if method == "mle":
        last = x.gather(1, (keep.long() - 1).clamp_min(0))
        d = (keep - 1) / (x.sum(1, keepdim=True) + (n - keep) * last)
    else:
        y = torch.where(used, -torch.log1p(-torch.clamp((i - offset) / n, max=1.0 - 1e-300)), torch.zeros_like(mu))
        d = (x * y).sum(1, keepdim=True) / (x * x).sum(1, keepdim=True)
    return torch.where(keep >= 2, d, torch.full_like(d, float("nan"))).squeeze(1)


class TwoNN(NeighborhoodEstimator):
    """Global TwoNN estimator (scikit-learn style).

    Parameters: ``discard_fraction`` in [0, 1) of largest ratios dropped (0.1); ``method``
    "linear" or "mle"; ``empirical_fraction`` "skdim-0.5" or "skdim-0.3.4" (see the module).
    ``fit(X)`` with X (n, d) of distinct finite rows sets ``dimension_`` (float), ``r1_`` and
    ``r2_`` (n,) nearest and second-nearest neighbour distances.
    """

    _min_neighbors = 2

    def __init__(
        self,
        discard_fraction: float = DISCARD_FRACTION,
        method: str = "linear",
        backend: str = "auto",
        empirical_fraction: str = TWONN_FRACTION,
    ):
        self.discard_fraction = discard_fraction
        self.method = method
        self.backend = backend
        self.empirical_fraction = empirical_fraction

    def fit(self, X, y=None) -> "TwoNN":
        check_fraction(self.discard_fraction, "discard_fraction")
        _check_method(self.method, self.discard_fraction)
        fraction_offset(self.empirical_fraction)
        X, nb, _ = self._prepare(X, None, n_neighbors=2)  # r1 and r2 (rescaled units: same ratios)
        self.r1_, self.r2_ = self._input_neighbors.distances[:, 0], self._input_neighbors.distances[:, 1]
        self.dimension_ = twonn_from_distances(
            nb.distances[:, 0], nb.distances[:, 1], self.discard_fraction, self.method, self.empirical_fraction
        )
        return self


class LocalTwoNN(NeighborhoodEstimator):
    """Pointwise TwoNN in each point's ``n_neighbors`` nearest neighbours (scikit-learn style).

    Same numbers as ``skdim.id.TwoNN(discard_fraction, method).fit_pw(X, n_neighbors=L)`` of the
    scikit-dimension release named by ``empirical_fraction`` ("skdim-0.5", the default, or
    "skdim-0.3.4", the paper's locked release). ``fit(X)`` with X (n, d) of distinct finite rows,
    n > L, sets ``dimension_pw_`` (n,) local estimates, ``dimension_`` their mean, ``neighbors_``
    the (n, L) neighbour lists and ``n_direct_`` how many member distances were computed directly
    (not reused). ``fit(X, neighbors=nb)`` uses precomputed lists (checked against X).
    ``backend``: "auto" (CUDA torch if present, else BLAS + numba), "numba" or "torch".
    """

    def __init__(
        self,
        n_neighbors: int = N_NEIGHBORS,
        discard_fraction: float = DISCARD_FRACTION,
        method: str = "linear",
        backend: str = "auto",
        device: str | None = None,
        empirical_fraction: str = TWONN_FRACTION,
    ):
        self.n_neighbors = n_neighbors
        self.discard_fraction = discard_fraction
        self.method = method
        self.backend = backend
        self.device = device
        self.empirical_fraction = empirical_fraction

    def fit(self, X, y=None, neighbors: Neighbors | None = None) -> "LocalTwoNN":
        check_fraction(self.discard_fraction, "discard_fraction")
        _check_method(self.method, self.discard_fraction)
        fraction_offset(self.empirical_fraction)
        X, neighbors, L = self._prepare(X, neighbors)
        pw, self.n_direct_ = local_twonn_from_neighbors(
            X, neighbors, L, self.discard_fraction, self.method,
            empirical_fraction=self.empirical_fraction, backend=self.backend, device=self.device,
        )
        return self._finish(pw, neighbors)
