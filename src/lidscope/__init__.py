"""lidscope: local intrinsic dimension (LID) of point clouds and of language-model token embeddings."""

from __future__ import annotations

__version__ = "0.1.0"
