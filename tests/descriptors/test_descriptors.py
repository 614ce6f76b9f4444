"""Every geometry descriptor against a direct formula or the reference library called directly."""

import warnings

import numpy as np
import pytest

import lidscope
from lidscope import LIDInputError
from lidscope.descriptors import GRIDE, Anisotropy, Persistence, ScaleProfile, Spectrum, neighborhood_overlap
from lidscope.descriptors.scale import gride_single_scale
from lidscope.synthetic import curved_manifold, linear_subspace, sphere, torus

from skdim_reference import skdim_pointwise_twonn


@pytest.fixture(scope="module")
def cloud():
    return curved_manifold(500, 5, 40, seed=1).astype(np.float64)


def test_scale_profile_equals_skdim_fit_pw_at_every_size(cloud):
    sizes = (8, 16, 32, 64)
    sp = ScaleProfile(sizes).fit(cloud)
    for j, L in enumerate(sizes):
        ref = skdim_pointwise_twonn(cloud, L)
        np.testing.assert_allclose(sp.dimension_pw_[:, j], ref, rtol=1e-9, atol=1e-9)
        assert sp.mean_[j] == pytest.approx(np.mean(ref), rel=1e-10)


def test_gride_root_is_the_likelihood_maximum(cloud):
    """The bisection root is where a direct numeric maximisation of the GRIDE log-likelihood lands."""
    from scipy.optimize import minimize_scalar
    from scipy.special import betaln

    nb = lidscope.kneighbors(cloud, 16)
    mus = nb.distances[:, 15] / nb.distances[:, 7]
    n1, n2 = 8, 16
    d, err = gride_single_scale(mus, n1, n2)
    q95, q50 = np.percentile(mus, [95, 50])
    m = mus[mus < 20 * (q95 - q50) + q50]
    N = m.size

    def negloglik(x):  # density of mu (Denti et al. 2022), with DADApy 0.3.4's (N - 1) log d
        return -((N - 1) * np.log(x) + (n2 - n1 - 1) * np.sum(np.log(m**x - 1))
                 - ((n2 - 1) * x + 1) * np.sum(np.log(m)) - N * betaln(n2 - n1, n1))

    ref = minimize_scalar(negloglik, bounds=(0.5, 50), method="bounded", options={"xatol": 1e-10}).x
    assert d == pytest.approx(ref, abs=1e-6)
    assert err > 0


def test_gride_recovers_the_dimension_of_a_flat_gaussian():
    X = linear_subspace(4000, 6, 30, seed=0)
    g = GRIDE(max_rank=32).fit(X)
    assert list(g.n1_) == [1, 2, 4, 8, 16] and list(g.n2_) == [2, 4, 8, 16, 32]
    # a flat 6-D Gaussian: every scale within 4 standard errors of 6 (plus the density-gradient bias at large n1)
    assert np.all(np.abs(g.dimension_ - 6) < 4 * g.dimension_err_ + 0.3)
    nb = lidscope.kneighbors(X, 32)
    assert g.scale_[0] == pytest.approx((nb.distances[:, 0].mean() + nb.distances[:, 1].mean()) / 2)


def test_persistence_equals_giotto_ph_called_directly(cloud):
    from gph import ripser_parallel

    ph = Persistence(n_points=200, random_state=3).fit(cloud)
    dgms = ripser_parallel(cloud[ph.sample_index_], maxdim=1)["dgms"]
    np.testing.assert_array_equal(ph.diagrams_[0], dgms[0])
    np.testing.assert_array_equal(ph.diagrams_[1], dgms[1])
    life = dgms[1][:, 1] - dgms[1][:, 0]
    assert ph.total_persistence_[1] == pytest.approx(life.sum())
    assert ph.max_persistence_[1] == pytest.approx(life.max())
    assert ph.n_long_lived_h1_ == int((dgms[1][:, 1] / dgms[1][:, 0] >= ph.long_lived_ratio).sum())


@pytest.mark.parametrize("X, loops", [(sphere(300, 1, seed=0), 1), (torus(800, seed=0), 2)])
def test_long_lived_h1_counts_the_loops_of_known_shapes(X, loops):
    assert Persistence(n_points=None).fit(X).n_long_lived_h1_ == loops


def test_persistence_refuses_too_few_points():
    with pytest.raises(LIDInputError, match="at least 4 distinct points"):
        Persistence().fit(np.array([[0.0, 0], [1, 0], [0, 1], [0, 1]]))


def test_anisotropy_equals_the_mean_over_all_pairs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 7)) + 0.5
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    C = U @ U.T
    direct = C[np.triu_indices(60, 1)].mean()
    assert Anisotropy().fit(X).mean_cosine_ == pytest.approx(direct, rel=1e-12)


def test_anisotropy_refuses_zero_vectors():
    with pytest.raises(LIDInputError, match="zero vectors"):
        Anisotropy().fit(np.array([[1.0, 0], [0, 0], [0, 1]]))


def test_spectrum_equals_numpy_svd_and_covariance():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 12)) * np.linspace(0.1, 3, 12) + 1.0
    s = Spectrum().fit(X)
    sv = np.linalg.svd(X, compute_uv=False)
    p = sv / sv.sum()
    assert s.effective_rank_ == pytest.approx(np.exp(-(p * np.log(p)).sum()), rel=1e-9)
    q = p + 1e-7
    assert s.rankme_ == pytest.approx(np.exp(-(q * np.log(q)).sum()), rel=1e-9)
    lam = np.linalg.eigvalsh(np.cov(X.T))
    assert s.participation_ratio_ == pytest.approx(lam.sum() ** 2 / (lam**2).sum(), rel=1e-9)


def test_isoscore_equals_the_isoscore_package():
    IsoScore = pytest.importorskip("IsoScore.IsoScore")
    rng = np.random.default_rng(1)
    for X in (rng.normal(size=(300, 10)), rng.normal(size=(300, 10)) * np.geomspace(0.01, 1, 10)):
        assert Spectrum().fit(X).isoscore_ == pytest.approx(float(IsoScore.IsoScore(X)), abs=1e-6)


def test_spectrum_refuses_a_cloud_without_variance():
    with pytest.raises(LIDInputError, match="no variance"):
        Spectrum().fit(np.ones((10, 3)))


def test_overlap_equals_shared_neighbours_by_brute_force(cloud):
    rng = np.random.default_rng(0)
    B = cloud + rng.normal(scale=0.05, size=cloud.shape)
    k = 10

    def knn(X):
        D = ((X[:, None] - X[None]) ** 2).sum(-1)
        np.fill_diagonal(D, np.inf)
        return np.argsort(D, axis=1)[:, :k]

    a, b = knn(cloud), knn(B)
    direct = np.mean([len(set(a[i]) & set(b[i])) / k for i in range(len(cloud))])
    ov = neighborhood_overlap(cloud, B, k)
    assert ov.mean == pytest.approx(direct)
    assert 0 < ov.mean < 1


def test_overlap_of_a_rotated_copy_is_one(cloud):
    Q, _ = np.linalg.qr(np.random.default_rng(2).normal(size=(40, 40)))
    assert neighborhood_overlap(cloud, cloud @ Q * 3.0 + 1.0, 16).mean == 1.0


def test_geometry_reports_every_descriptor_with_params_and_timings(cloud):
    r = lidscope.geometry(cloud, "all", other=cloud * 2, scale_neighbors=(8, 16), gride_max_rank=16, ph_n_points=100)
    assert set(r.values) == {"scale_profile", "gride", "persistence", "anisotropy", "spectrum", "overlap"}
    assert not r.unavailable
    assert r["scale_profile"]["mean"] == pytest.approx(ScaleProfile((8, 16)).fit(cloud).mean_.tolist())
    assert r["gride"]["dimension"] == pytest.approx(GRIDE(16).fit(cloud).dimension_.tolist())
    assert r["overlap"]["mean"] == 1.0
    assert r.params["persistence"]["n_points_used"] == 100
    assert {"neighbors", "total", "gride"} <= set(r.timings)


def test_geometry_says_what_it_could_not_compute():
    X = np.vstack([np.zeros((1, 3)), np.eye(3)])  # 4 points, one of them the zero vector
    with pytest.warns(RuntimeWarning, match="anisotropy not computed"):
        r = lidscope.geometry(X, ["anisotropy", "scale_profile", "persistence"])
    assert "zero vectors" in r.unavailable["anisotropy"]
    assert "needs more than L points" in r.unavailable["scale_profile"]
    assert "persistence" in r.values
    with pytest.raises(KeyError, match="could not be computed"):
        r["anisotropy"]
    with pytest.raises(LIDInputError, match="anisotropy"):
        lidscope.geometry(X, ["anisotropy"], strict=True)


def test_geometry_drops_sizes_above_the_cloud_and_lists_them(cloud):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = lidscope.geometry(cloud[:100], ["scale_profile", "gride"], scale_neighbors=(16, 64, 128), gride_max_rank=256)
    assert r.params["scale_profile"]["dropped_n_neighbors"] == [128]
    assert r["scale_profile"]["n_neighbors"] == [16, 64]
    assert r.params["gride"]["dropped_ranks"] == [128, 256]


def test_geometry_refuses_unknown_metrics(cloud):
    with pytest.raises(LIDInputError, match="unknown metric"):
        lidscope.geometry(cloud, ["lid", "gride"])


def test_geometry_drops_duplicates_and_counts_them(cloud):
    r = lidscope.geometry(np.vstack([cloud, cloud[:5]]), ["anisotropy"])
    assert r.params["n_duplicates_removed"] == 5
    assert r["anisotropy"]["mean_cosine"] == pytest.approx(Anisotropy().fit(cloud).mean_cosine_)
