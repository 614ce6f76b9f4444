"""Checks at the boundary: turn user input into a clean (n, d) float array or a clear error."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import LIDInputError


def as_cloud(X, *, name: str = "X") -> np.ndarray:
    """(n, d) float32/float64 NumPy array from an array-like or torch tensor; finite values only.

    Float32 and float64 are kept as they are; other floats become float32, integers and
    booleans float64. Raises LIDInputError for non-numeric, non-2-D, empty or non-finite input.
    """
    if hasattr(X, "detach") and hasattr(X, "cpu"):  # torch tensor, on any device
        X = X.detach().cpu()
        if str(X.dtype) in ("torch.bfloat16", "torch.float16"):
            X = X.float()
        X = X.numpy()
    try:
        arr = np.asarray(X)
    except (ValueError, TypeError) as exc:
        raise LIDInputError(f"{name} could not be read as a numeric array ({exc}).") from None
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    elif arr.dtype.kind == "f":
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float32)
    else:
        raise LIDInputError(
            f"{name} must hold numbers; got dtype {arr.dtype}. Convert it to a float array first."
        )
    if arr.ndim != 2:
        hint = " For n scalar values use X.reshape(-1, 1)." if arr.ndim == 1 else ""
        raise LIDInputError(f"{name} must be 2-D (n_points, n_features); got shape {arr.shape}.{hint}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise LIDInputError(f"{name} is empty: shape {arr.shape}.")
    finite = np.isfinite(arr).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        shown = ", ".join(map(str, bad[:5])) + (", ..." if bad.size > 5 else "")
        raise LIDInputError(
            f"{name} has {bad.size} row(s) with NaN or inf (rows {shown}). "
            "Drop or repair them before estimating: X = X[np.isfinite(X).all(axis=1)]."
        )
    return np.ascontiguousarray(arr)


@dataclass(frozen=True)
class Dedup:
    """Exact-duplicate removal that keeps each row's first occurrence, in input order.

    ``kept`` (m,) row ids of the distinct rows, ascending; ``duplicate_of`` (n,) the kept row id
    each input row equals (its own id for kept rows).
    """

    kept: np.ndarray
    duplicate_of: np.ndarray

    @property
    def n_removed(self) -> int:
        return int(self.duplicate_of.size - self.kept.size)


def deduplicate(X: np.ndarray) -> Dedup:
    """Finds exact duplicate rows of X (n, d); -0.0 and 0.0 count as equal.

    Rows are first grouped by their leading 16 bytes (a cheap sort); the grouping is accepted only
    if every row equals its group's first row, else rows are grouped by all their bytes.
    """
    rows = np.ascontiguousarray(X + X.dtype.type(0))  # folds -0.0 into 0.0
    width = rows.dtype.itemsize * rows.shape[1]

    def group(nbytes: int) -> tuple[np.ndarray, np.ndarray]:
        keys = np.ascontiguousarray(rows.view(np.uint8).reshape(rows.shape[0], width)[:, :nbytes])
        _, first, inverse = np.unique(keys.view(np.dtype((np.void, nbytes))).ravel(),
                                      return_index=True, return_inverse=True)
        return first, first[inverse.ravel()]

    first, duplicate_of = group(min(16, width))
    if width > 16 and not np.array_equal(rows, rows[duplicate_of]):
        first, duplicate_of = group(width)
    return Dedup(kept=np.sort(first), duplicate_of=duplicate_of)


def check_neighbors_param(n_neighbors: int, minimum: int = 3) -> int:
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, (int, np.integer)):
        raise LIDInputError(f"n_neighbors must be an integer, got {n_neighbors!r}.")
    if n_neighbors < minimum:
        raise LIDInputError(
            f"n_neighbors={n_neighbors} is too small: this estimator needs at least {minimum} "
            "neighbours per point (the paper uses 128)."
        )
    return int(n_neighbors)


def check_fraction(value: float, name: str) -> float:
    if not 0.0 <= float(value) < 1.0:
        raise LIDInputError(f"{name} must be in [0, 1), got {value!r}.")
    return float(value)


def check_enough_points(n_distinct: int, n_neighbors: int, n_removed: int = 0) -> None:
    if n_distinct > n_neighbors:
        return
    dup = f" after removing {n_removed} exact duplicate row(s)" if n_removed else ""
    if n_distinct <= 1:
        raise LIDInputError(
            f"All points are identical{dup}: a cloud of one distinct point has no dimension."
        )
    raise LIDInputError(
        f"Only {n_distinct} distinct points{dup}, but n_neighbors={n_neighbors} needs at least "
        f"{n_neighbors + 1}. Use more points or a smaller n_neighbors."
    )


def require_distinct(X: np.ndarray) -> None:
    """Raises if X has exact duplicate rows (estimator classes expect a deduplicated cloud)."""
    d = deduplicate(X)
    if d.n_removed:
        raise LIDInputError(
            f"X has {d.n_removed} exact duplicate row(s); they give zero neighbour distances. "
            "Remove them first (lidscope.local_dimensions does this by default and counts them)."
        )
