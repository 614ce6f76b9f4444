"""Fixtures: tiny random models saved to temporary folders, short sentences."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tinymodels import WORDS, save_tiny

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    return {k: save_tiny(k, root / k) for k in ("bert", "roberta", "llama", "gpt2")}


@pytest.fixture(scope="session")
def sentences() -> list[str]:
    rng = random.Random(0)
    out = []
    for i in range(120):
        n = rng.choice([1, 2, 3, 5, 8, 13, 21, 34])
        out.append(" ".join(rng.choice(WORDS) for _ in range(n)))
    return out
