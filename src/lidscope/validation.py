"""Checks at the boundary: turn user input into a clean (n, d) float array or a clear error."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import LIDInputError
from .scaling import rescaled


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
    if hasattr(X, "toarray") and hasattr(X, "nnz"):  # scipy.sparse, without importing scipy
        raise LIDInputError(
            f"Sparse input is not supported: {name} is a sparse matrix. Pass a dense array ({name}.toarray())."
        )
    try:
        arr = np.asarray(X)
    except (ValueError, TypeError) as exc:
        raise LIDInputError(f"{name} could not be read as a numeric array ({exc}).") from None
    if arr.dtype.kind == "O":  # e.g. a list of mixed Python numbers: accept it if it is numeric
        try:
            arr = arr.astype(np.float64)
        except (ValueError, TypeError):
            raise LIDInputError(f"{name} must hold numbers; got objects that are not. Convert it to a float array first.") from None
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    elif arr.dtype.kind == "f":
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float32)
    elif arr.dtype.kind == "c":
        raise LIDInputError(f"Complex data not supported: {name} has dtype {arr.dtype}. Pass real coordinates.")
    else:
        raise LIDInputError(
            f"{name} must hold numbers; got dtype {arr.dtype}. Convert it to a float array first."
        )
    if arr.ndim != 2:
        hint = " For n scalar values use X.reshape(-1, 1)." if arr.ndim == 1 else ""
        raise LIDInputError(f"{name} must be 2-D (n_points, n_features); got shape {arr.shape}.{hint}")
    if arr.shape[0] == 0:
        raise LIDInputError(f"{name} is empty: shape {arr.shape}, no points.")
    if arr.shape[1] == 0:
        raise LIDInputError(
            f"{name} is empty: 0 feature(s) (shape={arr.shape}) while a minimum of 1 is required."
        )
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
    if n_distinct <= 1 and not n_removed:
        raise LIDInputError(f"X has n_samples = {n_distinct}: one point has no neighbours and no dimension.")
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


#: Rows of X whose given neighbour lists `check_neighbor_lists` recomputes by brute force.
NEIGHBOR_CHECK_ROWS = 16


def check_neighbor_lists(X: np.ndarray, neighbors, k: int, *, n_check: int = NEIGHBOR_CHECK_ROWS) -> None:
    """Raises LIDInputError unless ``neighbors`` are sorted k-nearest-neighbour lists of X (n, d).

    Checks everything: shapes (n, >= k), integer indices in [0, n), no point its own neighbour,
    finite non-negative ascending distances. Then, for ``n_check`` rows picked at random (seeded),
    that the listed distances are the distances in X to the listed rows and that nothing in X is
    closer than the k-th: lists of another cloud or of another row order fail here. Tolerance:
    float32-search precision (squared distances within 1e-4 relative, plus 1e-5 of the rows'
    squared norms about the mean).
    """
    dist, idx = check_list_values(X.shape[0], neighbors, k)
    # the sampled check below squares coordinates: do it on the exactly rescaled cloud (the given
    # distances rescaled with it), so that a cloud of any finite scale is checked, not overflowed
    scaled = rescaled(X)
    if scaled.exponent:
        X = scaled.X
        with np.errstate(over="ignore", under="ignore"):
            dist = np.ldexp(dist.astype(np.float64), scaled.exponent)
    n = X.shape[0]
    rows = np.random.default_rng(0).choice(n, size=min(n, n_check), replace=False)
    mean = X.mean(axis=0, dtype=np.float64)
    Xr = X[rows].astype(np.float64) - mean
    norm_r = np.einsum("ij,ij->i", Xr, Xr)
    members = X[idx[rows]].astype(np.float64) - mean  # (m, c, d)
    given = dist[rows].astype(np.float64) ** 2
    true = ((members - Xr[:, None, :]) ** 2).sum(-1)
    scale = 1e-5 * (norm_r[:, None] + np.einsum("ijk,ijk->ij", members, members))
    bad = np.abs(given - true) > 1e-4 * true + scale
    if bad.any():
        r = rows[np.flatnonzero(bad.any(axis=1))[0]]
        raise LIDInputError(
            f"the neighbour lists do not match X: the distances listed for row {r} are not its distances in X "
            "to the listed rows (lists of another cloud, another row order, or another metric?). Search "
            "them on this X: lidscope.kneighbors(X, L)."
        )
    # nothing in X may be closer than each sampled row's k-th listed neighbour
    D = np.empty((rows.size, n))
    sq_max = 0.0
    for s in range(0, n, 8192):  # bounded memory: float64 chunks of X
        C = X[s : s + 8192].astype(np.float64) - mean
        sq = np.einsum("ij,ij->i", C, C)
        sq_max = max(sq_max, float(sq.max()))
        D[:, s : s + 8192] = norm_r[:, None] + sq[None, :] - 2.0 * (Xr @ C.T)
    D[np.arange(rows.size), rows] = np.inf
    kth = np.partition(D, k - 1, axis=1)[:, k - 1]
    slack = 1e-4 * given[:, k - 1] + 1e-5 * (norm_r + sq_max)
    missed = kth < given[:, k - 1] - slack
    if missed.any():
        r = rows[np.flatnonzero(missed)[0]]
        raise LIDInputError(
            f"the neighbour lists are not the nearest neighbours in X: row {r} has a point closer than its "
            f"{k}-th listed neighbour. Search them on this X: lidscope.kneighbors(X, L)."
        )


def check_list_values(n: int, neighbors, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(distances, indices) of ``neighbors`` for a cloud of n rows, checked cheaply (O(n k)):
    shapes (n, >= k), integer indices in [0, n), no point its own neighbour, finite non-negative
    ascending distances; else LIDInputError. The compiled estimator loops index with them."""
    dist = getattr(neighbors, "distances", None)
    idx = getattr(neighbors, "indices", None)
    if dist is None or idx is None:
        raise LIDInputError(
            "neighbors must be a lidscope.Neighbors (distances, indices), e.g. from lidscope.kneighbors(X, L); "
            f"got {type(neighbors).__name__}."
        )
    dist, idx = np.asarray(dist), np.asarray(idx)
    if dist.ndim != 2 or dist.shape != idx.shape:
        raise LIDInputError(
            f"neighbors.distances and neighbors.indices must be (n_points, k) arrays of one shape; got "
            f"{dist.shape} and {idx.shape}."
        )
    if idx.shape[0] != n:
        raise LIDInputError(
            f"the neighbour lists cover {idx.shape[0]} points but X has {n} rows: they belong to another cloud."
        )
    if idx.shape[1] < k:
        raise LIDInputError(
            f"the neighbour lists hold {idx.shape[1]} neighbours per point, but n_neighbors={k} needs at "
            f"least {k}: search them again with k >= {k}."
        )
    if idx.dtype.kind not in "iu":
        raise LIDInputError(f"neighbors.indices must be integers (row numbers of X); got dtype {idx.dtype}.")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise LIDInputError(
            f"neighbour indices must be row numbers of X in [0, {n - 1}]; found values from {idx.min()} to "
            f"{idx.max()} (-1 marks a missing neighbour)."
        )
    selfs = np.flatnonzero((idx == np.arange(n)[:, None]).any(axis=1))
    if selfs.size:
        raise LIDInputError(
            f"{selfs.size} neighbour list(s) contain the point itself (e.g. row {selfs[0]}): lists must "
            "exclude the query point (drop the first column of a search that includes it)."
        )
    if dist.dtype.kind != "f" or not np.isfinite(dist).all() or (dist < 0).any():
        raise LIDInputError("neighbors.distances must be finite, non-negative floats.")
    if (np.diff(dist, axis=1) < 0).any():
        raise LIDInputError("each row of neighbors.distances must be sorted ascending (nearest first).")
    return dist, idx
