"""The symmetric blocked float32 search returns each point's exact float32 top-c candidates."""

import numpy as np
import pytest

from lidscope._search_kernels import symmetric_topk
from lidscope.synthetic import curved_manifold


def _float32_sqdist(X32):
    D = ((X32[:, None, :].astype(np.float64) - X32[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(D, np.inf)
    return D


@pytest.mark.parametrize("n, c, block", [(50, 1, 16), (257, 5, 64), (600, 40, 100), (600, 40, 4096),
                                         (300, 150, 64), (120, 119, 32), (400, 30, 7)])
def test_candidates_are_the_c_nearest(n, c, block):
    X32 = curved_manifold(n, 5, 24, seed=n, dtype=np.float32)
    X32 -= X32.mean(0)
    d, idx, horizon = symmetric_topk(X32, c, block=block)
    D = _float32_sqdist(X32)
    rows = np.arange(n)[:, None]
    assert (idx != np.arange(n)[:, None]).all()
    assert all(len(set(r)) == c for r in idx)  # no candidate twice
    truth = np.sort(D, axis=1)[:, :c]
    np.testing.assert_allclose(np.sort(D[rows, idx], axis=1), truth, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d, D[rows, idx], rtol=1e-4, atol=1e-5)  # float32 GEMM values
    np.testing.assert_array_equal(horizon, d.max(axis=1))


def test_exact_ties_give_a_valid_top_c():
    """A grid: many candidates tie at the c-th distance; any c of them is a correct answer."""
    g = np.arange(12, dtype=np.float32)
    X32 = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    X32 -= X32.mean(0)
    c = 6
    d, idx, horizon = symmetric_topk(X32, c, block=32)
    D = _float32_sqdist(X32)
    kth = np.sort(D, axis=1)[:, c - 1]
    picked = D[np.arange(len(X32))[:, None], idx]
    assert (picked <= kth[:, None] + 1e-4).all()
    np.testing.assert_allclose(horizon, kth, atol=1e-4)


def test_c_must_be_below_n():
    with pytest.raises(ValueError, match="c must be"):
        symmetric_topk(np.zeros((5, 2), dtype=np.float32), 5)
