"""Exact power-of-two rescaling: any finite cloud brought into the range the float32 search and the
float64 distances are safe in, without changing a single mantissa.

The neighbour search forms float32 squared distances |x|^2 + |y|^2 - 2 x.y of the centred cloud, and
the re-rank float64 squared differences: a cloud of spread 1e19 overflows float32, one of 1e160
float64, one of 1e-200 underflows both. Every estimator reads only ratios of distances (TwoNN's
r2 / r1, MLE's T_k / T_j, local PCA's eigenvalue shares), so the answer does not depend on a uniform
scale. `rescaled` multiplies a cloud whose spread (its largest column range) lies outside
[2^SPREAD_LOW, 2^SPREAD_HIGH / sqrt(d)] by 2^e, e chosen to bring the spread to [1/2, 1):
multiplying by a power of two only shifts exponents, so each coordinate, each difference, each
squared distance and each float32 rounding of the rescaled cloud is that of the input times a power
of two, and the neighbour lists and estimates are those of the input, bit for bit, wherever the
input's own arithmetic was in range. Columns that hold one value on every row are set to 0 in the
rescaled copy (exact: they add nothing to any distance), so a constant offset of 1e300 beside a
spread of 1e-300 cannot overflow. Clouds already in range are used as they are (no copy): the
numbers of ordinary clouds do not change.

The rescale can lose bits only by scaling down a cloud whose coordinates span more than float64's
exponent range (coordinates below 2^-1022 of the spread become subnormal); `check_resolved` then
refuses clouds whose nearest-neighbour distances are small enough for those bits to matter.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .errors import LIDInputError

#: Spreads (largest column range) in [2^SPREAD_LOW, 2^SPREAD_HIGH / sqrt(d)] are searched unscaled:
#: float32 squared norms then stay within 2^-80 .. 2^82 of overflow and underflow.
SPREAD_LOW = -40
SPREAD_HIGH = 40
#: Largest |coordinate| / spread searched unscaled (a far offset in a constant column would leave a
#: float32 residue after centring).
OFFSET_HIGH = 60
#: Nearest-neighbour distances (in rescaled units, spread ~1) below this may carry the rounding of
#: coordinates that became subnormal in an inexact rescale: 2^-1022 x 2^53.
RESOLVED = 2.0**-969
#: Rows per chunk of the passes over the cloud.
_CHUNK = 16384


@dataclass(frozen=True)
class Rescaled:
    """A cloud ready for the search: ``X`` = input x 2^``exponent`` (the input itself when 0).

    ``input``: the cloud as given (its rows' content breaks distance ties); ``exact``: no
    coordinate lost a bit in the rescale.
    """

    X: np.ndarray
    exponent: int
    exact: bool
    input: np.ndarray

    def distances_to_input(self, distances: np.ndarray, what: str = "neighbour distances") -> np.ndarray:
        """``distances`` (rescaled units) in the input's units; LIDInputError where float64 cannot
        hold them (beyond 1.8e308, or subnormal below 2.2e-308 and so not exact)."""
        if self.exponent == 0:
            return distances
        with np.errstate(over="ignore", under="ignore"):
            out = np.ldexp(distances, -self.exponent)
        tiny = np.finfo(np.float64).tiny
        bad = ~np.isfinite(out) | ((distances > 0) & (out < tiny))
        if bad.any():
            lo, hi = float(np.min(distances[distances > 0], initial=np.inf)), float(np.max(distances))
            raise LIDInputError(
                f"The {what} of this cloud are beyond float64's range in its own units (from "
                f"{lo:.3g} x 2^{-self.exponent} to {hi:.3g} x 2^{-self.exponent}), so they cannot be returned. "
                f"Multiply X by a power of two first (e.g. np.ldexp(X, {self.exponent})), or use "
                "lidscope.local_dimensions without return_neighbors, which works in rescaled units."
            )
        return out

    def variances_to_input(self, variances: np.ndarray) -> np.ndarray:
        """Variances (rescaled units squared) in the input's units squared. Where float64 cannot hold
        them (inf or 0 past its range) a RuntimeWarning says so; dimensions computed from the
        rescaled variances are unaffected."""
        if self.exponent == 0:
            return variances
        with np.errstate(over="ignore", under="ignore"):
            out = np.ldexp(variances, -2 * self.exponent)
        if (~np.isfinite(out) | ((variances > 0) & (out < np.finfo(np.float64).tiny))).any():
            warnings.warn(
                f"Some variances of this cloud are beyond float64's range in its units squared (the cloud "
                f"was measured x 2^{self.exponent}); they read inf or 0 (or lose digits). The dimensions "
                "were computed before this conversion and are unaffected.",
                RuntimeWarning,
                stacklevel=3,
            )
        return out


def _column_ranges(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    colmax = X.max(axis=0).astype(np.float64)
    colmin = X.min(axis=0).astype(np.float64)
    if not (np.isfinite(colmax).all() and np.isfinite(colmin).all()):
        raise LIDInputError(
            "X has NaN or inf values. Drop or repair those rows before estimating: "
            "X = X[np.isfinite(X).all(axis=1)]."
        )
    return colmax, colmin


def rescaled(X: np.ndarray) -> Rescaled:
    """``X`` (n, d) float, finite, as a cloud that is safe to search (see the module).

    Raises LIDInputError for NaN or inf values.
    """
    X = np.ascontiguousarray(X)
    if X.size == 0:
        return Rescaled(X, 0, True, X)
    colmax, colmin = _column_ranges(X)
    # each column's range as mantissa x 2^exponent, scaled by its own largest |value| first, so
    # that neither 1e308 - (-1e308) overflows nor a column of 1e-300 beside one of 1e300 underflows
    tops = np.maximum(np.abs(colmax), np.abs(colmin))
    varying = colmax > colmin  # constant columns add nothing to any distance
    if not varying.any():  # every row the same point: nothing to search, nothing to scale
        return Rescaled(X, 0, True, X)
    e_col = np.frexp(tops[varying])[1].astype(np.int64)
    _, e_mant = np.frexp(np.ldexp(colmax[varying], -e_col) - np.ldexp(colmin[varying], -e_col))
    e_spread = int((e_mant + e_col).max())  # spread (largest column range) in [2^(e_spread - 1), 2^e_spread)
    e_top = int(np.frexp(float(tops.max()))[1])  # |coordinates| < 2^e_top
    half_log_d = 0.5 * np.log2(X.shape[1])
    if (e_spread - 1 >= SPREAD_LOW and e_spread + half_log_d <= SPREAD_HIGH
            and e_top - e_spread <= OFFSET_HIGH):
        return Rescaled(X, 0, True, X)
    exponent = -e_spread
    constant = np.flatnonzero(~varying)
    Xs = np.empty(X.shape, dtype=np.float64)
    smallest = np.inf  # smallest nonzero |coordinate| outside the constant columns
    for s in range(0, X.shape[0], _CHUNK):
        part = X[s : s + _CHUNK].astype(np.float64)
        part[:, constant] = 0.0
        if exponent < 0:
            a = np.abs(part)
            smallest = min(smallest, float(np.min(a, where=a > 0, initial=np.inf)))
        with np.errstate(under="ignore"):
            Xs[s : s + _CHUNK] = np.ldexp(part, exponent)
    # scaling up is exact (the non-constant columns' coordinates are below 2^54 of the spread);
    # scaling down is exact unless a coordinate becomes subnormal
    exact = exponent > 0 or smallest == np.inf or np.ldexp(smallest, exponent) >= np.finfo(np.float64).tiny
    return Rescaled(Xs, exponent, bool(exact), X)


def check_resolved(scaled: Rescaled, nearest: np.ndarray) -> None:
    """Refuses a cloud whose inexact rescale could have moved its nearest-neighbour distances
    ``nearest`` (rescaled units) by more than float64 rounding."""
    if scaled.exact or nearest.size == 0:
        return
    smallest = float(nearest.min())
    if smallest < RESOLVED:
        raise LIDInputError(
            "X spans more than float64's exponent range: its spread is about "
            f"2^{-scaled.exponent} while some neighbours are only {smallest:.3g} x 2^{-scaled.exponent} "
            "apart, and some of its coordinates are below 2^-1022 of the spread, so no float64 "
            "rescale keeps them. Drop the tiny coordinates (set them to 0) or the huge columns, "
            "whichever carries no information."
        )
