"""--layer all: every hidden layer from one forward pass, the layer profile, its peak rule, CLI/report/compare."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "extract"))
from tinymodels import WORDS, save_tiny  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from lidscope import LIDInputError  # noqa: E402
from lidscope.measure import compare, measure  # noqa: E402
from lidscope.profile import INTERIOR_PEAK, NO_INTERIOR_PEAK, find_peak, layer_profile  # noqa: E402
from lidscope.settings import MeasureSettings  # noqa: E402

SMALL = dict(n_points=400, n_neighbors=12, sample_size=3000)
NAN = math.nan


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("profile-models")
    return {k: save_tiny(k, root / k) for k in ("bert", "llama")}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    rng = np.random.default_rng(3)
    f = tmp_path_factory.mktemp("corpus") / "texts.txt"
    f.write_text("\n".join(" ".join(rng.choice(WORDS, size=rng.integers(3, 25))) for _ in range(200)) + "\n",
                 encoding="utf-8")
    return f


@pytest.fixture(scope="module")
def all_bert(models, corpus, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return measure(models["bert"], corpus, layers="all", n_replicates=3, cache_dir=cache, **SMALL), cache


# ----------------------------------------------------------------------------- the peak rule


def test_interior_peak_above_both_neighbours_intervals_is_separated():
    p = find_peak([0, 1, 2, 3, 4], [3, 6, 9, 7, 5], [2.5, 5.5, 8.5, 6.5, 4.5], [3.5, 6.5, 9.5, 7.5, 5.5])
    assert p.status == INTERIOR_PEAK and p.layer == 2 and p.separated is True and p.overlaps == []
    assert p.depth == pytest.approx(0.5)


def test_interior_peak_whose_interval_touches_a_neighbour_overlaps_it():
    p = find_peak([0, 1, 2, 3], [3, 6, 7, 5], [2.9, 5.0, 6.0, 4.9], [3.1, 7.0, 8.0, 5.1])
    assert p.status == INTERIOR_PEAK and p.layer == 2 and p.separated is False and p.overlaps == [1]
    # touching at one bound counts as overlap
    q = find_peak([0, 1, 2], [1, 3, 2], [0.5, 2.5, 1.5], [1.5, 3.5, 2.5])
    assert q.separated is False and q.overlaps == [2]


def test_interior_peak_without_intervals_has_no_verdict():
    p = find_peak([0, 1, 2, 3], [3, 8, 7, 5])
    assert p.status == INTERIOR_PEAK and p.layer == 1 and p.separated is None and "no interval" in p.reason
    p = find_peak([0, 1, 2, 3], [3, 8, 7, 5], [NAN] * 4, [NAN] * 4)
    assert p.separated is None


@pytest.mark.parametrize("means,at", [([9, 6, 5, 4], 0), ([1, 2, 3, 4], 3), ([4, 4, 2, 1], 0)])
def test_largest_mean_at_an_end_is_no_interior_peak(means, at):
    p = find_peak(list(range(len(means))), means, [m - 0.1 for m in means], [m + 0.1 for m in means])
    assert p.status == NO_INTERIOR_PEAK and p.layer == at and p.separated is None and not p.interior


def test_ties_go_to_the_shallowest_layer_and_nan_means_are_skipped():
    assert find_peak([0, 1, 2, 3], [1, 5, 5, 1]).layer == 1
    assert find_peak([0, 1, 2, 3], [NAN, 2, 9, 1]).layer == 2
    assert find_peak([0, 1, 2], [NAN, NAN, NAN]).status == NO_INTERIOR_PEAK


def test_fewer_than_three_layers_have_no_interior():
    assert find_peak([0, 1], [1, 2]).status == NO_INTERIOR_PEAK
    with pytest.raises(ValueError):
        find_peak([0, 1, 2], [1, 2])


# ----------------------------------------------------------------------------- measure(layers="all")


def test_all_layers_give_each_layer_the_mean_and_interval_of_measuring_it_alone(all_bert, models, corpus):
    r, cache = all_bert
    n = r.summary["model"]["n_hidden_states"]
    assert n == 3 and list(r.summary["layers"]) == ["0", "1", "2"]
    for layer in range(n):
        alone = measure(models["bert"], corpus, layers=layer, n_replicates=3, cache_dir=cache, **SMALL)
        a, b = r.summary["layers"][str(layer)], alone.summary["layers"][str(layer)]
        assert a["mean"] == b["mean"] and a["interval"] == b["interval"]
        np.testing.assert_array_equal(r.layers[str(layer)].values, alone.first.values)
        # the same rule and the same draw: the same points unless a layer has bit-identical vectors
        assert a["cloud_counts"] == b["cloud_counts"]
        assert r.summary["params"]["dedup"] == alone.summary["params"]["dedup"] == "token-context"


def test_all_layers_come_from_one_forward_pass_per_batch_into_one_cache_entry(models, corpus, tmp_path):
    from lidscope.extract.cache import EmbeddingCache
    from lidscope.extract.models import load_model

    loaded = load_model(models["bert"])
    calls = []
    inner = loaded.model.forward

    def counted(*a, **k):
        calls.append(k.get("output_hidden_states"))
        return inner(*a, **k)

    loaded.model.forward = counted
    one = measure(loaded, corpus, layers=-1, cache_dir=tmp_path / "c1", **SMALL)
    n_one = len(calls)
    calls.clear()
    every = measure(loaded, corpus, layers="all", cache_dir=tmp_path / "c2", **SMALL)
    assert len(calls) == n_one == every.summary["extraction"]["n_forward_passes"] > 0
    assert one.summary["extraction"]["n_forward_passes"] == n_one and all(calls)
    (entry,) = [p for p in (tmp_path / "c2").iterdir() if not p.name.startswith(".")]
    cache = EmbeddingCache.open(entry)
    assert cache.layers == ["0", "1", "2"]
    np.testing.assert_array_equal(cache.read_all("2").shape, cache.read_all("0").shape)


def test_profile_carries_replicate_intervals_and_marks_the_peak(all_bert):
    r, _ = all_bert
    p = r.profile
    assert p.has_intervals and p.n_replicates == 3 and [x.layer for x in p.layers] == [0, 1, 2]
    for x in p.layers:
        iv = r.summary["layers"][x.label]["interval"]
        assert (x.mean, x.low, x.high) == (iv["estimate"], iv["low"], iv["high"])
    expect = find_peak([0, 1, 2], p.means, [x.low for x in p.layers], [x.high for x in p.layers])
    assert p.peak == expect and r.summary["profile"]["peak"]["status"] == expect.status
    assert 0 < r.summary["profile"]["shared_points"] <= SMALL["n_points"]


def test_one_replicate_profile_says_no_interval_was_computed(models, corpus, tmp_path):
    r = measure(models["llama"], corpus, layers="all", cache_dir=tmp_path, **SMALL)
    p = r.profile
    assert not p.has_intervals and all(math.isnan(x.low) for x in p.layers)
    assert "no interval was computed" in r.summary["profile"]["interval_note"]


def test_all_with_average_layers_is_refused_before_loading(corpus):
    with pytest.raises(LIDInputError, match="average"):
        measure("/nonexistent/model", corpus, layers="all", average_layers=True)


def test_settings_keep_all_through_dict_round_trip():
    s = MeasureSettings(layers="all")
    assert s.layers == "all" and MeasureSettings.from_dict(s.to_dict()) == s
    assert s.identity()["layers"] == "all" and s.settings_id != MeasureSettings().settings_id
    assert MeasureSettings(layers="ALL").layers == "all"


def test_layer_profile_of_an_averaged_result_is_refused():
    with pytest.raises(LIDInputError, match="single-layer"):
        layer_profile({"layers": {"mean(-2,-1)": {"mean": 3.0}}})


# ----------------------------------------------------------------------------- files, CLI, compare


def test_cli_measure_layer_all_prints_the_profile_and_draws_it(models, corpus, tmp_path, saved_figures):
    from typer.testing import CliRunner

    from lidscope.cli import app, register_commands

    register_commands()
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["measure", "--model", str(models["bert"]), "--data", str(corpus), "--layer", "all",
                                   "-N", "400", "-L", "12", "--sample-size", "3000", "-M", "0", "-R", "2", "-q",
                                   "--out", str(out), "--cache-dir", str(tmp_path / "c")])
    assert res.exit_code == 0, res.output
    s = json.loads((out / "summary.json").read_text())
    assert "Layer profile" in res.output and "layers.png" in s["files"] and (out / "layers.png").is_file()
    for label, ls in s["layers"].items():   # one table row per layer: its mean and interval
        iv = ls["interval"]
        assert f"{ls['mean']:.3f}" in res.output and f"{iv['low']:.3f} to {iv['high']:.3f}" in res.output
    assert ("interior peak at layer" in res.output) == (s["profile"]["peak"]["status"] == INTERIOR_PEAK)
    # layers.png: the means against the layer index
    fig = next(f for f in saved_figures if f.axes and f.axes[0].get_title().endswith("mean LID by layer"))
    line = fig.axes[0].get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), [0, 1, 2])
    np.testing.assert_allclose(line.get_ydata(), [s["layers"][k]["mean"] for k in ("0", "1", "2")])
    html = (out / "report.html").read_text()
    assert 'id="sec-run0-profile"' in html and 'id="run0-profile-fig"' in html


def test_cli_layer_all_with_average_layers_exits_2(models, corpus, tmp_path):
    from typer.testing import CliRunner

    from lidscope.cli import app, register_commands

    register_commands()
    res = CliRunner().invoke(app, ["measure", "--model", str(models["bert"]), "--data", str(corpus), "--layer", "all",
                                   "--average-layers", "-q", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "error:" in res.output and "Traceback" not in res.output


def test_compare_layer_all_gives_each_model_a_profile_and_a_paired_change_per_layer(models, corpus, tmp_path):
    cr = compare([models["bert"], models["llama"]], [corpus], out=tmp_path / "cmp", layers="all", n_replicates=2,
                 cache_dir=tmp_path / "c", figures=True, **SMALL)
    d = next(iter(cr.results))
    base, other = cr.results[d].values()
    rows = cr.profile_changes()[d]["llama"]
    assert [r["layer"] for r in rows] == [0, 1, 2]
    for r in rows:
        a = base.summary["replicates"]
        b = other.summary["replicates"]
        per = [y["means"][str(r["layer"])] - x["means"][str(r["layer"])] for x, y in zip(a, b)]
        assert r["change"] == pytest.approx(np.mean(per)) and r["change_low"] < r["change"] < r["change_high"]
    saved = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert set(saved["profiles"][d]) == {"bert", "llama"} and len(saved["profile_changes"][d]["llama"]) == 3
    assert (tmp_path / "cmp" / f"layers-{d}.png").is_file()
