"""The symmetric blocked float32 search returns each point's exact float32 top-c candidates."""

import numpy as np
import pytest

from lidscope._search_kernels import symmetric_topk
from lidscope.synthetic import curved_manifold


def _float32_sqdist(X32):
    D = ((X32[:, None, :].astype(np.float64) - X32[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(D, np.inf)
    return D


@pytest.mark.parametrize("oversample", [2.0, np.inf])
@pytest.mark.parametrize("n, c, block", [(50, 1, 16), (257, 5, 64), (600, 40, 100), (600, 40, 4096),
                                         (300, 150, 64), (120, 119, 32), (400, 30, 7)])
def test_candidates_are_the_c_nearest(n, c, block, oversample):
    """Complete rows hold exactly the c nearest; a row whose first-block guess was too tight
    says so (horizon -inf, -1 slots); with the safe bound (oversample = inf) none is."""
    X32 = curved_manifold(n, 5, 24, seed=n, dtype=np.float32)
    X32 -= X32.mean(0)
    d, idx, horizon = symmetric_topk(X32, c, block=block, oversample=oversample)
    D = _float32_sqdist(X32)
    ok = horizon > -np.inf
    assert ok.mean() > 0.9 and (oversample < np.inf or ok.all())
    assert ((idx[~ok] == -1).any(axis=1)).all() and (d[~ok] == np.inf).any(axis=1).all()
    D, d, idx, horizon = D[ok], d[ok], idx[ok], horizon[ok]
    rows = np.arange(len(D))[:, None]
    assert (idx != np.flatnonzero(ok)[:, None]).all()
    assert all(len(set(r)) == c for r in idx)  # no candidate twice
    truth = np.sort(D, axis=1)[:, :c]
    np.testing.assert_allclose(np.sort(D[rows, idx], axis=1), truth, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d, D[rows, idx], rtol=1e-4, atol=1e-5)  # float32 GEMM values
    np.testing.assert_array_equal(horizon, d.max(axis=1))


def test_incomplete_rows_are_searched_again_by_kneighbors():
    """A sorted cloud (each block a tight cluster) defeats the first-block guess for many rows;
    kneighbors still returns the exact neighbours."""
    from sklearn.neighbors import NearestNeighbors

    from lidscope import kneighbors

    rng = np.random.default_rng(1)
    X = np.repeat(rng.normal(size=(8, 16)) * 10, 100, axis=0) + rng.normal(size=(800, 16))
    d32, idx32, horizon = symmetric_topk(X.astype(np.float32), 20, block=100)
    assert (horizon == -np.inf).any()
    d_ref, i_ref = NearestNeighbors(n_neighbors=20, algorithm="brute").fit(X).kneighbors()
    nb = kneighbors(X, 20, block_size=100)
    np.testing.assert_array_equal(nb.indices, i_ref)
    np.testing.assert_allclose(nb.distances, d_ref, rtol=1e-9)


def test_exact_ties_give_a_valid_top_c():
    """A grid: many candidates tie at the c-th distance; any c of them is a correct answer."""
    g = np.arange(12, dtype=np.float32)
    X32 = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    X32 -= X32.mean(0)
    c = 6
    d, idx, horizon = symmetric_topk(X32, c, block=32, oversample=np.inf)
    D = _float32_sqdist(X32)
    kth = np.sort(D, axis=1)[:, c - 1]
    picked = D[np.arange(len(X32))[:, None], idx]
    assert (picked <= kth[:, None] + 1e-4).all()
    np.testing.assert_allclose(horizon, kth, atol=1e-4)


def test_c_must_be_below_n():
    with pytest.raises(ValueError, match="c must be"):
        symmetric_topk(np.zeros((5, 2), dtype=np.float32), 5)
