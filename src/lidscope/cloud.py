"""Token vectors -> the point cloud that is measured (paper step 5).

1. Tokens are put in *content order*: sequences by ``sequence_rank`` (the lexicographic order of
   their token ids, `lidscope.extract.tokens.token_contexts`; identical sequences by index), then
   position. The order depends on what the sequences are, not on the order they came in or how
   batches were formed. Without ranks (vectors from elsewhere): sequence index, then position;
   without either, storage order.
2. A random subsample of ``sample_size`` tokens is drawn without replacement
   (``numpy.random.default_rng(seed).choice``; the draw order is kept, so it is a random order).
3. Duplicates are removed keeping the first occurrence in that order, by the rule ``token-context``
   (`DEDUP_RULE`): first every token whose ``context`` id (the model's input for it: a decoder's
   causal prefix, an encoder's whole sequence, plus the position) was drawn before
   (``duplicates_same_context``; in exact arithmetic they have the same vector, in floats a near
   twin whose last bits depend on the batch it was computed in), then every remaining vector
   bit-identical to an earlier one (``duplicates_same_vector``: different inputs, the same vector,
   e.g. a token's embedding at layer 0). Identical vectors would give a nearest-neighbour distance
   of 0. Without context ids only bit-identical vectors are removed (rule ``vector-bits``).
4. The first ``n_points`` remaining rows form the cloud. With fewer, all are used and a note says so.

So with context ids the kept tokens do not depend on batch size, ``max_batch_tokens``, thread
count, the order of the texts or a replicate union versus a standalone run (only their vectors'
last bits do).

Per-point metadata (cache row, sequence index, position, token id) follows the points.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .validation import deduplicate
from .settings import DEDUP_RULE, PAPER, SAMPLE_SIZE, SEED

#: the rule used when no context ids are known (vectors from an array without them)
BITS_RULE = "vector-bits"


@dataclass
class Cloud:
    """A point cloud with its provenance.

    Attributes:
        vectors: float32 ``(n_points, d)``.
        rows: int64 ``(n_points,)`` storage rows of the points (in the cache / input array).
        meta: per-point arrays (``seq_index``, ``position``, ``token_id`` when known).
        counts: ``tokens``, ``sampled``, ``duplicates_removed`` (=
            ``duplicates_same_context`` + ``duplicates_same_vector``), ``unique``, ``points``,
            ``points_requested``.
        params: ``sample_size``, ``n_points``, ``seed``, ``dedup`` (the rule's name).
        notes: human-readable remarks (e.g. fewer tokens than requested).
    """

    vectors: np.ndarray
    rows: np.ndarray
    meta: dict[str, np.ndarray]
    counts: dict[str, int]
    params: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def sample_order(n_tokens: int, sample_size: int | None = SAMPLE_SIZE, seed: int = SEED) -> np.ndarray:
    """Indices ``0..n_tokens-1`` of a random subsample without replacement, in draw order.

    With ``sample_size`` None or >= n_tokens, a random permutation of all tokens.
    """
    rng = np.random.default_rng(seed)
    k = n_tokens if sample_size is None else min(int(sample_size), n_tokens)
    return rng.choice(n_tokens, size=k, replace=False).astype(np.int64)


def first_unique_rows(X: np.ndarray) -> np.ndarray:
    """Sorted indices of the first occurrence of every distinct row of ``X`` ``(n, d)``.

    Rows are compared bit for bit after mapping ``-0.0`` to ``0.0`` (the core's deduplication).
    """
    if X.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    return deduplicate(np.ascontiguousarray(X)).kept.astype(np.int64)


def text_order(meta: dict[str, np.ndarray]) -> np.ndarray:
    """Storage rows sorted by (seq_index, position): token ``i`` in text order is row ``out[i]``."""
    return np.lexsort((meta["position"], meta["seq_index"])).astype(np.int64)


def content_order(meta: dict[str, np.ndarray]) -> np.ndarray:
    """Storage rows sorted by (sequence_rank, seq_index, position), the canonical token order."""
    return np.lexsort((meta["position"], meta["seq_index"], meta["sequence_rank"])).astype(np.int64)


def first_of_each_context(context: np.ndarray) -> np.ndarray:
    """Sorted indices of the first occurrence of every distinct value of ``context``."""
    if context.size == 0:
        return np.zeros(0, dtype=np.int64)
    _, first = np.unique(np.asarray(context), return_index=True)
    return np.sort(first).astype(np.int64)


def build_cloud(
    source: np.ndarray | Callable[[np.ndarray], np.ndarray],
    n_tokens: int | None = None,
    *,
    meta: dict[str, np.ndarray] | None = None,
    sample_size: int | None = SAMPLE_SIZE,
    n_points: int | None = PAPER.n_points,
    seed: int = SEED,
) -> Cloud:
    """Sample, deduplicate and truncate token vectors into a `Cloud`.

    Args:
        source: an ``(n_tokens, d)`` array, or ``gather(rows) -> (len(rows), d)`` reading storage
            rows (e.g. `EmbeddingCache.gather` bound to a layer).
        n_tokens: number of rows (required with a callable source).
        meta: per-row arrays of length n_tokens; with ``seq_index``, ``position`` (and
            ``sequence_rank``) tokens are put in text (content) order before sampling; with
            ``context`` duplicates are found by context first (module docstring).
        sample_size: tokens drawn before dedup (``None`` = all).
        n_points: points kept after dedup (``None`` = all).
        seed: sampling seed.
    """
    if callable(source):
        if n_tokens is None:
            raise ValueError("n_tokens is required when source is a callable.")
        gather = source
    else:
        arr = np.asarray(source)
        if arr.ndim != 2:
            raise ValueError(f"token vectors must be a 2-D (n, d) array, got shape {arr.shape}.")
        n_tokens = arr.shape[0] if n_tokens is None else n_tokens

        def gather(rows: np.ndarray) -> np.ndarray:
            return np.asarray(arr[rows], dtype=np.float32)

    assert n_tokens is not None
    meta = meta or {}
    if "sequence_rank" in meta and "seq_index" in meta and "position" in meta:
        canonical = content_order(meta)
    elif "seq_index" in meta and "position" in meta:
        canonical = text_order(meta)
    else:
        canonical = np.arange(n_tokens, dtype=np.int64)
    drawn = canonical[sample_order(n_tokens, sample_size, seed)]
    if "context" in meta:
        rule = DEDUP_RULE
        by_context = first_of_each_context(np.asarray(meta["context"])[drawn])
    else:
        rule = BITS_RULE
        by_context = np.arange(len(drawn), dtype=np.int64)
    X = gather(drawn[by_context])
    by_bits = first_unique_rows(X)
    n_context = len(drawn) - len(by_context)
    n_bits = len(by_context) - len(by_bits)
    n_dup = n_context + n_bits
    if n_points is not None:
        by_bits = by_bits[:n_points]
    keep = by_context[by_bits]
    rows = drawn[keep]
    notes: list[str] = []
    if n_points is not None and len(keep) < n_points:
        notes.append(
            f"only {len(keep)} distinct token vectors available (of {n_tokens} tokens, "
            f"{len(drawn)} sampled, {n_dup} duplicates removed): using all of them instead of "
            f"N = {n_points}. Add sequences (--n-sequences) for the full N."
        )
    return Cloud(
        vectors=np.ascontiguousarray(X[by_bits], dtype=np.float32),
        rows=rows,
        meta={k: np.asarray(v)[rows] for k, v in meta.items()},
        counts={
            "tokens": int(n_tokens),
            "sampled": int(len(drawn)),
            "duplicates_removed": int(n_dup),
            "duplicates_same_context": int(n_context),
            "duplicates_same_vector": int(n_bits),
            "unique": int(len(drawn) - n_dup),
            "points": int(len(keep)),
            "points_requested": int(n_points) if n_points is not None else int(len(keep)),
        },
        params={"sample_size": sample_size, "n_points": n_points, "seed": seed, "dedup": rule},
        notes=notes,
    )
