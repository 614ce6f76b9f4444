"""lidscope: local intrinsic dimension (LID) of point clouds and of language-model token embeddings."""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import LIDInputError
from .estimators import LocalMLE, LocalPCA, LocalTwoNN, TwoNN
from .local import LocalDimensions, local_dimensions
from .neighbors import Neighbors, kneighbors

__all__ = [
    "LIDInputError",
    "LocalDimensions",
    "LocalMLE",
    "LocalPCA",
    "LocalTwoNN",
    "Neighbors",
    "TwoNN",
    "kneighbors",
    "local_dimensions",
]
