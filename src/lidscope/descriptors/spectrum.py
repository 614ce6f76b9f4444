"""Anisotropy and rank of a point cloud, exact from sums and one d x d matrix (no n x n matrix).

* Anisotropy: the mean cosine similarity over all distinct pairs of (raw, uncentred) vectors,
  (|sum_i u_i|^2 - n) / (n (n - 1)) with u_i = x_i / |x_i| (Ethayarajh 2019's measure, exact).
* Effective rank (Roy & Vetterli 2007): exp of the Shannon entropy of the singular values of X
  (uncentred) normalised to sum 1; RankMe (Garrido et al. 2023) the same with an epsilon added.
* Participation ratio: (sum lambda)^2 / sum lambda^2 of the covariance eigenvalues.
* IsoScore (Rudman et al. 2022): isotropy in [0, 1] from the covariance eigenvalues of the
  centred cloud, the formula of the ``IsoScore`` package (2.0.1), which tests check against.
Singular values come from the eigenvalues of the d x d Gram matrix X^T X in float64.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from ..errors import LIDInputError
from ..settings import RANKME_EPS
from ..validation import as_cloud


def mean_pairwise_cosine(X: np.ndarray) -> float:
    """Mean cosine similarity of all n (n - 1) / 2 distinct pairs of rows of X (n, d), exact."""
    X = np.asarray(X, dtype=np.float64)
    norms = np.linalg.norm(X, axis=1)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise LIDInputError(f"anisotropy is undefined for zero vectors (cosine 0/0): {zero.size} row(s) of X are 0 "
                            f"(e.g. row {zero[0]}). Drop them first.")
    n = X.shape[0]
    if n < 2:
        raise LIDInputError("anisotropy needs at least 2 vectors (one pair).")
    s = (X / norms[:, None]).sum(axis=0)
    return float((s @ s - n) / (n * (n - 1)))


def _entropy_rank(sv: np.ndarray, eps: float) -> float:
    p = sv / sv.sum() + eps
    p = p[p > 0]
    return float(np.exp(-np.sum(p * np.log(p))))


def isoscore_from_eigenvalues(lam: np.ndarray) -> float:
    """IsoScore from the d covariance eigenvalues (descending or not) of a cloud in d dimensions."""
    d = lam.size
    if d < 2:
        raise LIDInputError("IsoScore needs at least 2 features.")
    pcs = np.abs(np.asarray(lam, dtype=np.float64))
    pcs = pcs * np.sqrt(d) / np.linalg.norm(pcs)
    defect = np.linalg.norm(pcs - 1.0) / np.sqrt(2 * (d - np.sqrt(d)))
    return float(((d - defect**2 * (d - np.sqrt(d))) ** 2 - d) / (d * (d - 1)))


class Anisotropy(BaseEstimator):
    """Mean pairwise cosine similarity of the raw vectors (scikit-learn style; no parameters).

    ``fit(X)`` with X (n, d), n >= 2, no zero rows. Fitted: ``mean_cosine_`` (unitless, in [-1, 1]).
    """

    def fit(self, X, y=None) -> "Anisotropy":
        X = as_cloud(X)
        self.mean_cosine_ = mean_pairwise_cosine(X)
        self.n_features_in_ = X.shape[1]
        return self


class Spectrum(BaseEstimator):
    """Rank and isotropy of a cloud from its spectrum (scikit-learn style).

    Parameters: ``rankme_eps`` (default `settings.RANKME_EPS`).
    ``fit(X)`` with X (n, d), n >= 2. Fitted (unitless): ``effective_rank_`` (Roy & Vetterli, on the
    singular values of X), ``rankme_`` (with the epsilon), ``participation_ratio_`` and
    ``isoscore_`` (on the covariance eigenvalues); ``singular_values_`` (min(n, d),) of X and
    ``covariance_eigenvalues_`` (d,) descending. A cloud with all singular values 0 (all rows zero)
    or no variance (all rows equal) raises LIDInputError naming the descriptor.
    """

    def __init__(self, rankme_eps: float = RANKME_EPS):
        self.rankme_eps = rankme_eps

    def fit(self, X, y=None) -> "Spectrum":
        X = as_cloud(X)
        n, d = X.shape
        if n < 2 or d < 2:
            raise LIDInputError(f"the spectrum descriptors need at least 2 points and 2 features; X is {n} x {d}.")
        X64 = X.astype(np.float64, copy=False)
        gram = X64.T @ X64
        sv = np.sqrt(np.clip(np.linalg.eigvalsh(gram)[::-1][: min(n, d)], 0.0, None))
        if not sv.max() > 0:
            raise LIDInputError("effective rank / RankMe are undefined: every row of X is zero (no singular values).")
        mean = X64.mean(axis=0)
        cov = (gram - n * np.outer(mean, mean)) / (n - 1)
        lam = np.clip(np.linalg.eigvalsh(cov)[::-1], 0.0, None)
        if not lam.max() > 0:
            raise LIDInputError("participation ratio / IsoScore are undefined: the cloud has no variance "
                                "(every row is the same point).")
        self.singular_values_ = sv
        self.covariance_eigenvalues_ = lam
        self.effective_rank_ = _entropy_rank(sv, 0.0)
        self.rankme_ = _entropy_rank(sv, float(self.rankme_eps))
        self.participation_ratio_ = float(lam.sum() ** 2 / (lam**2).sum())
        self.isoscore_ = isoscore_from_eigenvalues(lam)
        self.n_features_in_ = d
        return self
