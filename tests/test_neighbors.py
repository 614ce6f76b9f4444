"""Exact neighbour lists: self excluded, sorted, float64 distances, same as scikit-learn."""

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from lidscope import kneighbors
from lidscope.synthetic import curved_manifold


@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("block_size", [33, 256, 4096])
def test_neighbors_equal_sklearn_brute_force(backend, block_size):
    X = curved_manifold(900, 6, 96, seed=3, dtype=np.float64)
    d_ref, i_ref = NearestNeighbors(n_neighbors=40, algorithm="brute").fit(X).kneighbors()
    nb = kneighbors(X, 40, backend=backend, block_size=block_size)
    np.testing.assert_array_equal(nb.indices, i_ref)
    np.testing.assert_allclose(nb.distances, d_ref, rtol=1e-9)
    assert (nb.indices != np.arange(900)[:, None]).all()


def test_float64_rerank_fixes_float32_cancellation():
    """Points 1e-4 apart at distance 1e3 from the origin: float32 GEMM distances are all noise."""
    rng = np.random.default_rng(0)
    X = 1e3 + 1e-4 * rng.normal(size=(300, 8))
    nb = kneighbors(X, 10)
    exact = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(exact, np.inf)
    np.testing.assert_array_equal(nb.indices, np.argsort(exact, axis=1, kind="stable")[:, :10])
    np.testing.assert_allclose(nb.distances, np.sort(exact, axis=1)[:, :10], rtol=1e-12)


def test_ties_break_by_smaller_index():
    X = np.array([[0.0], [1.0], [-1.0], [2.0], [-2.0]])
    nb = kneighbors(X, 4)
    np.testing.assert_array_equal(nb.indices[0], [1, 2, 3, 4])


def test_points_searched_again_are_counted_and_reported():
    """Two tight clusters far apart: centring cannot help, every float32 horizon is within the
    float32 error, so all points are searched again (and come out exact)."""
    import lidscope

    rng = np.random.default_rng(0)
    X = np.repeat([[1e3] * 8, [-1e3] * 8], 150, axis=0) + 1e-4 * rng.normal(size=(300, 8))
    nb = kneighbors(X, 10)
    assert nb.n_searched_again == 300
    exact = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(exact, np.inf)
    np.testing.assert_array_equal(nb.indices, np.argsort(exact, axis=1, kind="stable")[:, :10])
    assert kneighbors(curved_manifold(500, 4, 16, seed=0), 10).n_searched_again == 0
    r = lidscope.local_dimensions(X, n_neighbors=10)
    assert r.n_searched_again == 300 and r.summary()["n_searched_again"] == 300


@pytest.mark.parametrize("spread", [1.0, 1e-4])
def test_tight_clusters_far_apart_are_exact(spread):
    """float32 cannot resolve neighbours here; float64 distances can (spread 1) or cannot either
    (1e-4, every point then a candidate): the lists are exact both ways."""
    rng = np.random.default_rng(2)
    centres = np.repeat(rng.normal(size=(4, 16)) * 1e3, 100, axis=0)
    X = centres + spread * rng.normal(size=(400, 16))
    nb = kneighbors(X, 12)
    assert nb.n_searched_again == 400
    exact = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(exact, np.inf)
    np.testing.assert_array_equal(nb.indices, np.argsort(exact, axis=1, kind="stable")[:, :12])
    np.testing.assert_allclose(nb.distances, np.sort(exact, axis=1)[:, :12], rtol=1e-12)

