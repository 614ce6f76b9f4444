"""What produced a number: package versions, machine, and content fingerprints."""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

PACKAGES = (
    "lidscope", "numpy", "numba", "scikit-learn", "torch", "transformers", "datasets",
    "tokenizers", "safetensors", "pyarrow", "pandas", "scikit-dimension",
)


def environment() -> dict[str, Any]:
    """Python, platform, CPU count and versions of the packages that shape the numbers."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "packages": versions,
    }


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def array_sha256(X: np.ndarray) -> str:
    """Fingerprint of an array's dtype, shape and bytes."""
    X = np.ascontiguousarray(X)
    h = hashlib.sha256(f"{X.dtype.str}{X.shape}".encode())
    h.update(memoryview(X).cast("B"))
    return h.hexdigest()


def fingerprint_path(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path)
    return {"path": str(p.resolve()), "bytes": p.stat().st_size, "sha256": file_sha256(p)}
