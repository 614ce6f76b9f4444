"""Exact-duplicate detection: first occurrence kept, exact even when rows share long prefixes."""

import numpy as np
import pytest

from lidscope.validation import deduplicate


def _reference(X):
    keys = np.ascontiguousarray(X + 0.0).view(np.dtype((np.void, X.dtype.itemsize * X.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return np.sort(first), first[inverse.ravel()]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rows_sharing_a_prefix_but_differing_later_are_distinct(dtype):
    rng = np.random.default_rng(0)
    X = np.zeros((400, 12), dtype=dtype)
    X[:, -1] = rng.integers(0, 50, 400)  # identical first 11 values, 50 distinct rows
    d = deduplicate(X)
    kept, dup = _reference(X)
    np.testing.assert_array_equal(d.kept, kept)
    np.testing.assert_array_equal(d.duplicate_of, dup)
    assert d.n_removed == 400 - 50


def test_random_rows_with_planted_duplicates():
    X = np.random.default_rng(1).normal(size=(1000, 30))
    X = np.vstack([X, X[::3], X[5:6]])
    d = deduplicate(X)
    kept, dup = _reference(X)
    np.testing.assert_array_equal(d.kept, kept)
    np.testing.assert_array_equal(d.duplicate_of, dup)
