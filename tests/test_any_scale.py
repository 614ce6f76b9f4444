"""Any finite cloud gives the scale-1 answer or a LIDInputError, never a crash (issue 26, section 1).

The search runs on the cloud rescaled by an exact power of two (lidscope.scaling); no compiled kernel
may be handed ids or values it would index wildly with."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import lidscope
from fuzzing import FUZZ
from lidscope import LIDInputError
from lidscope._search_kernels import graph_order, rerank, row_keys, symmetric_topk
from lidscope.estimators.twonn import local_twonn_from_neighbors
from lidscope.neighbors import Neighbors
from lidscope.scaling import rescaled

X = np.random.default_rng(0).standard_normal((500, 16))


@pytest.fixture(scope="module")
def reference():
    return lidscope.local_dimensions(X, n_neighbors=20).mean


@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("scale", [1e19, 1e150, 1e-200, 1e300, 1e-300])
def test_any_scale_gives_the_scale_1_mean(reference, scale, backend):
    got = lidscope.local_dimensions(X * scale, n_neighbors=20, backend=backend)
    assert got.n_undefined == 0
    assert got.mean == pytest.approx(reference, rel=1e-9)


@pytest.mark.parametrize("scale", [1e19, 1e-20])
def test_float32_clouds_at_any_scale_give_the_scale_1_mean(scale):
    ref = lidscope.local_dimensions(X.astype(np.float32), n_neighbors=20).mean
    got = lidscope.local_dimensions((X * scale).astype(np.float32), n_neighbors=20).mean
    assert got == pytest.approx(ref, rel=1e-6)  # float32 rounds X * scale differently at each scale


@pytest.mark.parametrize("power", [-1000, -300, 80, 900])
def test_power_of_two_scales_give_the_same_lists_and_scaled_distances(power):
    nb1 = lidscope.kneighbors(X, 10)
    nb = lidscope.kneighbors(np.ldexp(X, power), 10)
    np.testing.assert_array_equal(nb.indices, nb1.indices)
    np.testing.assert_array_equal(np.ldexp(nb.distances, -power), nb1.distances)


def test_estimator_classes_give_the_scale_1_dimension():
    for est in (lidscope.LocalMLE(20), lidscope.LocalPCA(20), lidscope.LocalTwoNN(20), lidscope.TwoNN()):
        ref = est.fit(X).dimension_
        for scale in (1e19, 1e-200, 1e300):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # local PCA: variances of 1e-400 cannot be held in X's units
                got = type(est)(**est.get_params()).fit(X * scale)
            assert got.dimension_ == pytest.approx(ref, rel=1e-9)
            r1 = got.r1_ if hasattr(got, "r1_") else got.neighbors_.distances[:, 0]
            r1_ref = est.r1_ if hasattr(est, "r1_") else est.neighbors_.distances[:, 0]
            np.testing.assert_allclose(r1, r1_ref * scale, rtol=1e-12)


def test_a_constant_far_column_beside_a_tiny_spread_is_measured():
    ref = lidscope.local_dimensions(X, n_neighbors=20).mean
    Y = np.column_stack([np.full(X.shape[0], 1e300), X * 1e-300])
    assert lidscope.local_dimensions(Y, n_neighbors=20).mean == pytest.approx(ref, rel=1e-9)


def test_a_cloud_beyond_float64s_exponent_range_is_refused():
    rows = np.repeat(X[:150, :1], 2, axis=0) * 1e300
    Y = np.column_stack([rows, np.tile([0.0, 1e-300], 150)])  # pairs 1e-300 apart in a 1e300 cloud
    with pytest.raises(LIDInputError, match="exponent range"):
        lidscope.local_dimensions(Y, n_neighbors=20)


def test_distances_beyond_float64_are_refused_not_returned_as_inf():
    Y = np.array([[-1.5e308], [1.5e308], [0.0], [1e308]])
    with pytest.raises(LIDInputError, match="beyond float64"):
        lidscope.kneighbors(Y, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isfinite(lidscope.local_dimensions(np.column_stack([Y.repeat(40, 0)[:, 0] * np.linspace(0.1, 1, 160),
                                                                     np.linspace(0, 1e307, 160)]),
                                                     n_neighbors=5, estimator="mle").mean)


def test_kernels_refuse_ids_out_of_range():
    X32 = X.astype(np.float32)
    keys = row_keys(X)
    with pytest.raises(LIDInputError, match="candidate ids"):
        rerank(X, keys, np.arange(3), np.full((3, 5), 10_000), 2)
    with pytest.raises(LIDInputError, match="query ids"):
        rerank(X, keys, np.array([-5, 0, 1]), np.zeros((3, 5), dtype=np.int64), 2)
    with pytest.raises(LIDInputError, match="candidate ids"):
        graph_order(np.full((4, 2), 7))
    with pytest.raises(LIDInputError, match="overflow"):
        symmetric_topk(X32 * np.float32(1e19), 5)
    nb = lidscope.kneighbors(X, 5)
    bad = Neighbors(nb.distances, np.where(nb.indices == 0, 10_000, nb.indices))
    with pytest.raises(LIDInputError):
        local_twonn_from_neighbors(X, bad, 5)
    with pytest.raises(LIDInputError, match="finite"):
        local_twonn_from_neighbors(X, Neighbors(np.full_like(nb.distances, np.nan), nb.indices), 5)


def test_ordinary_clouds_are_searched_unscaled():
    s = rescaled(X)
    assert s.exponent == 0 and s.X is s.input


CLOUDS = st.tuples(st.integers(8, 60), st.integers(1, 6), st.integers(-1000, 1000), st.sampled_from(["float64", "float32"]),
                   st.integers(0, 2**32 - 1), st.sampled_from(["normal", "lowrank", "duplicates", "lattice"]))


@pytest.mark.fuzz
@FUZZ
@given(CLOUDS)
def test_fuzz_any_finite_cloud_is_measured_or_refused(spec):
    n, d, power, dtype, seed, kind = spec
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n, d))
    if kind == "lowrank":
        base = base[:, :1] @ rng.standard_normal((1, d))
    elif kind == "duplicates":
        base = base[rng.integers(0, max(2, n // 3), n)]
    elif kind == "lattice":
        base = rng.integers(0, 3, (n, d)).astype(np.float64)
    if dtype == "float32":
        power = int(np.clip(power, -100, 100))
    Y = np.ldexp(base.astype(dtype), power)
    L = 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ref = lidscope.local_dimensions(base.astype(dtype), n_neighbors=L, estimator="mle")
        except LIDInputError:
            ref = None
        try:
            got = lidscope.local_dimensions(Y, n_neighbors=L, estimator="mle")
        except LIDInputError:
            assert ref is None or not np.isfinite(Y).all() or (Y == 0).any()
            return
    if ref is not None and kind in ("normal", "lowrank"):  # no exact distance ties: the same lists
        np.testing.assert_allclose(got.values, ref.values, rtol=1e-9, equal_nan=True)


def _cloud(n, d, seed):
    return np.random.default_rng(seed).standard_normal((n, d))


@pytest.mark.fuzz
@FUZZ
@given(st.integers(8, 60), st.integers(1, 6), st.integers(-1000, 1000), st.integers(0, 2**32 - 1),
       st.sampled_from(["numba", "torch"]))
def test_fuzz_kneighbors_equals_brute_force_at_any_scale(n, d, power, seed, backend):
    base = _cloud(n, d, seed)
    Y = np.ldexp(base, power)
    k = min(5, n - 1)
    try:
        nb = lidscope.kneighbors(Y, n_neighbors=k, backend=backend)
    except LIDInputError:  # only where float64 cannot hold the distances in the input's units
        sq = ((base[:, None, :] - base[None, :, :]) ** 2).sum(-1)
        pos = np.sqrt(sq[sq > 0])
        assert np.ldexp(pos.max(), power) > 1e307 or np.ldexp(pos.min(), power) < 1e-307
        return
    sq = ((base[:, None, :] - base[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(sq, np.inf)
    order = np.argsort(sq, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(nb.indices, order)
    np.testing.assert_allclose(nb.distances, np.ldexp(np.sqrt(np.take_along_axis(sq, order, 1)), power),
                               rtol=1e-12)


@pytest.mark.fuzz
@FUZZ
@given(st.integers(30, 80), st.integers(2, 6), st.integers(-900, 900), st.integers(0, 2**32 - 1),
       st.sampled_from(["twonn", "mle", "lpca"]))
def test_fuzz_every_estimator_gives_the_scale_1_answer(n, d, power, seed, estimator):
    base = _cloud(n, d, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lidscope.local_dimensions(base, n_neighbors=10, estimator=estimator)
        got = lidscope.local_dimensions(np.ldexp(base, power), n_neighbors=10, estimator=estimator)
    np.testing.assert_allclose(got.values, ref.values, rtol=1e-9, equal_nan=True)
