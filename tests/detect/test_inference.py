"""Set- and text-level inference on per-text scores: calibration under the null, power under a shift."""

from __future__ import annotations

import numpy as np
import pytest

from lidscope.detect import inference


def test_auc_and_tpr_match_sklearn():
    from sklearn.metrics import roc_auc_score, roc_curve

    rng = np.random.default_rng(0)
    pos, neg = rng.normal(0.7, 1, 200), rng.normal(0, 1, 300)
    y = np.r_[np.ones(200), np.zeros(300)]
    assert inference.roc_auc(pos, neg) == pytest.approx(roc_auc_score(y, np.r_[pos, neg]))
    fpr, tpr, _ = roc_curve(y, np.r_[pos, neg])
    assert inference.tpr_at_fpr(pos, neg, 0.05) == pytest.approx(tpr[fpr <= 0.05].max())
    f2, t2 = inference.roc_curve(pos, neg)
    np.testing.assert_allclose(np.interp(fpr, f2, t2), np.interp(fpr, fpr, tpr), atol=1e-12)


def test_detection_curve_calibrated_under_null_and_powerful_under_shift():
    rng = np.random.default_rng(1)
    # over many candidate / reference pools from one distribution, a "member" verdict comes in about alpha = 5 %
    rates = np.mean([[c["p_member_verdict"] for c in inference.detection_curve(
        rng.normal(size=300), rng.normal(size=300), (10, 30, 100), n_resamples=200, seed=i)] for i in range(40)], axis=0)
    assert np.all((rates > 0.03) & (rates < 0.075)), rates
    shifted = inference.detection_curve(rng.normal(0.8, 1, 400), rng.normal(size=400), (10, 30, 100))
    p = [c["p_member_verdict"] for c in shifted]
    assert p[0] < p[1] < p[2] and p[2] > 0.99
    assert inference.detection_curve(np.zeros(5), np.zeros(50), (10,))[0]["p_member_verdict"] is None


def test_difference_interval_covers_and_permutation_p_is_uniform_ish():
    rng = np.random.default_rng(2)
    cover, small_p = 0, 0
    trials = 200
    for i in range(trials):
        a, b = rng.normal(0.3, 1, 80), rng.normal(0, 1, 80)
        d = inference.difference(a, b, n_boot=400, n_perm=10, seed=i)
        cover += d["low"] <= 0.3 <= d["high"]
        null = inference.difference(rng.normal(size=80), rng.normal(size=80), n_boot=100, n_perm=200, seed=i)
        small_p += null["p_value"] < 0.05
    assert 0.9 <= cover / trials <= 0.99
    assert small_p / trials <= 0.09
