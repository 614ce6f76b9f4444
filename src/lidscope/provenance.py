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
    """Python, platform, CPU count, versions of the packages that shape the numbers, and torch's CPU thread
    count when torch is loaded (never imported here)."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    env: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "packages": versions,
    }
    if "torch" in sys.modules:  # a run with a model: the CPU threads its forward passes used
        env["torch_threads"] = sys.modules["torch"].get_num_threads()
    return env


_FILE_HASH_MEMO: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 22) -> str:
    """SHA-256 of a file's bytes, memoised per (path, size, mtime) within the process."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _FILE_HASH_MEMO:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            while block := f.read(chunk):
                h.update(block)
        _FILE_HASH_MEMO[key] = h.hexdigest()
    return _FILE_HASH_MEMO[key]


def array_sha256(X: np.ndarray) -> str:
    """Fingerprint of an array's dtype, shape and bytes."""
    X = np.ascontiguousarray(X)
    h = hashlib.sha256(f"{X.dtype.str}{X.shape}".encode())
    h.update(memoryview(X).cast("B"))
    return h.hexdigest()


def fingerprint_path(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path)
    return {"path": str(p.resolve()), "bytes": p.stat().st_size, "sha256": file_sha256(p)}
