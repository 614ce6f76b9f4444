"""Cluster bootstrap over sequences: exact small cases and coverage where the truth is known."""

from __future__ import annotations

import numpy as np
import pytest

from lidscope.stats import cluster_bootstrap, compare_bootstrap, paired_cluster_bootstrap
from lidscope.stats.bootstrap import scaled
from lidscope.stats.verdict import LOWER, SAME


def _clustered(rng, g, size=12, sd_cluster=1.0, sd_point=0.5, mean=8.0):
    """Points in g sequences sharing a per-sequence offset (tokens of one text are alike)."""
    n = rng.integers(size // 2, size * 2, g)
    clusters = np.repeat(np.arange(g), n)
    values = mean + np.repeat(rng.normal(0, sd_cluster, g), n) + rng.normal(0, sd_point, n.sum())
    return values, clusters


def test_estimate_is_the_pooled_mean_and_labels_can_be_anything():
    v = np.array([1.0, 2.0, 3.0, 10.0])
    iv = cluster_bootstrap(v, np.array(["b", "b", "b", "a"]), n_boot=500)
    assert iv.estimate == pytest.approx(4.0) and iv.n == 2 and iv.low >= 2.0 and iv.high <= 10.0


def test_identical_clusters_give_a_zero_width_interval():
    v = np.tile([1.0, 3.0], 50)
    iv = cluster_bootstrap(v, np.repeat(np.arange(50), 2))
    assert iv.estimate == 2.0 and iv.se == pytest.approx(0.0, abs=1e-12) and iv.low == pytest.approx(2.0)


def test_se_matches_the_cluster_formula():
    # equal cluster sizes: the bootstrap se of the mean -> sd(cluster means) * sqrt((G-1)/G) / sqrt(G)
    rng = np.random.default_rng(3)
    g = 400
    values, clusters = _clustered(rng, g, size=10)
    means = np.bincount(clusters, values) / np.bincount(clusters)
    sizes = np.bincount(clusters)
    # ratio estimator's linearised se
    m = values.mean()
    resid = (np.bincount(clusters, values) - m * sizes) / sizes.mean()
    se = resid.std(ddof=0) / np.sqrt(g)
    iv = cluster_bootstrap(values, clusters, n_boot=4000, seed=1)
    assert iv.se == pytest.approx(se, rel=0.06)
    assert iv.estimate == pytest.approx(values.mean()) and means.size == g


def test_ignoring_the_clusters_would_be_too_narrow():
    rng = np.random.default_rng(4)
    values, clusters = _clustered(rng, 200, sd_cluster=1.0, sd_point=0.2)
    by_seq = cluster_bootstrap(values, clusters, seed=2)
    by_point = cluster_bootstrap(values, np.arange(values.size), seed=2)
    assert by_seq.se > 2.5 * by_point.se


def test_coverage_of_the_mean_when_sequences_are_the_sampling_unit():
    rng = np.random.default_rng(5)
    hits = 0
    trials = 300
    for t in range(trials):
        values, clusters = _clustered(rng, 150, mean=8.0)
        hits += cluster_bootstrap(values, clusters, n_boot=400, seed=t).contains(8.0)
    assert 0.91 <= hits / trials <= 0.98


def test_paired_bootstrap_cancels_the_shared_sequence_effect():
    rng = np.random.default_rng(6)
    hits = 0
    widths = []
    trials = 200
    for t in range(trials):
        values, clusters = _clustered(rng, 150, sd_cluster=1.5, sd_point=0.3)
        other = values * 0.97 + rng.normal(0, 0.05, values.size)  # a true -3 % shift, same tokens
        a, b, d, r = paired_cluster_bootstrap(values, clusters, other, clusters, n_boot=400, seed=t)
        hits += r.contains(-0.03)
        widths.append((d.half_width, a.half_width))
    assert 0.91 <= hits / trials <= 0.98
    w = np.array(widths)
    assert np.median(w[:, 0] / w[:, 1]) < 0.2  # the difference is far sharper than either mean


def test_compare_bootstrap_verdicts_and_correction_factor():
    rng = np.random.default_rng(8)
    values, clusters = _clustered(rng, 300, sd_cluster=0.5)
    c = compare_bootstrap(values, clusters, values * 0.95, clusters, n_boot=500)
    assert c.verdict == LOWER and c.method == "bootstrap" and c.relative.high < 0
    same = compare_bootstrap(values, clusters, values + rng.normal(0, 0.3, values.size), clusters, n_boot=500)
    assert same.verdict == SAME
    wide = compare_bootstrap(values, clusters, values * 0.95, clusters, n_boot=500, factor=2.0)
    assert wide.difference.half_width == pytest.approx(2 * c.difference.half_width)
    assert wide.detectable == pytest.approx(2 * c.detectable)
    with pytest.raises(ValueError, match="positive"):
        scaled(c.difference, 0.0)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="at least 2 sequences"):
        cluster_bootstrap([1.0, 2.0], [0, 0])
    with pytest.raises(ValueError, match="same length"):
        cluster_bootstrap([1.0, 2.0], [0, 1, 2])
    with pytest.raises(ValueError, match="finite"):
        cluster_bootstrap([1.0, np.inf], [0, 1])
