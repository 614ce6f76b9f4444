"""empirical_fraction="skdim-0.3.4" equals scikit-dimension 0.3.4's TwoNN fit, point by point.

The reference below is 0.3.4's fit written out from its definition (not lidscope code): keep the
int(N (1 - f)) smallest ratios mu, F_i = (i - 1) / N for i = 1.., and the least-squares slope through
the origin of -log(1 - F) on log(mu). Each neighbourhood is the point's L nearest neighbours (self
excluded), its ratios from brute-force distances inside it.
"""

import numpy as np
import pytest

from lidscope import LIDInputError, LocalTwoNN, TwoNN, local_dimensions
from lidscope.synthetic import curved_manifold

from skdim_reference import skdim_pointwise_twonn


def twonn_034(points: np.ndarray, discard_fraction: float) -> float:
    D = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(D, np.inf)
    r = np.sort(D, axis=1)
    mu = np.sort(r[:, 1] / r[:, 0])
    N = len(mu)
    keep = int(N * (1 - discard_fraction))
    x = np.log(mu[:keep])
    y = -np.log(1 - np.arange(keep) / N)
    return float(x @ y / (x @ x))


def pointwise_034(X: np.ndarray, L: int, discard_fraction: float) -> np.ndarray:
    D = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(D, np.inf)
    members = np.argsort(D, axis=1, kind="stable")[:, :L]
    return np.array([twonn_034(X[m], discard_fraction) for m in members])


@pytest.mark.parametrize("L, f", [(128, 0.1), (64, 0.1), (20, 0.25)])
@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_pointwise_equals_the_034_formula(L, f, backend):
    X = curved_manifold(400, 5, 24, seed=L, dtype=np.float64)
    got = LocalTwoNN(L, f, backend=backend, empirical_fraction="skdim-0.3.4").fit(X).dimension_pw_
    np.testing.assert_allclose(got, pointwise_034(X, L, f), rtol=1e-10)
    # and the default still equals the current release (0.5), which reads higher at every point
    new = LocalTwoNN(L, f, backend=backend).fit(X).dimension_pw_
    np.testing.assert_allclose(new, skdim_pointwise_twonn(X, L, discard_fraction=f), rtol=1e-10)
    assert (new > got).all()


def test_global_and_recorded():
    X = curved_manifold(500, 4, 16, seed=0, dtype=np.float64)
    assert TwoNN(empirical_fraction="skdim-0.3.4").fit(X).dimension_ == pytest.approx(twonn_034(X, 0.1), rel=1e-10)
    r = local_dimensions(X, n_neighbors=32, empirical_fraction="skdim-0.3.4")
    assert r.summary()["params"]["empirical_fraction"] == "skdim-0.3.4"
    assert r.global_estimate == pytest.approx(twonn_034(X, 0.1), rel=1e-10)
    np.testing.assert_allclose(r.values, pointwise_034(X, 32, 0.1), rtol=1e-10)
    assert local_dimensions(X, n_neighbors=32).params["empirical_fraction"] == "skdim-0.5"
    with pytest.raises(LIDInputError, match="skdim-0.3.4"):
        local_dimensions(X, n_neighbors=32, empirical_fraction="paper")
