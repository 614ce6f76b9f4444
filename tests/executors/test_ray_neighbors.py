"""The blocked neighbour search on Ray returns exactly `lidscope.kneighbors`."""

from __future__ import annotations

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (CI installs it): pip install 'lidscope[ray]'")

import lidscope  # noqa: E402
from lidscope.executors.ray_neighbors import default_block_size, kneighbors_ray, search_block  # noqa: E402
from lidscope.neighbors import centred_float32, row_keys  # noqa: E402
from lidscope.synthetic import curved_manifold, near_tie_cloud  # noqa: E402

pytestmark = pytest.mark.slow  # starts a local Ray cluster: left out of the fast loop (-m 'not slow')



def _assert_identical(got, ref) -> None:
    np.testing.assert_array_equal(got.indices, ref.indices)
    np.testing.assert_array_equal(got.distances, ref.distances)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_distributed_knn_equals_kneighbors(local_ray, dtype):
    X = near_tie_cloud().astype(dtype)
    ref = lidscope.kneighbors(X, 20, backend="numba")
    seen = []
    got = kneighbors_ray(X, 20, block_size=701, progress=lambda s, done, n: seen.append(done))  # 5 uneven blocks
    _assert_identical(got, ref)
    assert seen[-1] == X.shape[0] and len(seen) == 5
    # the same widening rule as in-process: the blocks had to prove the near-duplicates' lists
    assert got.n_searched_again >= 300 and "searched again" in got.method
    easy = curved_manifold(1500, 4, 16, seed=0)
    assert kneighbors_ray(easy, 20, block_size=500).n_searched_again == 0


def test_block_result_does_not_depend_on_blocking():
    X = near_tie_cloud(n=800, seed=1)
    ref = lidscope.kneighbors(X, 10, backend="numba")
    X32, sq = centred_float32(X)
    keys = row_keys(X)
    n_search = 10 + 1 + 16
    whole = search_block(X, X32, sq, keys, 0, 800, 10, n_search)[2]
    assert whole >= 300
    for start, stop in [(0, 800), (0, 1), (799, 800), (123, 456)]:
        d, i, again = search_block(X, X32, sq, keys, start, stop, 10, n_search)
        np.testing.assert_array_equal(i, ref.indices[start:stop])
        np.testing.assert_array_equal(d, ref.distances[start:stop])


def test_bad_arguments_and_block_size():
    X = np.random.default_rng(0).normal(size=(50, 3))
    with pytest.raises(ValueError, match="n_neighbors"):
        kneighbors_ray(X, 50)
    with pytest.raises(ValueError, match="2-D float"):
        kneighbors_ray(X.astype(int), 5)
    assert default_block_size(10_000_000, 8) == 65_536 and default_block_size(100, 8) == 1_024
