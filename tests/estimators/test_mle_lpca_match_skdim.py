"""Levina-Bickel MLE and local PCA equal scikit-dimension's pointwise estimates."""

import numpy as np
import pytest
import skdim

from skdim_reference import reference_context
from lidscope import LocalMLE, LocalPCA, local_dimensions
from lidscope.synthetic import curved_manifold


@pytest.fixture(scope="module")
def cloud():
    return curved_manifold(800, 5, 100, seed=7, dtype=np.float64)


def test_local_mle_equals_skdim(cloud):
    with reference_context():
        ref = skdim.id.MLE().fit(cloud, n_neighbors=20).dimension_pw_
    np.testing.assert_allclose(LocalMLE(20).fit(cloud).dimension_pw_, ref, rtol=1e-9)


@pytest.mark.parametrize("version", ["FO", "participation_ratio"])
def test_local_pca_equals_skdim(cloud, version):
    X = cloud[:300]
    with reference_context():
        ref = skdim.id.lPCA(ver=version).fit_pw(X, n_neighbors=64).dimension_pw_
    np.testing.assert_allclose(LocalPCA(64, version=version).fit(X).dimension_pw_, ref, rtol=1e-9)


def test_local_pca_ratio_counts_components_for_95_percent_variance():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 3)) * np.array([10.0, 10.0, 10.0])
    X = np.hstack([X, 1e-3 * rng.normal(size=(600, 5))])
    assert np.all(LocalPCA(64, version="ratio").fit(X).dimension_pw_ == 3)


@pytest.mark.parametrize("estimator", ["mle", "lpca", "twonn_mle"])
def test_local_dimensions_accepts_every_estimator(cloud, estimator):
    r = local_dimensions(cloud, n_neighbors=32, estimator=estimator)
    assert r.n_points == 800 and np.isfinite(r.values).all()
    assert 2.0 < r.mean < 8.0


def test_lpca_blas_is_single_threaded_inside_its_parallel_blocks(monkeypatch):
    """The spectra run blocks on lidscope's own threads; a multi-threaded BLAS inside each one
    oversubscribed the cores (issue 11: 15-19x slower)."""
    from threadpoolctl import threadpool_info

    from lidscope.estimators import lpca

    seen = []
    eigvalsh = np.linalg.eigvalsh

    def spy(G):
        # NumPy's own BLAS (the one matmul and eigvalsh call); other libraries may load meanwhile
        seen.append(max((p["num_threads"] for p in threadpool_info() if "numpy" in p["filepath"]), default=-1))
        return eigvalsh(G)

    monkeypatch.setattr(np.linalg, "eigvalsh", spy)
    X = np.random.default_rng(0).normal(size=(600, 20))
    LocalPCA(n_neighbors=30).fit(X)
    assert seen and max(seen) == 1
