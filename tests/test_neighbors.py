"""Exact neighbour lists: self excluded, sorted, float64 distances, same as scikit-learn."""

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from lidscope import kneighbors
from lidscope.synthetic import curved_manifold, near_tie_cloud


@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("block_size", [33, 256, 4096])
def test_neighbors_equal_sklearn_brute_force(backend, block_size):
    X = curved_manifold(900, 6, 96, seed=3, dtype=np.float64)
    d_ref, i_ref = NearestNeighbors(n_neighbors=40, algorithm="brute").fit(X).kneighbors()
    nb = kneighbors(X, 40, backend=backend, block_size=block_size)
    np.testing.assert_array_equal(nb.indices, i_ref)
    np.testing.assert_allclose(nb.distances, d_ref, rtol=1e-9)
    assert (nb.indices != np.arange(900)[:, None]).all()


BACKENDS = ["numba", "torch"]  # torch on the CPU here: the same code runs on CUDA


def _exact_lists(X, k):
    exact = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(exact, np.inf)
    return np.argsort(exact, axis=1, kind="stable")[:, :k], np.sort(exact, axis=1)[:, :k]


@pytest.mark.parametrize("backend", BACKENDS)
def test_float64_rerank_fixes_float32_cancellation(backend):
    """Points 1e-4 apart at distance 1e3 from the origin: float32 GEMM distances are all noise."""
    rng = np.random.default_rng(0)
    X = 1e3 + 1e-4 * rng.normal(size=(300, 8))
    nb = kneighbors(X, 10, backend=backend)
    exact = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(exact, np.inf)
    np.testing.assert_array_equal(nb.indices, np.argsort(exact, axis=1, kind="stable")[:, :10])
    np.testing.assert_allclose(nb.distances, np.sort(exact, axis=1)[:, :10], rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_ties_break_by_row_content_not_row_order(backend):
    """On a grid most distances tie; the lists, read as row contents, are the same in any row order."""
    g = np.arange(7.0)
    X = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    ref = kneighbors(X, 20, backend=backend, block_size=64)
    for seed in range(3):
        perm = np.random.default_rng(seed).permutation(len(X))
        nb = kneighbors(X[perm], 20, backend=backend, block_size=64)
        np.testing.assert_array_equal(X[perm][nb.indices], X[ref.indices][perm])
        np.testing.assert_array_equal(nb.distances, ref.distances[perm])


@pytest.mark.parametrize("backend", BACKENDS)
def test_points_searched_again_are_counted_and_reported(backend):
    """Two tight clusters far apart: centring cannot help, every float32 horizon is within the
    float32 error, so all points are searched again (and come out exact)."""
    import lidscope

    rng = np.random.default_rng(0)
    X = np.repeat([[1e3] * 8, [-1e3] * 8], 150, axis=0) + 1e-4 * rng.normal(size=(300, 8))
    nb = kneighbors(X, 10, backend=backend)
    assert nb.n_searched_again == 300
    exact = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(exact, np.inf)
    np.testing.assert_array_equal(nb.indices, np.argsort(exact, axis=1, kind="stable")[:, :10])
    assert kneighbors(curved_manifold(500, 4, 16, seed=0), 10, backend=backend).n_searched_again == 0
    r = lidscope.local_dimensions(X, n_neighbors=10, backend=backend)
    assert r.n_searched_again == 300 and r.summary()["n_searched_again"] == 300
    assert r.params["search"] == nb.method and "searched again" in nb.method
    assert ("torch" in nb.method) == (backend == "torch")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_few_huge_norm_rows_do_not_force_every_row_to_be_searched_again(backend):
    """Tokens with massive activations (SmolLM2's middle layers: norms 70x the median) once set every
    row's float32 error bound, so every row was searched again in float64 (29,320 of 29,600 rows, 5.7x
    the time). Only rows that could have such a point within their k-th distance need its bound."""
    X = curved_manifold(800, 5, 32, seed=4, dtype=np.float64)
    X[:6, 7] += 3e3 * np.abs(X).max() * np.array([1.0, 1.0 + 1e-6, 1.3, 1.3, 2.0, 2.0 + 1e-7])
    nb = kneighbors(X, 15, backend=backend)
    idx, dist = _exact_lists(X, 15)
    np.testing.assert_array_equal(nb.indices, idx)
    np.testing.assert_allclose(nb.distances, dist, rtol=1e-12)
    assert nb.n_searched_again <= 6 + 800 // 100


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("spread", [1.0, 1e-4])
def test_tight_clusters_far_apart_are_exact(spread, backend):
    """float32 cannot resolve neighbours here; float64 distances can (spread 1) or cannot either
    (1e-4, every point then a candidate): the lists are exact both ways."""
    rng = np.random.default_rng(2)
    centres = np.repeat(rng.normal(size=(4, 16)) * 1e3, 100, axis=0)
    X = centres + spread * rng.normal(size=(400, 16))
    nb = kneighbors(X, 12, backend=backend)
    assert nb.n_searched_again == 400
    exact = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(exact, np.inf)
    np.testing.assert_array_equal(nb.indices, np.argsort(exact, axis=1, kind="stable")[:, :12])
    np.testing.assert_allclose(nb.distances, np.sort(exact, axis=1)[:, :12], rtol=1e-12)



@pytest.mark.parametrize("backend", BACKENDS)
def test_near_ties_far_from_the_origin_are_exact(backend):
    X = near_tie_cloud(n=900)
    nb = kneighbors(X, 20, backend=backend, block_size=256)
    d_ref, i_ref = NearestNeighbors(n_neighbors=20, algorithm="brute").fit(X).kneighbors()
    np.testing.assert_allclose(nb.distances, _exact_lists(X, 20)[1], rtol=1e-12)
    same = (nb.indices == i_ref).all(axis=1)
    # where the lists differ they may only swap exactly tied neighbours
    assert np.array_equal(nb.distances[~same], np.sort(nb.distances[~same], axis=1))
    assert nb.n_searched_again > 0


def test_progress_spans_the_whole_search_and_the_estimates(monkeypatch):
    """The neighbour stage reports 0 before any work and its last unit after the re-rank, so a
    progress bar's time is the table's time (the bar once stopped at the last GEMM block)."""
    import lidscope._search_kernels as kernels
    from lidscope import local_dimensions

    events = []
    rerank = kernels.rerank
    monkeypatch.setattr(kernels, "rerank", lambda *a, **k: (events.append(("rerank",)), rerank(*a, **k))[1])
    X = np.random.default_rng(0).normal(size=(1500, 12))
    local_dimensions(X, n_neighbors=20, progress=lambda *e: events.append(e))
    for stage in ("dedup", "neighbors", "estimates"):
        mine = [i for i, e in enumerate(events) if e[0] == stage]
        assert events[mine[0]][1] == 0 and events[mine[-1]][1] == events[mine[-1]][2] > 0
    nb = [i for i, e in enumerate(events) if e[0] == "neighbors"]
    reranks = [i for i, e in enumerate(events) if e[0] == "rerank"]
    assert reranks and nb[0] < reranks[0] and reranks[-1] < nb[-1]
    assert len(nb) > 2  # the GEMM blocks in between
