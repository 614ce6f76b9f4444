"""Score-based membership-inference baselines for causal LMs, from per-token log-probabilities.

Every score is oriented so that **higher = more member-like** (more likely in the training data):

- ``loss``: minus the mean negative log-likelihood of the text's predicted tokens.
- ``zlib``: minus the loss divided by the zlib-compressed size (bytes) of the scored text
  (Carlini et al. 2021: low perplexity relative to the text's own compressibility).
- ``mink``: Min-K% Prob (Shi et al. 2024): mean of the lowest K % token log-probabilities.
- ``minkpp``: Min-K%++ (Zhang et al. 2024): the same over token log-probabilities standardised by
  the mean and standard deviation of the log-probabilities over the vocabulary at that position.
- ``ref``: reference-model ratio: reference loss minus target loss (the base model as reference):
  how much better the target fits the text than the model it was fine-tuned from.
"""

from __future__ import annotations

import zlib

import numpy as np

#: K of Min-K% and Min-K%++ (fraction of the lowest-scoring tokens averaged).
MIN_K = 0.2
BASELINES = ("loss", "zlib", "mink", "minkpp", "ref")


def lowest_k_mean(x: np.ndarray, k: float = MIN_K) -> float:
    """Mean of the ``ceil(k * n)`` smallest values of ``x`` (at least one); NaN for empty ``x``."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return float("nan")
    m = max(1, int(np.ceil(k * x.size)))
    return float(np.mean(np.partition(x, m - 1)[:m]))


def zlib_size(text: str) -> int:
    """Size in bytes of the UTF-8 text compressed with zlib (default level)."""
    return len(zlib.compress(text.encode("utf-8")))


def text_scores(token_logprob: np.ndarray, vocab_mean: np.ndarray, vocab_std: np.ndarray, text: str,
                k: float = MIN_K) -> dict[str, float]:
    """``loss``, ``zlib``, ``mink``, ``minkpp`` scores of one text (see the module docstring).

    token_logprob, vocab_mean, vocab_std: ``(T - 1,)`` per predicted token; text: the scored text
    (after truncation) for the zlib size.
    """
    lp = np.asarray(token_logprob, dtype=np.float64)
    if lp.size == 0:
        return {"nll": float("nan"), "loss": float("nan"), "zlib": float("nan"), "mink": float("nan"),
                "minkpp": float("nan")}
    nll = float(-lp.mean())
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (lp - np.asarray(vocab_mean)) / np.asarray(vocab_std)
    z = np.where(np.isfinite(z), z, 0.0)  # a one-hot distribution (std 0): the token is neither low nor high
    return {"nll": nll, "loss": -nll, "zlib": -nll / max(1, zlib_size(text)), "mink": lowest_k_mean(lp, k),
            "minkpp": lowest_k_mean(z, k)}
