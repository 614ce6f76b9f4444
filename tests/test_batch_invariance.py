"""Batch-invariant clouds: duplicates are found by token context, so the points a measurement keeps
do not depend on batch size, max_batch_tokens, text order, a replicate union or the thread count.

Each axis runs on a tiny random decoder (Llama) and a tiny random encoder (BERT), built from a
config. ``rounding`` perturbs every hidden state by a relative 1e-7 to 1e-6 (float32 rounding) that depends on the batch's shape
and the thread count, as float rounding does on a real model (SmolLM2's last bits move with batch
padding): with bit-exact deduplication, near-twin tokens of a shared prefix then survive or not by
batch, and these tests fail.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent / "extract"))
from tinymodels import WORDS, save_tiny  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import lidscope.extract.tokens as tokens_mod  # noqa: E402
from lidscope.extract.models import load_model  # noqa: E402
from lidscope.extract.tokens import (CAUSAL_PREFIX, WHOLE_SEQUENCE, ExtractionConfig, causal_probe,  # noqa: E402
                                     context_rule, extract, token_contexts)
from lidscope.measure import measure  # noqa: E402

SMALL = dict(n_points=300, n_neighbors=12, sample_size=1500, figures=False)
KINDS = ("llama", "bert")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("inv-models")
    return {k: save_tiny(k, root / k) for k in KINDS}


def _corpus(n=90, seed=0) -> list[str]:
    """Texts with shared beginnings (decoder duplicates) and exact repeats (encoder duplicates)."""
    rng = np.random.default_rng(seed)
    starts = ["hello how are you", "i think that", "the dog and the cat", "what do you want"]
    texts = [f"{starts[i % 4]} " + " ".join(rng.choice(WORDS, size=rng.integers(1, 12))) for i in range(n)]
    return texts + texts[:10]


@pytest.fixture
def rounding(monkeypatch):
    """Hidden states times (1 + 1e-7 k), a few float32 ulps,, k from the batch shape and thread count (never 0)."""
    import torch

    real = tokens_mod._forward_layers

    def noisy(model, ids, mask, config, *args, **kwargs):
        k = 1 + (ids.shape[0] * 7 + ids.shape[1] * 3 + torch.get_num_threads()) % 11
        return [h * (1.0 + 1e-7 * k) for h in real(model, ids, mask, config, *args, **kwargs)]

    monkeypatch.setattr(tokens_mod, "_forward_layers", noisy)


def _points(r) -> list[tuple[str, int]]:
    """Replicate 0's points as (text, position), in cloud order: independent of text indices."""
    text = dict(zip(r.texts.column("seq_index").to_pylist(), r.texts.column("text").to_pylist()))
    c = r.first.cloud
    return [(text[int(s)], int(p)) for s, p in zip(c.meta["seq_index"], c.meta["position"])]


def _same_cloud(a, b):
    assert a.summary["counts"]["duplicates_removed"] == b.summary["counts"]["duplicates_removed"]
    assert a.summary["counts"]["duplicates_same_context"] == b.summary["counts"]["duplicates_same_context"]
    assert _points(a) == _points(b)
    np.testing.assert_allclose(a.first.cloud.vectors, b.first.cloud.vectors, rtol=1e-4, atol=1e-5)
    assert a.summary["layers"]["-1"]["mean_replicate_0"] == pytest.approx(
        b.summary["layers"]["-1"]["mean_replicate_0"], rel=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_batch_size_does_not_change_the_points(models, kind, tmp_path, rounding):
    texts = _corpus()
    a = measure(models[kind], texts, n_sequences=None, batch_size=1, use_cache=False, **SMALL)
    b = measure(models[kind], texts, n_sequences=None, batch_size=64, use_cache=False, **SMALL)
    _same_cloud(a, b)
    if kind == "llama":  # shared beginnings are duplicates of a decoder only
        assert a.summary["counts"]["duplicates_same_context"] > 10


@pytest.mark.parametrize("kind", KINDS)
def test_max_batch_tokens_does_not_change_the_points(models, kind, rounding):
    texts = _corpus()
    a = measure(models[kind], texts, n_sequences=None, max_batch_tokens=20, use_cache=False, **SMALL)
    b = measure(models[kind], texts, n_sequences=None, max_batch_tokens=4000, use_cache=False, **SMALL)
    _same_cloud(a, b)


@pytest.mark.parametrize("kind", KINDS)
def test_text_order_does_not_change_the_points(models, kind, rounding):
    texts = _corpus()
    shuffled = [texts[i] for i in np.random.default_rng(3).permutation(len(texts))]
    a = measure(models[kind], texts, n_sequences=None, use_cache=False, **SMALL)
    b = measure(models[kind], shuffled, n_sequences=None, use_cache=False, **SMALL)
    assert a.summary["data"]["fingerprint"] != b.summary["data"]["fingerprint"]  # really another order
    _same_cloud(a, b)


@pytest.mark.parametrize("kind", KINDS)
def test_replicate_zero_is_the_standalone_run(models, kind, tmp_path, rounding):
    f = tmp_path / "texts.txt"
    f.write_text("\n".join(_corpus(160)) + "\n")
    union = measure(models[kind], f, n_sequences=60, n_replicates=3, use_cache=False, **SMALL)
    alone = measure(models[kind], f, n_sequences=60, use_cache=False, **SMALL)
    assert union.summary["counts"]["sequences_extracted"] > alone.summary["counts"]["sequences_extracted"]
    _same_cloud(union, alone)
    assert union.summary["replicates"][0]["means"]["-1"] == pytest.approx(alone.mean, rel=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_thread_count_does_not_change_the_points(models, kind, rounding):
    import torch

    texts = _corpus()
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        a = measure(models[kind], texts, n_sequences=None, use_cache=False, **SMALL)
        torch.set_num_threads(2)
        b = measure(models[kind], texts, n_sequences=None, use_cache=False, **SMALL)
    finally:
        torch.set_num_threads(before)
    _same_cloud(a, b)


@pytest.mark.parametrize("kind,rule", [("llama", CAUSAL_PREFIX), ("bert", WHOLE_SEQUENCE)])
def test_rule_and_model_kind_are_recorded(models, kind, rule):
    r = measure(models[kind], _corpus(), n_sequences=None, use_cache=False, **SMALL)
    s = r.summary
    assert s["params"]["dedup"] == "token-context" and s["params"]["context_rule"] == rule
    assert s["extraction"]["model_kind"] == ("decoder" if kind == "llama" else "encoder")
    c = s["counts"]
    assert c["duplicates_removed"] == c["duplicates_same_context"] + c["duplicates_same_vector"]


def test_same_context_tokens_have_the_same_vector_in_exact_arithmetic(models):
    """The rule's premise on a real (tiny) decoder: every pair of tokens with one context has
    vectors equal to rounding, whichever batches they were computed in."""
    lm = load_model(str(models["llama"]))
    texts = _corpus()
    rows: dict[str, list] = {"v": [], "c": []}

    def sink(v, m):
        rows["v"].append(v["-1"])
        rows["c"].append(m["context"])

    extract(lm.model, lm.tokenizer, texts, ExtractionConfig(batch_size=3), sink, decoder=True)
    V, C = np.concatenate(rows["v"]), np.concatenate(rows["c"])
    _, first, inverse = np.unique(C, return_index=True, return_inverse=True)
    assert len(first) < len(C)  # there are shared prefixes
    np.testing.assert_allclose(V, V[first[inverse]], rtol=1e-5, atol=1e-5)


def test_bit_identical_vectors_of_different_contexts_are_still_removed(models):
    """Layer 0 of Llama is the token embedding: one vector per token id at every position."""
    r = measure(models["llama"], _corpus(), n_sequences=None, layers=0, use_cache=False,
                **{**SMALL, "n_points": None, "n_neighbors": 3})
    c = r.summary["counts"]
    assert c["duplicates_same_vector"] > 0
    ids = r.first.cloud.meta["token_id"]
    assert len(np.unique(ids)) == len(ids)  # each token id once: its embedding
    assert len(np.unique(r.first.cloud.vectors, axis=0)) == c["points"]


def test_probe_refutes_a_decoder_claim_of_a_bidirectional_model(models):
    lm = load_model(str(models["bert"]))
    ids = [np.asarray(lm.tokenizer(t)["input_ids"]) for t in _corpus(5)]
    probe = causal_probe(lm.model, ids, ExtractionConfig())
    assert probe["max_relative_change"] > probe["tolerance"]
    assert context_rule(True, probe, False) == WHOLE_SEQUENCE
    dec = load_model(str(models["llama"]))
    ids = [np.asarray(dec.tokenizer(t)["input_ids"]) for t in _corpus(5)]
    probe = causal_probe(dec.model, ids, ExtractionConfig())
    assert probe["max_relative_change"] <= probe["tolerance"]
    assert context_rule(True, probe, False) == CAUSAL_PREFIX
    assert context_rule(True, probe, True) == WHOLE_SEQUENCE  # masked-token mode


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=6), min_size=1, max_size=12),
       st.booleans())
def test_context_ids_are_equal_exactly_when_inputs_are(seqs, causal):
    ids = [np.asarray(s, dtype=np.int64) for s in seqs]
    rank, ctx = token_contexts(ids, causal)
    tokens = [(s, p) for s in range(len(ids)) for p in range(len(ids[s]))]
    for s, p in tokens:
        for t, q in tokens:
            same = seqs[s][: p + 1] == seqs[t][: q + 1] if causal else (seqs[s] == seqs[t] and p == q)
            assert (ctx[s][p] == ctx[t][q]) == same
    for s in range(len(ids)):
        for t in range(len(ids)):
            assert (rank[s] < rank[t]) == (seqs[s] < seqs[t])  # lexicographic, ties equal
