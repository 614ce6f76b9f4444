"""Intervals from replicates: exact quantiles, known cases, and coverage on simulated data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lidscope.stats import (Interval, compare_replicates, paired_difference, replicate_interval,
                            smallest_detectable_change, t_quantile, verdict, welch_difference)
from lidscope.stats.intervals import t_critical, t_sf
from lidscope.stats.verdict import HIGHER, LOWER, SAME, UNKNOWN


@pytest.mark.parametrize(("df", "q975"), [(1, 12.706204736), (2, 4.302652730), (4, 2.776445105),
                                         (9, 2.262157163), (30, 2.042272456), (math.inf, 1.959963985)])
def test_t_quantile_equals_tables(df, q975):
    assert t_quantile(0.975, df) == pytest.approx(q975, rel=1e-6)
    assert t_quantile(0.025, df) == pytest.approx(-q975, rel=1e-6)


def test_t_critical_is_the_two_sided_quantile_per_df_and_undefined_below_one():
    q = t_critical([0.0, 1.0, 4.0, math.inf], 0.95)
    assert math.isnan(q[0])
    np.testing.assert_allclose(q[1:], [12.706204736, 2.776445105, 1.959963985], rtol=1e-9)
    assert t_critical([9.0], 0.9)[0] == pytest.approx(t_quantile(0.95, 9))


def test_t_sf_is_the_upper_tail_at_the_quantile():
    np.testing.assert_allclose(t_sf(np.array([t_quantile(0.975, 4), 0.0]), 4), [0.025, 0.5], rtol=1e-12)


def test_replicate_interval_by_hand():
    iv = replicate_interval([1.0, 2.0, 3.0, 4.0])
    se = np.std([1, 2, 3, 4], ddof=1) / 2
    assert iv.estimate == 2.5 and iv.se == pytest.approx(se)
    assert iv.low == pytest.approx(2.5 - 3.182446305 * se) and iv.high == pytest.approx(2.5 + 3.182446305 * se)
    assert iv.values == (1.0, 2.0, 3.0, 4.0) and iv.n == 4 and iv.df == 3


def test_one_replicate_has_no_interval_and_no_verdict():
    iv = replicate_interval([8.5])
    assert iv.estimate == 8.5 and not iv.known and math.isnan(iv.se)
    assert verdict(iv) == UNKNOWN
    assert Interval.from_dict(iv.to_dict()).values == (8.5,)


def test_bad_values_are_refused():
    with pytest.raises(ValueError, match="finite"):
        replicate_interval([1.0, float("nan")])
    with pytest.raises(ValueError, match="one to one"):
        paired_difference([1, 2, 3], [1, 2])


def test_verdicts():
    assert verdict(Interval(-1, 0.3, -1.6, -0.4)) == LOWER
    assert verdict(Interval(1, 0.3, 0.4, 1.6)) == HIGHER
    assert verdict(Interval(0.1, 0.3, -0.5, 0.7)) == SAME


def test_paired_difference_cancels_shared_noise():
    # replicate r of both shares a large common offset; the true shift is exactly -0.5
    common = np.array([3.0, -2.0, 5.0, 0.5, -4.0])
    base = 10 + common
    other = base - 0.5 + np.array([0.01, -0.01, 0.02, 0.0, -0.02])
    d, rel = paired_difference(base, other)
    assert d.estimate == pytest.approx(-0.5) and d.high < 0 and d.half_width < 0.05
    w, _ = welch_difference(base, other)
    assert w.contains(0.0)  # unpaired, the shared noise swamps the shift
    c = compare_replicates(base, other)
    assert c.verdict == LOWER and c.relative.estimate == pytest.approx(np.mean((other - base) / base))


def test_smallest_detectable_change_has_the_stated_power():
    # normal estimate with se 1: a true change of the quoted size is found 80 % of the time
    det = smallest_detectable_change(1.0)
    assert det == pytest.approx(1.959964 + 0.841621, rel=1e-5)
    rng = np.random.default_rng(1)
    est = det + rng.standard_normal(200_000)
    assert np.mean(np.abs(est) > 1.959964) == pytest.approx(0.8, abs=0.005)


@pytest.mark.parametrize("r", [3, 5, 10])
def test_replicate_interval_coverage_on_simulated_data(r):
    # skewed (gamma) replicate values: the t interval still covers the true mean about 95 % of the time
    rng = np.random.default_rng(r)
    trials = 4000
    x = rng.gamma(20.0, 0.5, size=(trials, r))  # true mean 10
    hits = sum(replicate_interval(row).contains(10.0) for row in x)
    assert 0.93 <= hits / trials <= 0.97


def test_welch_coverage_on_simulated_data():
    rng = np.random.default_rng(7)
    hits = 0
    trials = 2000
    for _ in range(trials):
        a = rng.normal(10.0, 0.3, 5)
        b = rng.normal(10.2, 0.6, 5)
        d, rel = welch_difference(a, b)
        hits += d.contains(0.2)
    assert 0.93 <= hits / trials <= 0.97
