"""Fixtures for detect: a tiny base LM and the same fine-tuned on 'member' texts, a tiny encoder, a GPT-2."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from tinylms import finetune, make_causal, save, save_tiny, sentences  # noqa: E402


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory):
    """Base Llama-style LM, the same fine-tuned on 'member' texts, and the text pools."""
    root = tmp_path_factory.mktemp("detect-models")
    base, tok = make_causal("llama")
    members = sentences(40, seed=1)
    nonmembers = sentences(40, seed=2)
    reference = sentences(40, seed=3)
    tuned = finetune(base, tok, members, steps=60)
    return {"base": save(base, tok, root / "base"), "tuned": save(tuned, tok, root / "tuned"),
            "members": members, "nonmembers": nonmembers, "reference": reference}


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory):
    return save_tiny("bert", tmp_path_factory.mktemp("detect-bert") / "bert")


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory):
    m, tok = make_causal("gpt2")
    return save(m, tok, tmp_path_factory.mktemp("detect-gpt2") / "gpt2")
