"""Read a point cloud from .npy, .npz, .safetensors or Parquet files, with clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import LIDInputError

FORMATS = (".npy", ".npz", ".safetensors", ".parquet")


def _pick(names: list[str], key: str | None, what: str, path: Path) -> str:
    if key is not None:
        if key not in names:
            raise LIDInputError(f"{path} has no {what} {key!r}; it has: {', '.join(names) or 'none'}.")
        return key
    if len(names) == 1:
        return names[0]
    raise LIDInputError(
        f"{path} holds {len(names)} {what}s ({', '.join(names)}); choose one with --key."
    )


def load_points(path: str | os.PathLike[str], key: str | None = None, notes: list[str] | None = None) -> np.ndarray:
    """The (n, d) array stored in ``path``.

    ``key`` names the array in an .npz or .safetensors file, or the column of a Parquet file
    (a list/fixed-size-list column, one point per row; or several numeric columns if omitted).
    Nothing is unpickled: .npy/.npz object arrays are refused. Which Parquet columns became the
    coordinates (and which were left out, not being numeric) is appended to ``notes`` when given.
    """
    p = Path(path)
    if not p.exists():
        raise LIDInputError(f"No such file: {p}.")
    suffix = p.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(p, allow_pickle=False)
        if suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                return z[_pick(list(z.files), key, "array", p)]
        if suffix == ".safetensors":
            from safetensors.numpy import load_file

            tensors = load_file(str(p))
            return tensors[_pick(sorted(tensors), key, "tensor", p)]
        if suffix == ".parquet":
            return _load_parquet(p, key, notes)
    except LIDInputError:
        raise
    except Exception as exc:  # unreadable or corrupt file: say which and why
        raise LIDInputError(f"Could not read {p} as {suffix} ({type(exc).__name__}: {exc}).") from None
    raise LIDInputError(f"Unsupported file type {suffix!r} for {p}; use one of {', '.join(FORMATS)}.")


def _load_parquet(p: Path, key: str | None, notes: list[str] | None = None) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(p)
    lists = [f.name for f in table.schema if pa.types.is_list(f.type) or pa.types.is_fixed_size_list(f.type)
             or pa.types.is_large_list(f.type)]
    if key is not None or lists:
        name = _pick(lists if key is None else table.column_names, key, "column", p)
        col = table.column(name).combine_chunks()
        if not (pa.types.is_list(col.type) or pa.types.is_fixed_size_list(col.type) or pa.types.is_large_list(col.type)):
            raise LIDInputError(f"Column {name!r} of {p} is not a list/array column (type {col.type}).")
        lengths = np.asarray(col.value_lengths()) if not pa.types.is_fixed_size_list(col.type) else None
        if lengths is not None and lengths.size and (lengths != lengths[0]).any():
            raise LIDInputError(f"Column {name!r} of {p} has rows of different lengths; every point needs d values.")
        values = np.asarray(col.flatten().to_numpy(zero_copy_only=False))
        return values.reshape(len(col), -1) if len(col) else values.reshape(0, 0)
    numeric = [f.name for f in table.schema if pa.types.is_floating(f.type) or pa.types.is_integer(f.type)]
    if not numeric:
        raise LIDInputError(f"{p} has no list column and no numeric columns to use as coordinates.")
    left_out = [c for c in table.column_names if c not in numeric]
    if notes is not None:
        notes.append(f"{p}: coordinates from the {len(numeric)} numeric columns {', '.join(numeric)}"
                     + (f"; left out (not numeric): {', '.join(left_out)}" if left_out else ""))
    return np.column_stack([table.column(c).to_numpy() for c in numeric])
