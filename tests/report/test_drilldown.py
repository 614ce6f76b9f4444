"""Token drill-down: intervals that cover, token classes under each sub-word convention, movers."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from lidscope import LIDInputError
from lidscope.drilldown import Drilldown, compare_runs, frequency_band, group_means, position_band
from lidscope.runs import MissingRunData, load_run
from lidscope.token_classes import classify, classify_all, convention

sys.path.insert(0, str(Path(__file__).parent))
from report_runs import BASE, fake_run  # noqa: E402


def test_clustered_interval_covers_the_true_mean_at_its_level():
    # points inside a sequence share a random effect: a naive iid interval would be far too narrow
    rng = np.random.default_rng(1)
    trials, hits, naive_hits = 400, 0, 0
    for _ in range(trials):
        n_seq = 25
        sizes = rng.integers(1, 12, n_seq)
        seq = np.repeat(np.arange(n_seq), sizes)
        y = 10 + np.repeat(rng.normal(0, 2, n_seq), sizes) + rng.normal(0, 1, seq.size)
        t = group_means(y, np.zeros(seq.size), seq).iloc[0]
        hits += t["lo"] <= 10 <= t["hi"]
        se = y.std(ddof=1) / np.sqrt(y.size)
        naive_hits += abs(y.mean() - 10) <= 1.96 * se
    assert 0.92 <= hits / trials <= 0.98
    assert naive_hits / trials < 0.85   # the check can tell a clustered interval from a naive one


def test_group_means_equals_a_direct_computation():
    y = np.array([1.0, 2.0, 4.0, 8.0, 3.0, np.nan])
    g = np.array(["z", "z", "z", "z", "b", "z"])   # first-appearance order is not sorted order
    s = np.array([0, 0, 1, 2, 0, 2])
    t = group_means(y, g, s)
    m = 15 / 4
    cl = np.array([1 - m + 2 - m, 4 - m, 8 - m])
    se = np.sqrt(3 / 2 * (cl ** 2).sum() / 16)
    assert t.loc["z", "mean"] == pytest.approx(m) and t.loc["z", "se"] == pytest.approx(se)
    assert t.loc["z", "count"] == 4 and t.loc["z", "sequences"] == 3
    assert t.loc["z", "hi"] - m == pytest.approx(4.302652729749464 * se)   # t quantile, 2 degrees of freedom
    assert np.isnan(t.loc["b", "se"])    # one sequence: no interval


@pytest.mark.parametrize("tok, conv, cls", [
    ("[CLS]", "wordpiece", "special"), ("<|im_start|>", "bpe", "special"), ("</s>", "sentencepiece", "special"),
    ("##ing", "wordpiece", "continuation"), ("play", "wordpiece", "word start"), ("the", "wordpiece", "function word"),
    ("Ġthe", "bpe", "function word"), ("the", "bpe", "continuation"), ("Ġplay", "bpe", "word start"),
    ("ing", "bpe", "continuation"), ("Ċ", "bpe", "whitespace"), ("ĠĠ", "bpe", "whitespace"),
    (",", "wordpiece", "punctuation"), ("Ġ!!", "bpe", "punctuation"), ("Ġ1984", "bpe", "number"),
    ("##99", "wordpiece", "number"), ("▁The", "sentencepiece", "function word"), ("ly", "sentencepiece", "continuation"),
])
def test_token_classes(tok, conv, cls):
    assert classify(tok, conv) == cls


def test_first_token_of_a_text_starts_a_word_and_conventions_are_detected():
    assert classify_all(["The", "Ġcat"], [0, 1], "bpe").tolist() == ["function word", "word start"]
    assert convention(["Ġa", "b", "Ġc"]) == "bpe" and convention(["a", "##b"]) == "wordpiece"
    assert convention(["▁a", "b"]) == "sentencepiece"


def test_bands():
    assert position_band(np.array([0, 1, 2, 3, 4, 7, 8, 600, 5000])).tolist() == [
        "0", "1", "2-3", "2-3", "4-7", "4-7", "8-15", "512-1023", "4096+"]
    ids = np.array([5] * 12 + [6] * 3 + [7])
    assert frequency_band(ids).tolist() == ["10-99"] * 12 + ["2-9"] * 3 + ["1"]




def test_by_type_ranks_types_and_by_class_groups_them(tmp_path):
    d = Drilldown(load_run(fake_run(tmp_path / "a", BASE)))
    t = d.by_type(min_count=5)
    assert t["token"].tolist()[:2] == ["ing", "␣cat"] and t["token"].tolist()[-1] == "."
    assert (t["lo"] < t["mean"]).all() and (t["mean"] < t["hi"]).all()
    c = d.by_class().set_index("class")
    assert c.loc["continuation", "mean"] == pytest.approx(14.0, abs=0.4)
    assert c.loc["punctuation", "mean"] == pytest.approx(6.0, abs=0.4)
    assert set(c.index) == {"continuation", "word start", "number", "function word", "punctuation"}
    assert d.by_type(min_count=10 ** 6).empty


def test_shifted_types_rank_first_and_no_type_gets_a_verdict(tmp_path):
    a = load_run(fake_run(tmp_path / "a", BASE, seed=1))
    b = load_run(fake_run(tmp_path / "b", BASE, seed=2, shift={"Ġcat": -2.0, ".": +1.0}))
    mv = compare_runs(a, b)
    assert mv.paired and mv.n_matched == len(a.tokens)
    assert mv.largest(2)["group"].tolist() == ["␣cat", "."]
    assert mv.largest(2).iloc[0]["diff"] == pytest.approx(-2.0, abs=0.3)
    assert set(mv.smallest(4)["group"]) == {"␣the", "ing", "␣dog", "␣42"}
    # the interval over sequences holds the clouds fixed: it ranks, it calls nothing moved (docs/statistics.md)
    assert "moved" not in mv.table.columns and "7x too narrow" in mv.note
    # unpaired (different positions): intervals are wider but the big change still ranks first
    c = load_run(fake_run(tmp_path / "c", BASE, seed=3, words_seed=5000, shift={"Ġcat": -2.0}))
    un = compare_runs(a, c)
    assert not un.paired and un.largest(1)["group"].iloc[0] == "␣cat"


def test_context_and_missing_data_messages(tmp_path):
    run = load_run(fake_run(tmp_path / "a", BASE, texts=False))
    d = Drilldown(run)
    ctx = d.context(0)
    assert ctx["token_text"] == d.points.loc[0, "shown"] and "neighbors" not in ctx
    with pytest.raises(MissingRunData, match="older lidscope"):
        run.require("points")
    with pytest.raises(LIDInputError, match="point 99999"):
        d.context(99999)
    with pytest.raises(LIDInputError, match="not a measurement folder"):
        load_run(tmp_path)


def test_part_of_speech_without_a_tagger_says_what_to_install(tmp_path, monkeypatch):
    import builtins

    from lidscope.drilldown import OptionalDependencyMissing

    real_import = builtins.__import__

    def no_spacy(name, *args, **kwargs):
        if name == "spacy":
            raise ImportError("No module named 'spacy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_spacy)
    d = Drilldown(load_run(fake_run(tmp_path / "a", BASE, points=True)))
    with pytest.raises(OptionalDependencyMissing, match="pip install spacy"):
        d.by_pos()
    assert set(d.all_tables(min_count=5)) == {"class", "position", "frequency", "type"}
