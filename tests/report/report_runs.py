"""Run folders with a known answer (tests only): token types with set mean LIDs, texts, spans, map, neighbours."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

BASE = {"Ġthe": 8.0, "Ġcat": 12.0, "ing": 14.0, ".": 6.0, "Ġdog": 11.0, "Ġ42": 9.0}


def fake_run(folder: Path, lid_by_token: dict[str, float], n_seq: int = 40, per_seq: int = 30, seed: int = 0,
             shift: dict[str, float] | None = None, texts: bool = True, points: bool = False,
             words_seed: int = 100, model: str = "m") -> Path:
    """Each sequence is a random string of the token types; a point's LID is its type's mean + shift +
    a per-sequence effect + noise. With ``points``, spans into the texts, a map and 3 neighbours."""
    rng = np.random.default_rng(seed)
    toks = list(lid_by_token)
    rows, seq_texts, spans = [], [], []
    for s in range(n_seq):
        words = [toks[i] for i in np.random.default_rng(words_seed + s).integers(0, len(toks), per_seq)]
        eff = rng.normal(0, 0.3)
        text = ""
        for p, w in enumerate(words):
            piece = w.replace("Ġ", " ")
            spans.append((len(text) + (piece.startswith(" ")), len(text) + len(piece)))
            text += piece
            rows.append((w, s, p, lid_by_token[w] + (shift or {}).get(w, 0.0) + eff + rng.normal(0, 0.5)))
        seq_texts.append(text)
    folder.mkdir(parents=True, exist_ok=True)
    n = len(rows)
    ids = {t: i for i, t in enumerate(toks)}
    lid = np.array([r[3] for r in rows])
    pq.write_table(pa.table({
        "point": np.arange(n), "layer": ["-1"] * n, "lid": lid,
        "token_id": [ids[r[0]] for r in rows], "token": [r[0] for r in rows],
        "seq_index": [r[1] for r in rows], "position": [r[2] for r in rows],
        "sequence_id": [str(r[1]) for r in rows]}), folder / "tokens.parquet")
    (folder / "summary.json").write_text(json.dumps({"model": {"name": model}, "data": {"name": "d"},
                                                     "params": {"n_neighbors": 16, "estimator": "twonn"}}))
    if texts:
        pq.write_table(pa.table({"seq_index": np.arange(n_seq), "sequence_id": [str(s) for s in range(n_seq)],
                                 "text": seq_texts}), folder / "texts.parquet")
    if points:
        xy = np.random.default_rng(7).normal(size=(n, 2)).astype(np.float32)
        nb = np.stack([(np.arange(n) + k) % n for k in (1, 2, 3)], axis=1).astype(np.int32)
        sp = np.array(spans, dtype=np.int32)
        pq.write_table(pa.table({
            "layer": ["-1"] * n, "point": np.arange(n), "char_start": sp[:, 0], "char_end": sp[:, 1],
            "map_x": xy[:, 0], "map_y": xy[:, 1], "neighbors": list(nb), "distances": list(nb.astype(np.float32)),
        }), folder / "points.parquet")
    return folder
