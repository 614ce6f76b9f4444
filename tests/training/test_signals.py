"""plateau and drop on synthetic LID series."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lidscope.training.signals import drop, plateau


def test_plateau_found_where_the_series_flattens():
    vals = [14.0, 13.0, 12.0, 11.0, 10.5, 10.45, 10.5, 10.48]
    p = plateau(vals, [100 * i for i in range(len(vals))], window=3)
    assert p.detected and p.start_step == 400 and p.step == 600
    assert p.tolerance == pytest.approx(0.02 * p.level)
    assert not plateau(vals[:5], window=3)
    # an explicit noise level: band of two standard deviations
    assert plateau([10.0, 10.3, 10.1], window=3, noise=0.2).detected
    assert not plateau([10.0, 10.5, 10.1], window=3, noise=0.1).detected


def test_default_window_needs_four_values_and_ignores_a_steady_slow_decline():
    # SmolLM2 fine-tuning, chit-chat validation (docs/reproductions.md): still falling ~1.8 % per checkpoint
    vals, steps = [10.30, 9.67, 9.49, 9.32], [0, 100, 200, 300]
    assert not plateau(vals, steps)
    assert plateau(vals, steps, window=3).step == 300    # what the old default (3) said
    assert not plateau([5.0, 5.0, 5.0])                   # three values cannot confirm the default window
    assert plateau([5.0, 5.0, 5.0, 5.05]).step == 3


def test_drop_events_merge_and_respect_threshold():
    vals = [12.0, 12.1, 12.0, 11.0, 10.0, 10.1, 10.0, 10.05]
    ev = drop(vals, [0, 1, 2, 3, 4, 5, 6, 7])
    assert len(ev) == 1
    e = ev[0]
    assert (e.reference_step, e.step, e.from_value, e.to_value) == (1, 4, 12.1, 10.0)
    assert e.relative == pytest.approx(2.1 / 12.1)
    assert drop([10.0, 9.7, 9.6]) == []  # 4 % < 5 %
    assert len(drop([10.0, 9.7], noise=0.05)) == 1  # 0.3 > 3 * sqrt(2) * 0.05


def test_signal_input_checks():
    with pytest.raises(ValueError, match="NaN"):
        plateau([1.0, math.nan, 1.0])
    with pytest.raises(ValueError, match="length"):
        drop([1.0, 2.0], [1])
    with pytest.raises(ValueError, match="window"):
        plateau([1.0, 1.0], window=1)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(1.0, 30.0), min_size=2, max_size=30))
def test_rising_or_constant_series_never_drop(values):
    rising = sorted(values)
    assert drop(rising) == []
    assert plateau([rising[0]] * 4).detected
