"""Models and texts -> contextual token vectors + per-token metadata (no estimators here).

- `models`: load a local Hugging Face folder / GGUF / bundled model, never the hub; fingerprints.
- `texts`: text sources, bundled corpora, deterministic splits, seeded sampling of M sequences.
- `tokens`: length-bucketed batches, token filtering rules, hidden states of chosen layers.
- `cache`: chunked on-disk vector cache with atomic writes (``.npy`` + JSON, no pickle).
"""

from __future__ import annotations

from lidscope.extract.errors import DataError, ExtractError, ExtractionError, ModelLoadError

__all__ = ["DataError", "ExtractError", "ExtractionError", "ModelLoadError"]
