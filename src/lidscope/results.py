"""Writing results: JSON summaries and Parquet tables, atomically (never half-written)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np


def _default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=_default, allow_nan=True) + "\n")
    os.replace(tmp, path)
    return path


def write_parquet(path: str | os.PathLike[str], columns: dict[str, Any], metadata: dict[str, Any] | None = None) -> Path:
    """A Parquet table from equal-length columns; ``metadata`` is stored as JSON in the schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table(columns)
    if metadata:
        table = table.replace_schema_metadata({"lidscope": json.dumps(metadata, default=_default)})
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path
