"""Helpers: a fake training run of a tiny random BERT (checkpoint-<step> folders), short texts."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "extract"))
from tinymodels import WORDS, make_model, make_tokenizer  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")

#: Small measurement settings for tests.
SMALL = dict(n_sequences=None, n_points=300, n_neighbors=12, sample_size=3000, max_length=32)


def write_texts(path: Path, n: int = 200, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    lines = [" ".join(rng.choice(WORDS, size=int(rng.integers(4, 20)))) for _ in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_run(root: Path, steps=(10, 20, 30), *, seed: int = 0, tokenizer_in_checkpoints: bool = True,
             metrics: bool = True) -> Path:
    """A Trainer-like output folder: checkpoint-<step>/ with weights, tokenizer, trainer_state.json."""
    import torch

    tok = make_tokenizer("bert")
    model = make_model("bert", len(tok))
    root.mkdir(parents=True, exist_ok=True)
    history = []
    g = torch.Generator().manual_seed(seed)
    for i, step in enumerate(steps):
        with torch.no_grad():  # drift the weights a little between checkpoints
            for p in model.parameters():
                p.add_(0.05 * torch.randn(p.shape, generator=g))
        ck = root / f"checkpoint-{step}"
        model.save_pretrained(ck, safe_serialization=True)
        if tokenizer_in_checkpoints:
            tok.save_pretrained(ck)
        history.append({"loss": 2.0 - 0.1 * i, "learning_rate": 1e-4, "epoch": i + 1.0, "step": step})
        history.append({"eval_loss": 1.5 - 0.05 * i, "eval_f1": 0.5 + 0.1 * i, "eval_runtime": 0.1,
                        "epoch": i + 1.0, "step": step})
        if metrics:
            (ck / "trainer_state.json").write_text(json.dumps(
                {"global_step": step, "log_history": list(history)}), encoding="utf-8")
    return root
