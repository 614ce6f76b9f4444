"""lidscope: local intrinsic dimension (LID) of point clouds and of language-model token embeddings.

The numerical core (``local_dimensions``, the estimator classes, ``kneighbors``) imports only NumPy,
numba and faiss. Models: ``from lidscope.measure import measure, compare``. ``sweep``,
``LIDCallback`` and ``LIDMonitor`` are loaded on first use, so ``import lidscope`` stays light.
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import Any

from .threads import set_wait_policy

set_wait_policy()  # before NumPy, numba or torch load their thread pools: idle threads sleep, not spin

from .errors import LIDInputError
from .descriptors import GeometryResult, geometry, neighborhood_overlap
from .estimators import LocalMLE, LocalPCA, LocalTwoNN, TwoNN
from .local import LocalDimensions, local_dimensions
from .neighbors import Neighbors, kneighbors

_LAZY = {
    "sweep": "lidscope.training",
    "LIDCallback": "lidscope.integrations",
    "LIDMonitor": "lidscope.integrations",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lidscope' has no attribute {name!r}")


__all__ = [
    "GeometryResult",
    "LIDCallback",
    "LIDInputError",
    "LIDMonitor",
    "LocalDimensions",
    "LocalMLE",
    "LocalPCA",
    "LocalTwoNN",
    "Neighbors",
    "TwoNN",
    "geometry",
    "kneighbors",
    "local_dimensions",
    "neighborhood_overlap",
    "sweep",
]
