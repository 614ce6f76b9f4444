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
        assert t.texts == alone.texts and t.fingerprint == alone.fingerprint
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


def _texts(corpus, reps):
    for x in reps:
        yield from load_texts(str(corpus), n_sequences=60, seed=x["data_seed"]).texts


def test_one_replicate_reports_the_bootstrap_interval(bert, corpus, tmp_path):
    r = measure(bert, corpus, out=tmp_path / "out", cache_dir=tmp_path / "c", **SMALL)
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    iv = s["interval"]
    assert iv["method"] == "bootstrap" and iv["n"] == s["counts"]["sequences"]
    assert iv["low"] < s["mean"] < iv["high"] and s["mean"] == pytest.approx(float(np.mean(r.estimates)))
    assert r.interval.se > 0 and s["layers"]["-1"]["interval_replicates"] is None
