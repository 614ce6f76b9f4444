"""``local_dimensions``: one call from a point cloud to validated, summarised local dimensions."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from .errors import LIDInputError
from .estimators.lpca import LocalPCA
from .estimators.mle import LocalMLE
from .estimators.twonn import LocalTwoNN, fraction_offset, twonn_from_distances
from .neighbors import Neighbors, resolve_backend, search_rescaled
from .scaling import rescaled
from .settings import (DISCARD_FRACTION, ESTIMATOR, ESTIMATORS, N_NEIGHBORS, SEED, TWONN_FRACTION,
                       check_linear_twonn)
from .validation import as_cloud, check_enough_points, check_fraction, check_neighbors_param, deduplicate

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)

Progress = Callable[[str, int, int], None]


@dataclass
class LocalDimensions:
    """Local intrinsic dimensions of a point cloud and their summary.

    ``estimates`` (n_input,) float64: one local estimate per input row, NaN for rows left out
    (exact duplicates of an earlier row, or rows not among the first ``n_points`` sampled).
    ``kept_index`` (n_points,) the input rows that were estimated, in the order used;
    ``duplicate_of`` (n_input,) the kept row each input row equals (-1 where not estimated and
    not a duplicate). Distances are in the units of the input; dimensions are unitless.
    ``n_direct``: neighbourhood members whose r1/r2 needed direct distances (see LocalTwoNN);
    ``n_searched_again``: points whose neighbour search was repeated wider to prove it exact.
    """

    estimates: np.ndarray
    kept_index: np.ndarray
    duplicate_of: np.ndarray
    global_estimate: float
    n_input: int
    n_duplicates_removed: int
    params: dict[str, Any]
    timings: dict[str, float]
    n_direct: int = 0
    n_searched_again: int = 0
    neighbor_indices: np.ndarray | None = None
    neighbor_distances: np.ndarray | None = None
    _values: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._values = self.estimates[self.kept_index]

    @property
    def values(self) -> np.ndarray:
        """The n_points local estimates in ``kept_index`` order (no NaN padding)."""
        return self._values

    @property
    def n_points(self) -> int:
        return int(self.kept_index.size)

    @property
    def n_undefined(self) -> int:
        """Neighbourhoods whose estimate is undefined (e.g. all ratios equal on a lattice)."""
        return int(np.count_nonzero(~np.isfinite(self._values)))

    @property
    def mean(self) -> float:
        return float(np.nanmean(self._values))

    @property
    def median(self) -> float:
        return float(np.nanmedian(self._values))

    @property
    def std(self) -> float:
        """Standard deviation of the local estimates, ddof=1."""
        return float(np.nanstd(self._values, ddof=1))

    @property
    def quantiles(self) -> dict[float, float]:
        qs = np.nanquantile(self._values, QUANTILES)
        return {q: float(v) for q, v in zip(QUANTILES, qs)}

    def summary(self) -> dict[str, Any]:
        """A JSON-able dict: statistics, counts, parameters and timings."""
        return {
            "mean": self.mean,
            "median": self.median,
            "std": self.std,
            "quantiles": {str(q): v for q, v in self.quantiles.items()},
            "min": float(np.nanmin(self._values)),
            "max": float(np.nanmax(self._values)),
            "global_estimate": self.global_estimate,
            "n_input": self.n_input,
            "n_duplicates_removed": self.n_duplicates_removed,
            "n_points": self.n_points,
            "n_undefined": self.n_undefined,
            "n_direct_member_distances": self.n_direct,
            "n_searched_again": self.n_searched_again,
            "params": dict(self.params),
            "timings_s": dict(self.timings),
        }

    def __repr__(self) -> str:
        return (
            f"LocalDimensions(mean={self.mean:.4f}, median={self.median:.4f}, std={self.std:.4f}, "
            f"global={self.global_estimate:.4f}, n_points={self.n_points}, "
            f"duplicates_removed={self.n_duplicates_removed}, estimator={self.params['estimator']!r})"
        )


def local_dimensions(
    X,
    n_neighbors: int = N_NEIGHBORS,
    estimator: str = ESTIMATOR,
    discard_fraction: float = DISCARD_FRACTION,
    *,
    empirical_fraction: str = TWONN_FRACTION,
    n_points: int | None = None,
    random_state: int | None = SEED,
    dedup: bool = True,
    estimator_params: Mapping[str, Any] | None = None,
    return_neighbors: bool = False,
    backend: str = "auto",
    device: str | None = None,
    progress: Progress | None = None,
) -> LocalDimensions:
    """Local intrinsic dimension of every point of a cloud, with the paper's defaults.

    X: (n, d) array (NumPy, torch on any device, or array-like) of finite numbers.
    n_neighbors: L, the neighbourhood size (the point itself excluded); 128 in the paper.
    estimator: "twonn" (linear fit, as ``skdim TwoNN.fit_pw``), "twonn_mle", "mle"
        (Levina-Bickel over the L neighbours) or "lpca" (local PCA; ``estimator_params``
        may set ``version`` and ``alpha``).
    discard_fraction: share of the largest TwoNN ratios dropped in every fit (0.1).
    empirical_fraction: the linear TwoNN fit's F_i, named by the scikit-dimension release it
        equals: "skdim-0.5" (i / N, default) or "skdim-0.3.4" ((i - 1) / N, the paper's code).
    n_points: if set, shuffle rows with ``random_state``, drop exact duplicates keeping the
        first occurrence, and keep the first ``n_points`` (the paper's sampling); otherwise use
        every distinct row in input order.
    dedup: remove exact duplicate rows (counted in ``n_duplicates_removed``). With
        ``dedup=False`` duplicates raise an error, since they make r1 = 0.
    backend / device: "auto" uses CUDA through torch if available, else BLAS + numba on CPU;
        "torch" runs on ``device`` (same numbers to rounding; both prove the lists exact, and
        ``params["search"]`` records how).
    progress: optional callback ``progress(stage, done, total)``.

    The global estimate is TwoNN (linear, or MLE for "twonn_mle") over all kept points, read
    from the first two columns of the neighbour lists.
    """
    t0 = time.perf_counter()
    if estimator not in ESTIMATORS:
        raise LIDInputError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}.")
    L = check_neighbors_param(n_neighbors, minimum=2 if estimator == "lpca" else 3)
    discard_fraction = check_fraction(discard_fraction, "discard_fraction")
    if estimator == "twonn":
        check_linear_twonn(discard_fraction)
    fraction_offset(empirical_fraction)
    resolve_backend(backend, device)
    if n_points is not None and (isinstance(n_points, bool) or int(n_points) < 1):
        raise LIDInputError(f"n_points must be a positive integer or None, got {n_points!r}.")
    X = as_cloud(X)
    n_input = X.shape[0]
    if progress:
        progress("dedup", 0, 1)

    order = np.arange(n_input)
    if n_points is not None:
        order = np.random.default_rng(random_state).permutation(n_input)
    d = deduplicate(X[order])
    first_pos = d.kept  # positions in `order` of first occurrences, ascending
    n_removed = d.n_removed
    if n_removed and not dedup:
        raise LIDInputError(
            f"X has {n_removed} exact duplicate row(s), which give zero neighbour distances; "
            "use dedup=True (the default) to drop them."
        )
    if n_points is not None:
        first_pos = first_pos[: int(n_points)]
    kept = order[first_pos]
    duplicate_of = np.full(n_input, -1, dtype=np.int64)
    duplicate_of[order] = order[d.duplicate_of]
    duplicate_of[~np.isin(duplicate_of, kept)] = -1
    check_enough_points(kept.size, L, n_removed)
    # every estimate reads ratios of distances only: a cloud outside the float32 search's range is
    # measured rescaled by an exact power of two (lidscope.scaling), which changes no ratio
    scaled = rescaled(X[kept])
    cloud = scaled.X
    timings = {"validate_dedup": time.perf_counter() - t0}
    if progress:
        progress("dedup", 1, 1)

    t = time.perf_counter()
    nb = search_rescaled(scaled, L, backend=backend, device=device, progress=progress)
    timings["neighbors"] = time.perf_counter() - t

    t = time.perf_counter()
    if progress:
        progress("estimates", 0, 1)
    params = dict(estimator_params or {})
    n_direct = 0
    if estimator in ("twonn", "twonn_mle"):
        method = "mle" if estimator == "twonn_mle" else "linear"
        fitted = LocalTwoNN(
            L, discard_fraction, method, backend=backend, device=device, empirical_fraction=empirical_fraction
        ).fit(cloud, neighbors=nb)
        n_direct = int(fitted.n_direct_)
    elif estimator == "mle":
        fitted = LocalMLE(L, **params).fit(cloud, neighbors=nb)
    else:
        fitted = LocalPCA(L, **params).fit(cloud, neighbors=nb)
    timings["estimates"] = time.perf_counter() - t
    if progress:
        progress("estimates", 1, 1)

    glob_method = "mle" if estimator == "twonn_mle" else "linear"
    global_estimate = twonn_from_distances(
        nb.distances[:, 0], nb.distances[:, 1], discard_fraction, glob_method, empirical_fraction
    )
    timings["total"] = time.perf_counter() - t0

    estimates = np.full(n_input, np.nan)
    estimates[kept] = fitted.dimension_pw_
    n_undefined = int(np.count_nonzero(~np.isfinite(fitted.dimension_pw_)))
    if n_undefined:
        warnings.warn(
            f"{n_undefined} of {kept.size} neighbourhoods have an undefined estimate (NaN), e.g. "
            "because all distance ratios are equal (a regular lattice); statistics leave them out "
            "and count them in n_undefined.",
            RuntimeWarning,
            stacklevel=2,
        )
    return LocalDimensions(
        estimates=estimates,
        kept_index=kept,
        duplicate_of=duplicate_of,
        global_estimate=global_estimate,
        n_input=n_input,
        n_duplicates_removed=n_removed,
        params={
            "n_neighbors": L,
            "estimator": estimator,
            "discard_fraction": discard_fraction,
            "empirical_fraction": None if estimator == "twonn_mle" else empirical_fraction,
            "n_points": None if n_points is None else int(n_points),
            "random_state": random_state,
            "dedup": dedup,
            "self_excluded": True,
            "distance": "euclidean, float64 re-ranked",
            "search": nb.method,
            "estimator_params": params,
            "backend": resolve_backend(backend, device)[0],
            "device": resolve_backend(backend, device)[1],
            "input_dtype": str(X.dtype),
            "n_features": int(X.shape[1]),
        },
        timings=timings,
        n_direct=n_direct,
        n_searched_again=nb.n_searched_again,
        neighbor_indices=kept[nb.indices] if return_neighbors else None,
        neighbor_distances=scaled.distances_to_input(nb.distances) if return_neighbors else None,
    )
