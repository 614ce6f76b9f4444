"""Token filtering rules, length bucketing, and batched == unbatched vectors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lidscope.extract.errors import ExtractionError, ModelLoadError
from lidscope.extract.models import load_model
from lidscope.extract.tokens import (ExtractionConfig, TokenRules, extract, keep_positions, plan_batches,
                                     resolve_pad_id, special_token_ids)
from tinymodels import make_tokenizer


def _collect(model, tok, texts, config):
    vecs: dict[str, list] = {}
    meta: dict[str, list] = {"seq_index": [], "position": [], "token_id": []}

    def sink(v, m):
        for k, a in v.items():
            vecs.setdefault(k, []).append(a)
        for k in meta:
            meta[k].append(m[k])

    stats = extract(model, tok, texts, config, sink)
    V = {k: np.concatenate(a) for k, a in vecs.items()}
    M = {k: np.concatenate(a) for k, a in meta.items()}
    order = np.lexsort((M["position"], M["seq_index"]))
    return {k: a[order] for k, a in V.items()}, {k: a[order] for k, a in M.items()}, stats


def _kept_tokens(kind: str, text: str, rules: TokenRules = TokenRules()) -> list[str]:
    tok = make_tokenizer(kind)
    ids = np.asarray(tok(text)["input_ids"])
    keep = keep_positions(ids, rules, special_token_ids(tok))
    return tok.convert_ids_to_tokens(ids[keep].tolist())


# --- documented rules, per tokenizer family ---------------------------------------------------

def test_rules_bert_keeps_cls_and_sep():
    assert _kept_tokens("bert", "hello you") == ["[CLS]", "hello", "you", "[SEP]"]


def test_rules_roberta_keeps_bos_drops_eos():
    assert _kept_tokens("roberta", "hello you") == ["<s>", "hello", "you"]


def test_rules_llama_keeps_bos_drops_eos_where_pad_is_eos():
    tok = make_tokenizer("llama")
    assert tok.pad_token_id == tok.eos_token_id
    assert _kept_tokens("llama", "hello you </s>") == ["<s>", "hello", "you"]


def test_rules_gpt2_drops_eos_inside_text_and_keeps_bos_at_start():
    # GPT-2 adds nothing; bos == eos: a leading <|endoftext|> counts as the start token
    assert _kept_tokens("gpt2", "hello <|endoftext|> you") == ["hello", "you"]
    assert _kept_tokens("gpt2", "<|endoftext|> hello") == ["<|endoftext|>", "hello"]


def test_rules_are_configurable():
    assert _kept_tokens("roberta", "hello", TokenRules(keep_bos=False)) == ["hello"]
    assert _kept_tokens("roberta", "hello", TokenRules(drop_eos=False)) == ["<s>", "hello", "</s>"]
    assert _kept_tokens("bert", "hello", TokenRules(drop_special=True)) == ["hello"]
    assert _kept_tokens("bert", "hello", TokenRules(keep_bos=False)) == ["hello", "[SEP]"]


def test_padding_overhead_on_chitchat_is_under_target():
    from lidscope.extract.texts import load_texts
    from lidscope.extract.tokens import tokenize

    tok = load_model("minilm").tokenizer
    ids, _ = tokenize(load_texts("chitchat:validation", n_sequences=4000).texts, tok, 512)
    L = np.asarray([len(x) for x in ids])
    cfg = ExtractionConfig()
    batches = plan_batches(L, cfg.batch_size, cfg.max_batch_tokens, cfg.pad_tolerance, cfg.min_batch_tokens)
    assert sum(len(b) * L[b].max() for b in batches) / L.sum() < 1.15
    assert len(L) * 512 / L.sum() > 15  # what padding to 512 would cost


def test_rules_on_bundled_minilm_tokenizer():
    tok = load_model("minilm").tokenizer
    ids = np.asarray(tok("Hi there!")["input_ids"])
    keep = keep_positions(ids, TokenRules(), special_token_ids(tok))
    assert tok.convert_ids_to_tokens(ids[keep].tolist()) == ["[CLS]", "hi", "there", "!", "[SEP]"]


# --- pad tokens --------------------------------------------------------------------------------

def test_pad_fallbacks():
    assert resolve_pad_id(make_tokenizer("bert"))[1] == "pad"
    pid, src = resolve_pad_id(make_tokenizer("gpt2"))
    assert pid == 0 and src.startswith("eos")
    assert resolve_pad_id(make_tokenizer("gpt2"), 5) == (5, "given")

    class Bare:
        pad_token_id = eos_token_id = bos_token_id = unk_token_id = None

    with pytest.raises(ModelLoadError, match="--pad-token-id"):
        resolve_pad_id(Bare())


# --- batching ------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 600), min_size=1, max_size=300), st.integers(1, 64),
       st.integers(600, 20000), st.floats(0.0, 0.5), st.integers(0, 2000))
def test_plan_batches_covers_each_once_and_respects_limits(lengths, bs, mbt, tol, min_tokens):
    batches = plan_batches(lengths, bs, mbt, tol, min_tokens)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    L = np.asarray(lengths)
    for b in batches:
        padded = len(b) * L[b].max()
        assert len(b) <= bs
        if len(b) > 1:
            assert padded <= mbt
            if L[b[:-1]].sum() >= min_tokens:
                assert padded <= (1 + tol) * L[b].sum() + 1e-9
    # longest first, each batch a contiguous run of the sorted order
    assert (np.diff(L[flat]) <= 0).all()


def test_padding_overhead_is_small(sentences):
    lengths = [len(s.split()) + 2 for s in sentences]
    batches = plan_batches(lengths, 64, 16384, 0.1, min_batch_tokens=0)
    L = np.asarray(lengths)
    ratio = sum(len(b) * L[b].max() for b in batches) / L.sum()
    assert ratio <= 1.1
    # the default minimum batch size trades a little padding for fewer, larger forward calls
    batches = plan_batches(lengths * 20, 64, 16384, 0.1)
    L = np.asarray(lengths * 20)
    assert sum(len(b) * L[b].max() for b in batches) / L.sum() < 1.15


# --- batched == one sequence at a time ----------------------------------------------------------

@pytest.mark.parametrize("kind", ["bert", "roberta", "llama", "gpt2"])
def test_batched_vectors_equal_single_sequence_forward(kind, tiny_models, sentences):
    lm = load_model(tiny_models[kind])
    texts = sentences[:40]
    cfg = ExtractionConfig(layers=(-1, 1), batch_size=16)
    V, M, stats = _collect(lm.model, lm.tokenizer, texts, cfg)
    assert stats.n_positions_computed >= stats.n_tokens_kept
    special = special_token_ids(lm.tokenizer)
    rows = 0
    with torch.inference_mode():
        for s, text in enumerate(texts):
            ids = lm.tokenizer(text)["input_ids"]
            out = lm.model(input_ids=torch.tensor([ids]), output_hidden_states=True)
            keep = keep_positions(np.asarray(ids), TokenRules(), special)
            for label, layer in (("-1", -1), ("1", 1)):
                ref = out.hidden_states[layer][0].numpy()[keep]
                got = V[label][M["seq_index"] == s]
                np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)
            np.testing.assert_array_equal(M["position"][M["seq_index"] == s], np.flatnonzero(keep))
            rows += int(keep.sum())
    assert rows == len(M["seq_index"])


def test_layer_averaging_and_bad_layer(tiny_models, sentences):
    lm = load_model(tiny_models["bert"])
    texts = sentences[:10]
    V, _, _ = _collect(lm.model, lm.tokenizer, texts, ExtractionConfig(layers=(0, -1)))
    A, _, _ = _collect(lm.model, lm.tokenizer, texts, ExtractionConfig(layers=(0, -1), average_layers=True))
    assert list(A) == ["mean(0,-1)"]
    np.testing.assert_allclose(A["mean(0,-1)"], (V["0"] + V["-1"]) / 2, rtol=1e-5, atol=1e-6)
    with pytest.raises(ExtractionError, match="does not exist"):
        _collect(lm.model, lm.tokenizer, texts, ExtractionConfig(layers=(7,)))


def test_masked_token_mode(tiny_models, sentences):
    lm = load_model(tiny_models["bert"])
    texts = sentences[:6]
    V, M, _ = _collect(lm.model, lm.tokenizer, texts, ExtractionConfig(masked_tokens=True))
    mask_id = lm.tokenizer.mask_token_id
    s, p = int(M["seq_index"][3]), int(M["position"][3])
    ids = lm.tokenizer(texts[s])["input_ids"]
    assert M["token_id"][3] == ids[p]  # the original token, not [MASK]
    ids[p] = mask_id
    with torch.inference_mode():
        ref = lm.model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states[-1][0, p]
    np.testing.assert_allclose(V["-1"][3], ref.numpy(), rtol=1e-4, atol=1e-5)
    gpt = load_model(tiny_models["gpt2"])
    with pytest.raises(ExtractionError, match="mask token"):
        _collect(gpt.model, gpt.tokenizer, texts, ExtractionConfig(masked_tokens=True))


def test_counts_and_truncation(tiny_models):
    lm = load_model(tiny_models["roberta"])
    texts = ["hello you", "the " * 100]
    _, M, stats = _collect(lm.model, lm.tokenizer, texts, ExtractionConfig(max_length=16))
    assert stats.n_sequences_at_max_length == 1
    assert stats.n_dropped_eos == 2
    assert stats.n_tokens == 4 + 16
    assert stats.n_tokens_kept == len(M["seq_index"]) == 3 + 15


def test_all_tokens_filtered_is_an_error(tiny_models):
    lm = load_model(tiny_models["gpt2"])
    with pytest.raises(ExtractionError, match="no token survives"):
        _collect(lm.model, lm.tokenizer, ["<|endoftext|>"], ExtractionConfig(rules=TokenRules(keep_bos=False)))


@pytest.mark.slow
def test_rules_on_bundled_smollm2_tokenizer_where_pad_is_eos():
    from transformers import AutoTokenizer

    from lidscope.extract.models import resolve_model_spec

    folder, gguf, _ = resolve_model_spec("smollm2")
    tok = AutoTokenizer.from_pretrained(str(folder), gguf_file=gguf, local_files_only=True)
    assert tok.pad_token_id == tok.eos_token_id  # Llama-style: pad == eos
    ids = np.asarray(tok("Hi there<|im_end|>")["input_ids"])
    keep = keep_positions(ids, TokenRules(), special_token_ids(tok))
    kept = tok.convert_ids_to_tokens(ids[keep].tolist())
    assert "<|im_end|>" not in kept and len(kept) == len(ids) - 1
    # padding is found by the attention mask: pad == eos never removes real tokens
    pad_id, _ = resolve_pad_id(tok)
    assert pad_id == tok.eos_token_id


def test_identical_sequences_run_once_and_get_identical_vectors(tiny_models, sentences):
    lm = load_model(tiny_models["llama"])
    texts = sentences[:20] + sentences[:5] + ["hello you"] * 3
    V, M, stats = _collect(lm.model, lm.tokenizer, texts, ExtractionConfig(batch_size=4))
    assert stats.n_sequences_reused == 5 + 2
    for a, b in [(0, 20), (4, 24), (25, 27)]:
        np.testing.assert_array_equal(V["-1"][M["seq_index"] == a], V["-1"][M["seq_index"] == b])
    assert sorted(set(M["seq_index"].tolist())) == list(range(len(texts)))
    ref, _, _ = _collect(lm.model, lm.tokenizer, texts[:20], ExtractionConfig(batch_size=4))
    np.testing.assert_allclose(V["-1"][M["seq_index"] < 20], ref["-1"], rtol=1e-4, atol=1e-5)


def test_extract_progress_reaches_the_total(tiny_models, sentences):
    lm = load_model(tiny_models["bert"])
    seen: dict[str, tuple[int, int]] = {}
    texts = sentences[:15] * 2
    extract(lm.model, lm.tokenizer, texts, ExtractionConfig(batch_size=4), lambda v, m: None,
            progress=lambda s, d, n: seen.__setitem__(s, (d, n)))
    assert seen["extract"] == (30, 30) and seen["extract_tokens"][0] == seen["extract_tokens"][1]
    extract(lm.model, lm.tokenizer, texts[:6], ExtractionConfig(masked_tokens=True, batch_size=8),
            lambda v, m: None, progress=lambda s, d, n: seen.__setitem__(s, (d, n)))
    assert seen["extract"] == (6, 6)
