"""Local and global TwoNN equal scikit-dimension's to rounding on varied clouds."""

import numpy as np
import pytest
import skdim

from skdim_reference import reference_context, skdim_pointwise_twonn
from lidscope import LocalTwoNN, TwoNN, local_dimensions
from lidscope.synthetic import curved_manifold, linear_subspace


def _clusters(n=840, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=5.0, size=(6, 768))
    sub = [linear_subspace(n // 6, 4, 768, seed=seed + i) * 0.5 + c for i, c in enumerate(centres)]
    return np.vstack(sub)


def _near_ties(seed=0, offset=0.0):
    """An integer 3-D grid jittered by 1e-6, rotated into 768-D: many almost equal distances."""
    rng = np.random.default_rng(seed)
    g = np.stack(np.meshgrid(*[np.arange(9)] * 3), -1).reshape(-1, 3).astype(float)
    g += rng.normal(scale=1e-6, size=g.shape)
    Q, _ = np.linalg.qr(rng.normal(size=(768, 3)))
    return g @ Q.T + offset


CLOUDS = {
    "manifold-2d": lambda: curved_manifold(800, 2, noise=0.005, seed=1, dtype=np.float64),
    "manifold-10d": lambda: curved_manifold(800, 10, seed=2, dtype=np.float64),
    "manifold-30d": lambda: curved_manifold(800, 30, seed=3, dtype=np.float64),
    "clusters": _clusters,
    "near-ties": _near_ties,
}


@pytest.mark.parametrize("name", sorted(CLOUDS))
def test_local_twonn_equals_skdim_fit_pw(name):
    X = CLOUDS[name]()
    ref = skdim_pointwise_twonn(X, 128)
    ours = LocalTwoNN(n_neighbors=128).fit(X).dimension_pw_
    np.testing.assert_allclose(ours, ref, rtol=1e-6)


def test_near_ties_far_from_the_origin_give_the_same_estimates():
    """Offset by 100 in every coordinate, float32 GEMM (and float64 |x|^2 + |y|^2 - 2x.y, which
    scikit-dimension uses) cannot resolve the 1e-6 jitter; direct float64 distances can."""
    near, far = _near_ties(), _near_ties(offset=100.0)
    np.testing.assert_allclose(LocalTwoNN(128).fit(far).dimension_pw_, LocalTwoNN(128).fit(near).dimension_pw_, rtol=1e-6)


def test_local_twonn_mle_equals_skdim():
    X = CLOUDS["manifold-10d"]()[:600]
    ref = skdim_pointwise_twonn(X, 64, method="mle")
    np.testing.assert_allclose(LocalTwoNN(64, method="mle").fit(X).dimension_pw_, ref, rtol=1e-6)


def test_float32_input_equals_skdim_on_the_same_values():
    X = curved_manifold(600, 6, seed=4)  # float32
    ref = skdim_pointwise_twonn(X.astype(np.float64), 128)
    np.testing.assert_allclose(local_dimensions(X).values, ref, rtol=1e-6)


def _hub():
    """A point at the centre of 80 tight clusters: its neighbours' own lists hold only their cluster."""
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(80, 64))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    clusters = centres[:, None, :] + 0.01 * rng.normal(size=(80, 40, 64))
    return np.vstack([np.zeros((1, 64)), clusters.reshape(-1, 64)])


def test_members_without_two_members_in_their_list_get_direct_distances():
    X = _hub()
    fitted = LocalTwoNN(n_neighbors=32).fit(X)
    assert fitted.n_direct_ > 0  # the fallback path ran
    np.testing.assert_allclose(fitted.dimension_pw_, skdim_pointwise_twonn(X, 32), rtol=1e-6)


def test_torch_backend_gives_the_same_numbers():
    X = CLOUDS["manifold-10d"]()[:500]
    a = local_dimensions(X, n_neighbors=64, backend="numba")
    b = local_dimensions(X, n_neighbors=64, backend="torch", device="cpu")
    np.testing.assert_allclose(a.values, b.values, rtol=1e-9)
    assert a.global_estimate == pytest.approx(b.global_estimate, rel=1e-12)


@pytest.mark.parametrize("method", ["linear", "mle"])
@pytest.mark.parametrize("name", ["manifold-10d", "clusters", "near-ties"])
def test_global_twonn_equals_skdim_fit(name, method):
    X = CLOUDS[name]()
    with reference_context():
        ref = skdim.id.TwoNN(method=method).fit(X).dimension_
    assert TwoNN(method=method).fit(X).dimension_ == pytest.approx(ref, rel=1e-6)


def test_global_estimate_of_local_dimensions_is_global_twonn():
    X = CLOUDS["manifold-10d"]()
    assert local_dimensions(X).global_estimate == pytest.approx(TwoNN().fit(X).dimension_, rel=1e-12)


def test_linear_fit_without_discard_is_refused():
    with pytest.raises(ValueError, match="discard_fraction > 0"):
        LocalTwoNN(32, discard_fraction=0.0).fit(CLOUDS["manifold-2d"]())
    # the MLE has no such problem
    X = CLOUDS["manifold-2d"]()[:400]
    ref = skdim_pointwise_twonn(X, 32, method="mle", discard_fraction=0.0)
    np.testing.assert_allclose(LocalTwoNN(32, 0.0, "mle").fit(X).dimension_pw_, ref, rtol=1e-6)


@pytest.mark.parametrize("discard", [0.05, 0.25])
def test_discard_fraction_is_honoured(discard):
    X = CLOUDS["manifold-2d"]()[:400]
    ref = skdim_pointwise_twonn(X, 32, discard_fraction=discard)
    np.testing.assert_allclose(LocalTwoNN(32, discard_fraction=discard).fit(X).dimension_pw_, ref, rtol=1e-6)
