"""fit(X, neighbors=...) checks the lists before any compiled kernel reads them."""

import numpy as np
import pytest

from lidscope import LIDInputError, LocalMLE, LocalPCA, LocalTwoNN, Neighbors, kneighbors
from lidscope.synthetic import curved_manifold

X = curved_manifold(400, 4, 12, seed=0, dtype=np.float64)
NB = kneighbors(X, 20)


def _with(dist=None, idx=None):
    return Neighbors(NB.distances.copy() if dist is None else dist, NB.indices.copy() if idx is None else idx)


@pytest.mark.parametrize("cls", [LocalTwoNN, LocalMLE, LocalPCA])
def test_good_lists_give_the_same_estimates_as_searching(cls):
    np.testing.assert_array_equal(cls(n_neighbors=10).fit(X, neighbors=NB).dimension_pw_,
                                  cls(n_neighbors=10).fit(X).dimension_pw_)


def _bad_cases():
    idx = NB.indices.copy()
    idx[7, 3] = 400
    yield "index", _with(idx=idx), "row numbers of X in \\[0, 399\\]"
    idx = NB.indices.copy()
    idx[5, 0] = -1
    yield "minus-one", _with(idx=idx), "row numbers of X"
    idx = NB.indices.copy()
    idx[3, 2] = 3
    yield "self", _with(idx=idx), "contain the point itself"
    yield "too-few", Neighbors(NB.distances[:, :8], NB.indices[:, :8]), "hold 8 neighbours per point"
    yield "rows", Neighbors(NB.distances[:300], NB.indices[:300]), "cover 300 points but X has 400"
    yield "shape", Neighbors(NB.distances[:, :15], NB.indices), "one shape"
    yield "float-ids", _with(idx=NB.indices.astype(float)), "must be integers"
    yield "unsorted", _with(dist=NB.distances[:, ::-1].copy()), "sorted ascending"
    other = curved_manifold(400, 4, 12, seed=1, dtype=np.float64)
    yield "other-cloud", kneighbors(other, 20), "do not match X"
    perm = np.random.default_rng(0).permutation(400)
    yield "other-order", kneighbors(X[perm], 20), "do not match X"
    shuffled = _with()
    np.random.default_rng(1).shuffle(shuffled.indices)  # rows of lists swapped, each list still sorted
    yield "swapped-rows", shuffled, "do not match X|contain the point itself"
    far = kneighbors(X, 60)
    yield "not-nearest", Neighbors(far.distances[:, 40:], far.indices[:, 40:]), "not the nearest"
    yield "not-neighbors", (NB.distances, NB.indices), "must be a lidscope.Neighbors"


@pytest.mark.parametrize("name, neighbors, message", list(_bad_cases()), ids=[c[0] for c in _bad_cases()])
@pytest.mark.parametrize("cls", [LocalTwoNN, LocalMLE, LocalPCA])
def test_bad_lists_are_refused_with_the_reason(cls, name, neighbors, message):
    with pytest.raises(LIDInputError, match=message):
        cls(n_neighbors=10).fit(X, neighbors=neighbors)


def test_float32_lists_of_this_cloud_are_accepted():
    """Lists from a float32 search (faiss, sklearn on float32) pass: the tolerance is float32's."""
    X32 = (X * 1e3 + 5e3).astype(np.float32)
    nb = kneighbors(X32, 20)
    rounded = Neighbors(nb.distances.astype(np.float32).astype(np.float64), nb.indices)
    LocalTwoNN(n_neighbors=20).fit(X32, neighbors=rounded)
