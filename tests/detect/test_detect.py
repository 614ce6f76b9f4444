"""End to end on tiny random models: members known to differ, identical distributions, bad input."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from tinylms import make_causal, save, sentences
from lidscope.detect import DetectError, DetectSettings, detect

FAST = DetectSettings(n_neighbors=16, n_points=None, set_sizes=(5, 20, 40), n_resamples=300, n_bootstrap=300,
                      n_permutations=300, max_length=32)


def test_memorised_members_are_found_and_clean_texts_are_not(tiny_lm, tmp_path, saved_figures):
    res = detect(tiny_lm["tuned"], {"members": tiny_lm["members"], "nonmembers": tiny_lm["nonmembers"]},
                 tiny_lm["reference"], base=tiny_lm["base"], settings=FAST, out=tmp_path / "run")
    assert res.methods == ["lid", "loss", "zlib", "mink", "minkpp", "ref"]
    mem, non = res.sets["members"], res.sets["nonmembers"]
    for meth in ("loss", "mink", "ref"):
        assert mem["methods"][meth]["auc"]["auc"] > 0.95
        assert mem["methods"][meth]["difference"]["p_value"] < 0.01
        assert mem["methods"][meth]["curve"][-1]["p_member_verdict"] > 0.9
        assert non["methods"][meth]["difference"]["p_value"] > 0.05
    # the paired LID shift is a point estimate: one cloud per model gives no calibrated interval, so no verdict
    shift = mem["lid"]["vs_base"]
    assert shift["interval"] is None and shift["verdict"].startswith("no verdict")
    assert "low" not in shift and shift["interval_bootstrap"]["holds"].startswith("the cloud held fixed")
    assert mem["lid"]["mean"]["interval"] is None
    # with a base model, the default decides by the reference-model ratio and says so
    d = json.loads((tmp_path / "run" / "detect.json").read_text())
    assert d["sets"]["members"]["decided_by"] == "ref" and d["decided_by"]["method"] == "ref"
    assert d["settings"]["decide_by"] == "auto" and "reference-model ratio" in d["decided_by"]["reason"]
    assert mem["p_value"] == mem["methods"]["ref"]["difference"]["p_value"]
    t = pq.read_table(tmp_path / "run" / "texts.parquet").to_pandas()
    assert len(t) == 120 and set(t["set"]) == {"members", "nonmembers", "reference"}
    assert np.allclose(t["score_lid"], -(t["lid"] - t["lid_base"]))
    # the ROC figure shows one panel per candidate set, one curve per method, labelled with its AUC
    (fig,) = saved_figures
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["members", "nonmembers"]
    for ax, name in zip(axes, ("members", "nonmembers")):
        labels = [ln.get_label() for ln in ax.get_lines()][:len(res.methods)]
        for meth, label in zip(res.methods, labels):
            assert label == f"{meth} (AUC {res.sets[name]['methods'][meth]['auc']['auc']:.2f})"
    assert len(pq.read_table(tmp_path / "run" / "curves.parquet")) == 2 * 6 * 3


def test_same_distribution_gives_no_verdict_for_every_method(tiny_lm):
    res = detect(tiny_lm["base"], {"clean": tiny_lm["nonmembers"]}, tiny_lm["reference"], settings=FAST)
    clean = res.sets["clean"]
    assert clean["verdict"] == "no detectable membership signal" and clean["trust"] == "ok"
    for meth, m in clean["methods"].items():
        assert m["difference"]["low"] <= 0 <= m["difference"]["high"], meth
        assert m["auc"]["low"] <= 0.5 <= m["auc"]["high"], meth


def test_lid_detects_a_constructed_geometry_change(tiny_lm, tmp_path):
    """Members are random sequences of two words (a low-dimensional cloud): lower LID, AUC near 1 for lid."""
    members = sentences(40, seed=7, words=["hello", "hi"])
    res = detect(tiny_lm["base"], {"narrow": members}, tiny_lm["reference"],
                 settings=dataclasses.replace(FAST, decide_by="lid"))
    assert res.sets["narrow"]["methods"]["lid"]["auc"]["auc"] > 0.95
    assert res.sets["narrow"]["verdict"].startswith("member-like") and res.sets["narrow"]["decided_by"] == "lid"
    assert res.info["decided_by"]["reason"] == "chosen by the user (decide_by='lid')"


def test_default_decides_by_the_loss_without_a_base_and_by_lid_on_an_encoder(tiny_lm, tiny_encoder):
    res = detect(tiny_lm["tuned"], {"members": tiny_lm["members"]}, tiny_lm["reference"], settings=FAST)
    mem = res.sets["members"]
    assert res.info["decided_by"]["method"] == "loss" and mem["decided_by"] == "loss"
    assert mem["p_value"] == mem["methods"]["loss"]["difference"]["p_value"]
    assert "lid" in mem["methods"]     # LID stays in every table
    enc = detect(tiny_encoder, {"m": tiny_lm["members"]}, tiny_lm["reference"], settings=FAST)
    assert enc.info["decided_by"]["method"] == "lid" and "only method" in enc.info["decided_by"]["reason"]


def test_too_few_texts_is_a_clear_error(tiny_lm):
    with pytest.raises(DetectError, match="too few texts.*'small': 4"):
        detect(tiny_lm["base"], {"small": tiny_lm["members"][:4]}, tiny_lm["reference"], settings=FAST)


def test_base_with_another_tokenizer_is_refused(tiny_lm, tiny_gpt2):
    with pytest.raises(DetectError, match="tokenizer differs"):
        detect(tiny_lm["tuned"], [tiny_lm["members"]], tiny_lm["reference"], base=tiny_gpt2, settings=FAST)


def test_length_and_language_mismatch_are_stated_with_the_verdict(tiny_lm):
    long_texts = sentences(40, seed=8, lo=28, hi=30)
    cyrillic = ["привет как дела " * 3 + t for t in sentences(40, seed=9)]
    res = detect(tiny_lm["tuned"], {"long": long_texts, "russian": cyrillic},
                 sentences(40, seed=10, lo=4, hi=8), base=tiny_lm["base"], settings=FAST)
    assert any("as long as the reference" in w for w in res.sets["long"]["warnings"])
    assert res.sets["long"]["trust"].startswith("questionable")
    assert any("writing script differs" in w for w in res.sets["russian"]["warnings"])
    assert all(w in res.warnings for w in res.sets["russian"]["warnings"])


def test_base_model_that_already_separates_the_sets_is_flagged(tiny_lm):
    """A reference of another kind of text: the base model tells them apart before any training."""
    few = ["the", "a", "and", "is", "it"]
    res = detect(tiny_lm["tuned"], {"odd": sentences(40, seed=11, words=few)}, tiny_lm["reference"],
                 base=tiny_lm["base"], settings=FAST)
    assert any("base model's loss already separates" in w for w in res.sets["odd"]["warnings"])


def test_encoder_gives_lid_only_and_says_so(tiny_encoder, tiny_lm):
    res = detect(tiny_encoder, {"m": tiny_lm["members"]}, tiny_lm["reference"], settings=FAST)
    assert res.methods == ["lid"]
    assert any("no causal-LM head" in w for w in res.warnings)
    with pytest.raises(DetectError, match="did not run"):
        detect(tiny_encoder, {"m": tiny_lm["members"]}, tiny_lm["reference"],
               settings=DetectSettings(decide_by="loss", n_neighbors=16))


def test_in_memory_model(tiny_lm):
    model, tok = make_causal("llama")
    res = detect(model, [tiny_lm["nonmembers"]], tiny_lm["reference"], tokenizer=tok, settings=FAST)
    assert list(res.sets) == ["candidate-0"] and "loss" in res.methods
