"""Tiny random causal LMs with LM heads (Llama- and GPT-2-style), texts, and a memorising fine-tune (tests)."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "extract"))
from tinymodels import WORDS, make_tokenizer, save_tiny  # noqa: E402,F401

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def make_causal(kind: str, seed: int = 0):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    tok = make_tokenizer(kind)
    torch.manual_seed(seed)
    if kind == "llama":
        cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                          num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
                          bos_token_id=1, eos_token_id=2, pad_token_id=2, tie_word_embeddings=False)
        return LlamaForCausalLM(cfg).eval(), tok
    cfg = GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=2, n_head=2, n_positions=128, bos_token_id=0,
                     eos_token_id=0)
    return GPT2LMHeadModel(cfg).eval(), tok


def save(model, tok, folder: Path) -> Path:
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


def sentences(n: int, seed: int, lo: int = 8, hi: int = 20, words=WORDS) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(words) for _ in range(rng.randint(lo, hi))) for _ in range(n)]


def finetune(model, tok, texts: list[str], steps: int, lr: float = 3e-3, seed: int = 0):
    """A few full-batch AdamW steps on ``texts`` (memorisation for the 'members differ' cases)."""
    import copy

    import torch

    torch.manual_seed(seed)
    m = copy.deepcopy(model).train()
    opt = torch.optim.AdamW(m.parameters(), lr=lr)
    enc = tok(texts, padding=True, return_tensors="pt", truncation=True, max_length=64)
    labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
    for _ in range(steps):
        loss = m(**enc, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return m.eval()
