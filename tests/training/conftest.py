"""Fixtures for the training tests: a fake tiny-BERT training run and short texts."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fakeruns import make_run, write_texts  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def texts_file(tmp_path_factory) -> Path:
    return write_texts(tmp_path_factory.mktemp("texts") / "texts.txt")


@pytest.fixture(scope="session")
def other_texts_file(tmp_path_factory) -> Path:
    return write_texts(tmp_path_factory.mktemp("texts2") / "other.txt", n=150, seed=1)


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("runs") / "run-seed0", seed=0)
