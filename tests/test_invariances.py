"""Local estimates are invariant to row permutation, translation, rotation and uniform scaling."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lidscope import local_dimensions

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def clouds(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    n = draw(st.integers(40, 160))
    d = draw(st.integers(2, 12))
    intrinsic = draw(st.integers(1, d))
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, intrinsic))
    A = rng.normal(size=(intrinsic, d))
    X = np.tanh(Z @ A) + 0.01 * rng.normal(size=(n, d))
    k = draw(st.integers(3, min(24, n - 1)))
    return X, k, rng


def _est(X, k):
    return local_dimensions(X, n_neighbors=k).estimates


@SETTINGS
@given(clouds())
def test_row_permutation(case):
    X, k, rng = case
    perm = rng.permutation(len(X))
    np.testing.assert_allclose(_est(X[perm], k), _est(X, k)[perm], rtol=1e-9)


@SETTINGS
@given(clouds(), st.floats(-1e3, 1e3))
def test_translation(case, shift):
    X, k, rng = case
    t = shift * rng.normal(size=X.shape[1])
    np.testing.assert_allclose(_est(X + t, k), _est(X, k), rtol=1e-6)


@SETTINGS
@given(clouds())
def test_rotation(case):
    X, k, rng = case
    Q, _ = np.linalg.qr(rng.normal(size=(X.shape[1], X.shape[1])))
    np.testing.assert_allclose(_est(X @ Q, k), _est(X, k), rtol=1e-8)


@SETTINGS
@given(clouds(), st.floats(1e-3, 1e3))
def test_uniform_scaling(case, scale):
    X, k, _ = case
    np.testing.assert_allclose(_est(X * scale, k), _est(X, k), rtol=1e-9)
