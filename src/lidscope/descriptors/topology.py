"""Persistent homology of a point cloud: Vietoris-Rips H0 and H1 of a random subsample.

Computed with giotto-ph (``gph.ripser_parallel``), chosen over ripser.py and gudhi by speed and
memory measured here (docs/geometry.md, benchmarks/data/geometry/ph_libraries.jsonl): on 1,000 points
of a 768-D cloud giotto-ph took about 1 s and 50 MB, ripser.py about 1.3x that time and memory,
gudhi's full Rips complex 19 s and 1.2 GB already at 500 points. It is imported on first use.
giotto-ph computes the filtration in float32: diagram values carry float32 rounding.

Reference for the setting on embedding matrices: Tang, Wang, Garcia-Redondo, Monod, "Topological
Signatures of Grokking" (the rows of a model's embedding matrix as the point cloud; see
`lidscope.extract.models.embedding_matrix`).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from ..errors import LIDInputError
from ..settings import PH_LONG_LIVED_RATIO, PH_MIN_POINTS, PH_N_POINTS, SEED
from ..validation import as_cloud, deduplicate


def _persistence_stats(dgm: np.ndarray) -> tuple[float, float, int]:
    """(total, max persistence over the finite bars, number of infinite bars)."""
    finite = np.isfinite(dgm[:, 1]) if dgm.size else np.zeros(0, dtype=bool)
    life = dgm[finite, 1] - dgm[finite, 0] if dgm.size else np.zeros(0)
    return float(life.sum()), float(life.max()) if life.size else 0.0, int((~finite).sum())


class Persistence(BaseEstimator):
    """Vietoris-Rips persistent homology (H0, H1) of a subsample (scikit-learn style).

    Parameters: ``n_points`` the subsample size (default `settings.PH_N_POINTS`; None: every distinct
    point), drawn without replacement with ``random_state``; ``long_lived_ratio``: an H1 feature is
    long-lived when death / birth >= this (default `settings.PH_LONG_LIVED_RATIO`; scale-free);
    ``n_threads`` of giotto-ph (speed only).

    ``fit(X)`` with X (n, d) finite; exact duplicate rows are dropped first (they add zero-length
    H0 bars). A cloud with fewer than `settings.PH_MIN_POINTS` distinct points raises LIDInputError.
    Fitted (distances in the input's units): ``diagrams_`` [H0 (a, 2), H1 (b, 2)] of (birth, death),
    H0's one infinite bar included; ``sample_index_`` the rows used; for H0 and H1
    ``total_persistence_`` / ``max_persistence_`` (2,) over finite bars (sum and max of
    death - birth); ``n_long_lived_h1_``; ``n_features_`` (2,) bars per dimension.
    """

    def __init__(self, n_points: int | None = PH_N_POINTS, random_state: int | None = SEED,
                 long_lived_ratio: float = PH_LONG_LIVED_RATIO, n_threads: int = 1):
        self.n_points = n_points
        self.random_state = random_state
        self.long_lived_ratio = long_lived_ratio
        self.n_threads = n_threads

    def fit(self, X, y=None) -> "Persistence":
        if self.n_points is not None and (isinstance(self.n_points, bool) or int(self.n_points) < PH_MIN_POINTS):
            raise LIDInputError(f"n_points of persistent homology must be an integer >= {PH_MIN_POINTS} or None, "
                                f"got {self.n_points!r}.")
        if not self.long_lived_ratio > 1:
            raise LIDInputError(f"long_lived_ratio must be > 1 (death / birth of a long-lived H1 feature), "
                                f"got {self.long_lived_ratio!r}.")
        X = as_cloud(X)
        kept = deduplicate(X).kept
        if kept.size < PH_MIN_POINTS:
            raise LIDInputError(f"persistent homology needs at least {PH_MIN_POINTS} distinct points; X has "
                                f"{kept.size}.")
        if self.n_points is not None and kept.size > int(self.n_points):
            rng = np.random.default_rng(self.random_state)
            kept = np.sort(rng.choice(kept, size=int(self.n_points), replace=False))
        self.sample_index_ = kept
        self.diagrams_ = persistence_diagrams(X[kept], n_threads=self.n_threads)
        stats = [_persistence_stats(d) for d in self.diagrams_]
        self.total_persistence_ = np.array([s[0] for s in stats])
        self.max_persistence_ = np.array([s[1] for s in stats])
        self.n_infinite_ = np.array([s[2] for s in stats])
        h1 = self.diagrams_[1]
        with np.errstate(divide="ignore"):
            ratio = h1[:, 1] / h1[:, 0] if h1.size else np.zeros(0)
        self.n_long_lived_h1_ = int((ratio >= self.long_lived_ratio).sum())
        self.n_features_ = np.array([len(d) for d in self.diagrams_])
        self.n_features_in_ = X.shape[1]
        return self


def persistence_diagrams(X: np.ndarray, *, n_threads: int = 1) -> list[np.ndarray]:
    """[H0, H1] Vietoris-Rips diagrams (birth, death) of the cloud X (n, d), Euclidean, full filtration."""
    try:
        from gph import ripser_parallel
    except ImportError:
        raise LIDInputError("persistent homology needs giotto-ph: pip install giotto-ph") from None
    dgms = ripser_parallel(np.ascontiguousarray(X), maxdim=1, n_threads=n_threads)["dgms"]
    return [np.asarray(d, dtype=np.float64).reshape(-1, 2) for d in dgms[:2]]
