"""What a run folder keeps to explain its numbers: texts, token spans, neighbours, a 2-D map.

Next to ``tokens.parquet`` (one row per point and layer) a measurement writes

- ``texts.parquet``: ``seq_index``, ``sequence_id``, ``text`` of every sampled sequence (off with
  ``keep_texts=False`` for private data; the tokens table still names each point's token);
- ``points.parquet``: one row per point and layer: ``char_start``/``char_end`` (the token's span in
  its text, -1 where the tokenizer gives none, e.g. special tokens or slow tokenizers),
  ``map_x``/``map_y`` (the point's first two principal components, for the report's map) and
  ``neighbors``/``distances`` (its first ``k`` nearest neighbours of the L used, as point
  indices of the same layer, and their float64-exact distances stored as float32).

``k`` defaults to `KEEP_NEIGHBORS` = 10: at the paper's N = 60,000 one layer's ``points.parquet``
is about 5 MB (see docs/tokens.md). Old run folders without these files still load
(`lidscope.runs.load_run`); what needs them says it is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lidscope.jsonio import dumps

#: Nearest neighbours kept per point (of the L used by the estimate).
KEEP_NEIGHBORS = 10
#: Rows used to fit the 2-D map's principal axes (all points are projected).
MAP_FIT_ROWS = 10_000

TEXTS_FILE = "texts.parquet"
POINTS_FILE = "points.parquet"


def pca_map(X: np.ndarray, fit_rows: int = MAP_FIT_ROWS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """First two principal components of ``X`` ``(n, d)``: ``(n, 2)`` float32 coordinates and the
    share of variance each explains (``(2,)``). Axes come from at most ``fit_rows`` random rows
    (exact when ``n <= fit_rows``); signs are fixed so the largest loading is positive."""
    X = np.asarray(X, dtype=np.float64 if X.shape[0] <= fit_rows else np.float32)
    n = X.shape[0]
    idx = np.arange(n) if n <= fit_rows else np.sort(np.random.default_rng(seed).choice(n, fit_rows, replace=False))
    S = np.asarray(X[idx], dtype=np.float64)
    mu = S.mean(axis=0)
    S -= mu
    cov = S.T @ S / max(1, S.shape[0] - 1)
    w, V = np.linalg.eigh(cov)
    top = np.argsort(w)[::-1][:2]
    axes = V[:, top]
    axes *= np.sign(axes[np.argmax(np.abs(axes), axis=0), [0, 1]])
    coords = (np.asarray(X, dtype=np.float64) - mu) @ axes
    total = float(w.sum())
    share = w[top] / total if total > 0 else np.zeros(2)
    return coords.astype(np.float32), share


def token_spans(tokenizer: Any, texts: Sequence[str], seq_index: np.ndarray, position: np.ndarray,
                max_length: int, add_special_tokens: bool = True) -> np.ndarray:
    """Character span ``(n, 2)`` int32 of each point's token in its text (-1, -1 where unknown).

    Re-tokenises only the sequences that hold points, with the extraction's truncation, and reads
    the fast tokenizer's offset mapping; a slow tokenizer gives -1 everywhere.
    """
    spans = np.full((len(seq_index), 2), -1, dtype=np.int32)
    if not getattr(tokenizer, "is_fast", False) or len(seq_index) == 0:
        return spans
    seqs = np.unique(seq_index)
    order = np.argsort(seq_index, kind="stable")
    bounds = np.searchsorted(seq_index[order], seqs, side="left")
    ends = np.searchsorted(seq_index[order], seqs, side="right")
    for start in range(0, len(seqs), 1000):
        part = seqs[start:start + 1000]
        enc = tokenizer([texts[int(s)] for s in part], add_special_tokens=add_special_tokens, truncation=True,
                        max_length=max_length, return_offsets_mapping=True)
        for j, (s, offs) in enumerate(zip(part, enc["offset_mapping"])):
            rows = order[bounds[start + j]:ends[start + j]]
            pos = position[rows]
            ok = pos < len(offs)
            o = np.asarray(offs, dtype=np.int32).reshape(-1, 2)
            got = o[pos[ok]]
            got[got[:, 1] <= got[:, 0]] = -1   # special tokens have empty spans
            spans[rows[ok]] = got
    return spans


@dataclass
class Explanation:
    """The per-layer data `points_table` writes (all arrays in cloud order, length n_points)."""

    spans: np.ndarray          # (n, 2) int32
    coords: np.ndarray         # (n, 2) float32
    neighbors: np.ndarray      # (n, k) int32 point indices of the same layer
    distances: np.ndarray      # (n, k) float32
    map_variance: np.ndarray   # (2,)


def explain_layer(vectors: np.ndarray, neighbor_indices: np.ndarray | None,
                  neighbor_distances: np.ndarray | None, spans: np.ndarray,
                  k: int = KEEP_NEIGHBORS) -> Explanation:
    """Cut neighbour lists to ``k`` columns and compute the map of one layer's points."""
    n = vectors.shape[0]
    if neighbor_indices is None or k == 0:
        nb = np.zeros((n, 0), np.int32)
        dist = np.zeros((n, 0), np.float32)
    else:
        k = min(k, neighbor_indices.shape[1])
        nb = np.ascontiguousarray(neighbor_indices[:, :k], dtype=np.int32)
        dist = np.ascontiguousarray(neighbor_distances[:, :k], dtype=np.float32)  # type: ignore[index]
    coords, share = pca_map(vectors)
    return Explanation(spans.astype(np.int32), coords, nb, dist, share)


def points_table(layers: dict[str, Explanation]) -> Any:
    """One pyarrow table (``layer``, ``point``, spans, map, neighbours) over all layers."""
    import pyarrow as pa

    parts = []
    for label, e in layers.items():
        n, k = e.neighbors.shape
        offsets = pa.array(np.arange(n + 1, dtype=np.int32) * k)   # k = 0: empty lists
        parts.append(pa.table({
            "layer": pa.array([label] * n, pa.string()),
            "point": pa.array(np.arange(n, dtype=np.int64)),
            "char_start": pa.array(e.spans[:, 0].astype(np.int32)),
            "char_end": pa.array(e.spans[:, 1].astype(np.int32)),
            "map_x": pa.array(e.coords[:, 0].astype(np.float32)),
            "map_y": pa.array(e.coords[:, 1].astype(np.float32)),
            "neighbors": pa.ListArray.from_arrays(offsets, pa.array(e.neighbors.reshape(-1).astype(np.int32))),
            "distances": pa.ListArray.from_arrays(offsets, pa.array(e.distances.reshape(-1).astype(np.float32))),
        }))
    return pa.concat_tables(parts)


def texts_table(texts: Sequence[str], ids: Sequence[str]) -> Any:
    import pyarrow as pa

    return pa.table({"seq_index": pa.array(np.arange(len(texts), dtype=np.int64)),
                     "sequence_id": pa.array([str(i) for i in ids], pa.string()),
                     "text": pa.array(list(texts), pa.string())})


def write_explanation(out: str | Path, points: Any, texts: Any | None,
                      map_variance: dict[str, list[float]] | None = None) -> list[str]:
    """Write ``points.parquet`` (and ``texts.parquet`` unless ``texts`` is None) atomically;
    returns the file names written."""
    import os

    import pyarrow.parquet as pq

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    meta = {"map": "PCA, first two components", "map_variance_share": map_variance or {}}
    points = points.replace_schema_metadata({"lidscope": dumps(meta, indent=None)})
    for name, table in ((POINTS_FILE, points), (TEXTS_FILE, texts)):
        if table is None:
            continue
        tmp = out / f".{name}.tmp"
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, out / name)
        written.append(name)
    return written


def explain_result(loaded: Any, texts: Any, layers: dict[str, Any], config: Any, keep_neighbors: int,
                   keep_texts: bool) -> tuple[Any, Any, dict[str, list[float]]]:
    """From `measure`'s layer results: (points table, texts table or None, map variance shares).

    Frees each layer's full neighbour lists once the first ``keep_neighbors`` are taken."""
    parts: dict[str, Explanation] = {}
    for label, lr in layers.items():
        meta = lr.cloud.meta   # each layer has its own cloud (deduplication differs by layer)
        spans = token_spans(loaded.tokenizer, texts.texts, meta["seq_index"], meta["position"],
                            config.max_length, config.add_special_tokens)
        lid = lr.lid
        # the cloud is already deduplicated, so kept_index is 0..n-1 and neighbour ids are points
        nb = lid.neighbor_indices
        parts[label] = explain_layer(lr.cloud.vectors, nb, lid.neighbor_distances, spans, keep_neighbors)
        lid.neighbor_indices = lid.neighbor_distances = None
    table = points_table(parts)
    kept = texts_table(texts.texts, texts.ids) if keep_texts else None
    return table, kept, {k: [float(x) for x in e.map_variance] for k, e in parts.items()}
