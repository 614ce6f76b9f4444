"""Baseline scores against a direct torch computation on a tiny causal LM (full logits, no chunking)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch

from tinylms import make_causal, sentences
from lidscope.detect.baselines import lowest_k_mean, text_scores
from lidscope.detect.forward import chunked_logprobs, load_detect_model, run_texts


@pytest.mark.parametrize("kind", ["llama", "gpt2"])
def test_logprobs_equal_full_logits(kind):
    model, tok = make_causal(kind, seed=3)
    texts = sentences(7, seed=5, lo=3, hi=30)
    dm = load_detect_model(model, tok)
    tp = run_texts(dm, texts, max_length=24, batch_size=3, max_batch_tokens=40)
    for i, t in enumerate(texts):
        ids = torch.tensor(tok(t, truncation=True, max_length=24)["input_ids"])[None]
        with torch.no_grad():
            logp = torch.log_softmax(model(ids).logits[0].double(), -1)
        tgt = ids[0, 1:]
        lp = logp[:-1].gather(-1, tgt[:, None])[:, 0].numpy()
        p = logp[:-1].exp()
        mu = (p * logp[:-1]).sum(-1).numpy()
        sd = np.sqrt(((p * (logp[:-1] - torch.tensor(mu)[:, None]) ** 2).sum(-1)).numpy())
        np.testing.assert_allclose(tp.token_logprob[i], lp, atol=2e-5)
        np.testing.assert_allclose(tp.vocab_mean[i], mu, atol=2e-5)
        np.testing.assert_allclose(tp.vocab_std[i], sd, atol=2e-5)
        decoded = tok.decode(ids[0], skip_special_tokens=True)
        s = text_scores(tp.token_logprob[i], tp.vocab_mean[i], tp.vocab_std[i], decoded, k=0.2)
        k = int(np.ceil(0.2 * lp.size))
        assert s["loss"] == pytest.approx(lp.mean(), abs=2e-5)
        assert s["zlib"] == pytest.approx(lp.mean() / len(zlib.compress(decoded.encode())), abs=1e-6)
        assert s["mink"] == pytest.approx(np.sort(lp)[:k].mean(), abs=2e-5)
        assert s["minkpp"] == pytest.approx(np.sort((lp - mu) / sd)[:k].mean(), abs=1e-4)


def test_chunking_does_not_change_logprobs():
    torch.manual_seed(0)
    head = torch.nn.Linear(8, 50, bias=False)
    h = torch.randn(37, 8)
    tgt = torch.randint(0, 50, (37,))
    one = chunked_logprobs(h, tgt, head, chunk=1000)
    many = chunked_logprobs(h, tgt, head, chunk=5)
    for a, b in zip(one, many):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-12)


def test_every_head_call_has_the_chunk_size():
    """Fixed-size chunks (the last padded) keep the allocator's temporaries one size; padding is dropped."""
    torch.manual_seed(1)
    head = torch.nn.Linear(8, 50, bias=False)
    shapes = []
    head.register_forward_hook(lambda mod, inp, out: shapes.append(tuple(inp[0].shape)))
    h = torch.randn(23, 8)
    tgt = torch.randint(0, 50, (23,))
    lp, mu, sd = chunked_logprobs(h, tgt, head, chunk=10)
    assert shapes == [(10, 8)] * 3 and lp.shape == mu.shape == sd.shape == (23,)
    full = torch.log_softmax(head(h).double(), -1)
    np.testing.assert_allclose(lp.numpy(), full.gather(-1, tgt[:, None])[:, 0].detach().numpy(), atol=1e-12)


def test_lowest_k_mean():
    x = np.array([5.0, -1.0, 3.0, -7.0, 0.0, 2.0, 9.0, 1.0, 4.0, 6.0])
    assert lowest_k_mean(x, 0.2) == pytest.approx(-4.0)   # two lowest: -7, -1
    assert lowest_k_mean(x, 0.01) == pytest.approx(-7.0)  # at least one token
    assert np.isnan(lowest_k_mean(np.array([]), 0.2))
