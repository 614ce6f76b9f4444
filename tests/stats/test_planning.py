"""Planning: interpolation of the measured noise table and its scaling with R."""

from __future__ import annotations

import math

import pytest

from lidscope.stats.planning import NoiseRow, expected_noise

TABLE = (
    NoiseRow("m", "d", 100, 1000, 5, 0.04, 0.02, "test"),
    NoiseRow("m", "d", 400, 4000, 5, 0.02, 0.01, "test"),
)


def test_power_law_through_the_rows_and_sqrt_r():
    at = expected_noise(1000, table=TABLE, model="m")
    assert at["relative_se_mean"] == pytest.approx(0.04) and at["relative_se_paired_shift"] == pytest.approx(0.02)
    mid = expected_noise(2000, table=TABLE, model="m")
    assert mid["relative_se_mean"] == pytest.approx(0.04 / math.sqrt(2)) and not mid["extrapolated"]
    r4 = expected_noise(4000, 4, table=TABLE, model="m")
    assert r4["relative_se_mean"] == pytest.approx(0.01) and r4["relative_se_paired_shift"] == pytest.approx(0.005)
    # t with 3 df: (3.182 + 0.978) * se
    assert r4["smallest_detectable_shift"] == pytest.approx((3.182446 + 0.978472) * 0.005, rel=1e-5)
    assert expected_noise(10_000, table=TABLE, model="m")["extrapolated"]
    # one replicate: no interval, so no detectable shift is promised
    assert math.isnan(at["smallest_detectable_shift"])


def test_unknown_model_is_refused():
    with pytest.raises(ValueError, match="no measured noise"):
        expected_noise(1000, table=TABLE, model="gpt")


def test_the_shipped_table_gives_the_measured_noise_at_its_size():
    from lidscope.stats.planning import NOISE_TABLE

    rows = sorted((r for r in NOISE_TABLE if r.model == "minilm"), key=lambda r: r.n_points)
    assert len({r.n_points for r in rows}) >= 2   # the fit rests on more than one measured size
    for row in (rows[0], rows[-1]):  # two sizes: the power law passes through both measurements
        got = expected_noise(row.n_points, 4, model="minilm")
        assert got["relative_se_mean"] == pytest.approx(row.relative_sd_mean / 2) and not got["extrapolated"]
        assert got["relative_se_paired_shift"] == pytest.approx(row.relative_sd_paired / 2)
    assert expected_noise(4 * rows[-1].n_points, model="minilm")["extrapolated"]
    # one size for SmolLM2 (three datasets): their log-average, falling as 1 / sqrt(N) from there
    sm = [r for r in NOISE_TABLE if r.model == "smollm2"]
    geo = math.exp(sum(math.log(r.relative_sd_mean) for r in sm) / len(sm))
    assert expected_noise(4 * sm[0].n_points, model="smollm2")["relative_se_mean"] == pytest.approx(geo / 2)
