"""Replicates: each is the measurement its own seeds would give alone; sequences extracted once."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "extract"))
from tinymodels import WORDS, save_tiny  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from lidscope import LIDInputError  # noqa: E402
from lidscope.extract.texts import load_texts  # noqa: E402
from lidscope.measure import measure  # noqa: E402
from lidscope.replicates import plan_replicates  # noqa: E402
from lidscope.settings import MeasureSettings, replicate_seeds  # noqa: E402
from lidscope.stats import UNKNOWN  # noqa: E402

SMALL = dict(n_points=400, n_neighbors=16, sample_size=2000, n_sequences=60, figures=False)


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return save_tiny("bert", tmp_path_factory.mktemp("rep-models") / "bert")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    f = tmp_path_factory.mktemp("rep-corpus") / "texts.txt"
    f.write_text("\n".join(" ".join(rng.choice(WORDS, size=rng.integers(4, 20))) for _ in range(150)) + "\n")
    return f


def test_seeds_keep_replicate_zero_and_differ_otherwise():
    s = replicate_seeds(42, 7, 4)
    assert s[0] == (42, 7) and len(set(s)) == 4 and all(0 <= a < 2**31 and 0 <= b < 2**31 for a, b in s)
    assert replicate_seeds(42, 7, 2) == s[:2]  # more replicates never change the first ones
    assert MeasureSettings(n_replicates=3).replicate_seeds() == replicate_seeds(42, 42, 3)
    with pytest.raises(LIDInputError, match="n_replicates"):
        MeasureSettings(n_replicates=0)


def test_r1_keeps_the_settings_id_of_stored_results():
    assert MeasureSettings().settings_id == MeasureSettings(n_replicates=1).settings_id
    assert MeasureSettings().settings_id != MeasureSettings(n_replicates=3).settings_id


def test_plan_draws_each_replicate_as_load_texts_and_extracts_each_sequence_once(corpus):
    seeds = replicate_seeds(42, 42, 3)
    plan = plan_replicates(str(corpus), seeds, n_sequences=60)
    for (ds, _), t, m in zip(seeds, plan.texts, plan.members):
        alone = load_texts(str(corpus), n_sequences=60, seed=ds)
        assert t.texts == alone.texts and t.fingerprint == alone.fingerprint and t.ids == alone.ids
        assert t.counts == alone.counts and t.params == alone.params
        assert [plan.union.texts[i] for i in m] == alone.texts
    assert len(plan.union) == len(set(plan.union.texts)) == len({x for t in plan.texts for x in t.texts})
    # rows of one replicate: every row of its sequences, renumbered in its own order
    seq = np.repeat(np.arange(len(plan.union)), 3)
    rows, own = plan.rows(seq, 1)
    assert np.array_equal(seq[rows], np.repeat(plan.members[1], 3)) and np.array_equal(own, np.repeat(np.arange(60), 3))


def test_each_replicate_equals_its_standalone_measurement(bert, corpus, tmp_path):
    r = measure(bert, corpus, cache_dir=tmp_path / "c", n_replicates=3, **SMALL)
    s = r.summary
    reps = s["replicates"]
    assert [x["replicate"] for x in reps] == [0, 1, 2] and s["params"]["n_replicates"] == 3
    for x in reps:
        alone = measure(bert, corpus, cache_dir=tmp_path / "c", data_seed=x["data_seed"], seed=x["seed"], **SMALL)
        assert x["means"]["-1"] == pytest.approx(alone.mean, rel=1e-5)
        assert x["data_fingerprint"] == alone.summary["data"]["fingerprint"]
    values = [x["means"]["-1"] for x in reps]
    iv = s["interval"]
    assert iv["method"] == "replicates" and iv["values"] == values and iv["n"] == 3
    assert r.mean == pytest.approx(np.mean(values)) and iv["low"] < r.mean < iv["high"]
    assert s["layers"]["-1"]["mean_replicate_0"] == pytest.approx(values[0])
    assert s["counts"]["sequences_extracted"] == len({t for t in _texts(corpus, reps)})
    assert s["layers"]["-1"]["interval_bootstrap"]["method"] == "bootstrap"
    # the repr shows the mean over replicates with its interval, not replicate 0's mean
    assert f"mean={r.mean:.3f} (95 % interval {iv['low']:.3f} to {iv['high']:.3f}, 3 replicates)" in repr(r)


def _texts(corpus, reps):
    for x in reps:
        yield from load_texts(str(corpus), n_sequences=60, seed=x["data_seed"]).texts


def test_one_replicate_reports_no_interval_and_says_why(bert, corpus, tmp_path):
    r = measure(bert, corpus, out=tmp_path / "out", cache_dir=tmp_path / "c", **SMALL)
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    iv = s["interval"]
    assert iv["n"] == 1 and iv["low"] is None and iv["high"] is None and iv["se"] is None  # strict JSON: null
    assert not r.interval.known and any("--replicates 3" in n for n in s["notes"])
    assert s["mean"] == pytest.approx(float(np.mean(r.estimates)))
    b = s["layers"]["-1"]["interval_bootstrap"]  # kept for reference, labelled as the bootstrap
    assert b["method"] == "bootstrap" and b["n"] == s["counts"]["sequences"] and b["low"] < s["mean"] < b["high"]
    assert f"mean={r.mean:.3f} (no interval, one replicate)" in repr(r)


def _shifted_copy(folder, out, scale=1.3):
    """The tiny model with its last block's output weights scaled: a real, paired change."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    m = AutoModel.from_pretrained(folder)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "layer.1.output.dense.weight" in name:
                p.mul_(scale)
    m.save_pretrained(out)
    AutoTokenizer.from_pretrained(folder).save_pretrained(out)
    return out


@pytest.mark.parametrize("r", [1, 2])
def test_compare_pairs_models_and_gives_a_verdict(bert, corpus, tmp_path, r):
    import json as _json

    from lidscope.measure import compare

    other = _shifted_copy(bert, tmp_path / "shifted")
    cr = compare([bert, bert, other], [str(corpus)], out=tmp_path / "cmp", cache_dir=tmp_path / "c",
                 n_replicates=r, **{k: v for k, v in SMALL.items() if k != "figures"})
    (d, cs), = cr.comparisons.items()
    same, changed = cs.values()
    assert same.difference.estimate == 0 and changed.difference.estimate != 0
    if r == 1:  # one replicate: the paired bootstrap was measured too narrow, so no interval and no verdict
        assert same.method == changed.method == "one replicate (paired)"
        assert not changed.difference.known and changed.verdict == UNKNOWN
    else:
        assert same.method == changed.method == "paired" and changed.difference.known
        assert same.difference.low == same.difference.high == 0 and same.verdict == "no detectable change"
    saved = _json.loads((tmp_path / "cmp" / "compare.json").read_text())
    rows = {row["model"]: row for row in saved["rows"]}
    assert rows[list(cs)[1]]["verdict"] == changed.verdict
    assert saved["comparisons"][d][list(cs)[1]]["relative_difference"]["estimate"] == pytest.approx(
        changed.relative.estimate)
    base_row = next(iter(rows.values()))
    assert "verdict" not in base_row
    if r > 1:
        assert base_row["mean_low"] < base_row["mean"] < base_row["mean_high"]
    else:
        assert base_row["mean_low"] is None and rows[list(cs)[1]]["change_low"] is None  # strict JSON: null


def test_violin_error_bars_show_the_intervals():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lidscope.plots import _violins

    fig, ax = plt.subplots()
    rng = np.random.default_rng(0)
    _violins(ax, [rng.normal(8, 1, 200), rng.normal(7, 1, 200)], ["a", "b"], [(7.9, 8.3), (6.5, 7.1)])
    segs = [seg for c in ax.collections if hasattr(c, "get_segments") for seg in c.get_segments()]
    spans = sorted((round(float(s[0][1]), 6), round(float(s[1][1]), 6)) for s in segs if len(s) == 2
                   and s[0][0] == s[1][0] and s[0][0] % 1 != 0)
    plt.close(fig)
    assert spans == [(6.5, 7.1), (7.9, 8.3)]


@pytest.mark.parametrize("bars", [{"a": (7.9, 8.3), "b": (6.5, 7.1)}, {"a": (np.nan, np.nan), "b": None}])
def test_violin_label_says_what_the_bar_is_or_that_there_is_none(tmp_path, saved_figures, bars):
    from lidscope.plots import plot_compare

    rng = np.random.default_rng(0)
    plot_compare({"d": {"a": rng.normal(8, 1, 200), "b": rng.normal(7, 1, 200)}}, tmp_path / "v.png",
                 intervals={"d": bars})
    label = saved_figures[-1].axes[0].get_ylabel()
    if bars["b"] is None:
        assert "one replicate: no interval" in label and "red bar" not in label
    else:
        assert "red bar: 95 % interval of the mean over replicates" in label


def test_cli_prints_intervals_and_verdicts(bert, corpus, tmp_path):
    from typer.testing import CliRunner

    from lidscope.cli import app, register_commands

    register_commands()
    runner = CliRunner()
    res = runner.invoke(app, ["measure", "-m", str(bert), "-d", str(corpus), "-M", "60", "-N", "400", "-L", "16",
                              "-R", "2", "-o", str(tmp_path / "m"), "--cache-dir", str(tmp_path / "c"), "-q"])
    assert res.exit_code == 0, res.output
    assert "95 % interval over 2 replicates" in res.output and "(mean over 2 replicates)" in res.output
    assert "(replicate 0 alone" in res.output  # replicate 0's statistics in a row of their own, never mixed
    res = runner.invoke(app, ["compare", str(bert), str(bert), "--name", "a", "--name", "b", "-d", str(corpus),
                              "-M", "60", "-N", "400", "-L", "16", "-o", str(tmp_path / "cmp"),
                              "--cache-dir", str(tmp_path / "c"), "-q"])
    assert res.exit_code == 0, res.output
    assert "b vs a" in res.output and "no detectable change" in res.output and "95 % interval" in res.output
    res = runner.invoke(app, ["compare", str(bert), str(bert), "--name", "a", "--name", "b", "-d", str(corpus),
                              "-M", "60", "-N", "400", "-L", "16", "-R", "1", "-o", str(tmp_path / "cmp1"),
                              "--cache-dir", str(tmp_path / "c"), "-q"], env={"COLUMNS": "300"})
    assert res.exit_code == 0, res.output  # one replicate: every mean and the change say why they have no interval
    assert res.output.count("(no interval: one replicate)") == 2 and "none (one replicate)" in res.output
    assert "no verdict (one replicate" in res.output


def test_every_statistic_of_a_run_has_one_definition(bert, corpus, tmp_path):
    r = measure(bert, corpus, cache_dir=tmp_path / "c", n_replicates=3, **SMALL)
    s, ls = r.summary, r.summary["layers"]["-1"]
    per = [x["statistics"]["-1"] for x in s["replicates"]]
    assert ls["statistics"] == s["statistics"] == r.statistics == "mean over 3 replicates"
    for k in ("mean", "median", "std", "global_estimate"):  # each the mean over replicates of its own value
        assert ls[k] == pytest.approx(np.mean([p[k] for p in per])) == s[k]
    assert ls["quantiles"]["0.25"] == pytest.approx(np.mean([p["quantiles"]["0.25"] for p in per]))
    assert r.median == ls["median"] and r.std == ls["std"] and r.global_estimate == ls["global_estimate"]
    # replicate 0's own statistics are its points' (tokens table), kept apart and labelled
    assert ls["replicate_0"]["statistics"] == "replicate 0"
    assert ls["replicate_0"]["median"] == pytest.approx(float(np.median(r.estimates)))
    assert ls["median"] != pytest.approx(ls["replicate_0"]["median"], rel=1e-9)
    assert s["independence"]["independent"] is True and "warning" not in s["independence"]


def test_replicates_sharing_every_text_are_labelled_and_warned(bert, corpus, tmp_path):
    from lidscope.replicates import ReplicatesNotIndependent

    kw = {**SMALL, "n_sequences": 500}  # more than the 150 texts of the corpus: every replicate holds them all
    with pytest.warns(ReplicatesNotIndependent, match="share all 150 sequences"):
        r = measure(bert, corpus, cache_dir=tmp_path / "c", n_replicates=3, **kw)
    info = r.summary["independence"]
    assert info["identical_sequences"] and info["independent"] is False and info["shared_sequences_fraction"] == 1
    assert "share all their sequences" in r.summary["interval_label"] and "not another choice of texts" in \
        r.summary["interval_label"]
    assert any(n.startswith("replicates not independent:") for n in r.notes)
    row, = [x for x in _compare_rows(bert, corpus, tmp_path, kw)][:1]
    assert row["replicates_independent"] is False and "share all" in row["interval_label"]


def _compare_rows(bert, corpus, tmp_path, kw):
    import warnings

    from lidscope.measure import compare

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compare([bert], [str(corpus)], cache_dir=tmp_path / "c", figures=False,
                       **{k: v for k, v in kw.items() if k != "figures"}).table()


def test_texts_cut_at_max_length_are_counted(bert, tmp_path):
    long, short = " ".join(WORDS[:8] * 6), " ".join(WORDS[:3])
    texts = [long] * 5 + [short + f" {w}" for w in WORDS[:30]]
    r = measure(bert, texts, cache_dir=tmp_path / "c", max_length=16, n_points=100, n_neighbors=8, figures=False)
    c = r.summary["counts"]
    assert c["sequences_truncated"] == 5 and c["sequences_truncated_fraction"] == pytest.approx(5 / 35)
    assert c["sequences_truncated_rule"] == "longer than max_length"
    assert any("5 of 35 texts" in n for n in r.notes) and r.summary["replicates"][0]["sequences_truncated"] == 5
