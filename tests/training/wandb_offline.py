"""Read the history of a W&B offline run folder back (tests only).

``run-<id>.wandb`` is a LevelDB-style log: a 7-byte file header (``:W&B``, magic, version), then
32 KiB blocks of chunks, each ``crc32 (4) | length (2, LE) | type (1)`` + data; type 1 is a whole
record, 2/3/4 the first/middle/last piece of one. Each record is a ``wandb_internal_pb2.Record``.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

_BLOCK = 32 * 1024
_HEADER = 7


def records(path: Path) -> list[bytes]:
    raw = Path(path).read_bytes()
    assert raw[:4] == b":W&B", "not a W&B run file"
    out: list[bytes] = []
    pos, pending = _HEADER, b""
    while pos + _HEADER <= len(raw):
        left = _BLOCK - pos % _BLOCK
        if left < _HEADER:  # block trailer: padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", raw[pos:pos + _HEADER])
        data = raw[pos + _HEADER:pos + _HEADER + length]
        pos += _HEADER + length
        if kind == 0 and length == 0:
            continue
        if kind == 1:
            out.append(data)
        elif kind == 2:
            pending = data
        elif kind == 3:
            pending += data
        elif kind == 4:
            out.append(pending + data)
            pending = b""
    return out


def history(run_dir: Path) -> list[dict]:
    """Every ``run.log`` row of an offline run folder, as ``{key: value, "_step": step}``."""
    from wandb.proto import wandb_internal_pb2 as pb

    (f,) = Path(run_dir).glob("run-*.wandb")
    rows = []
    for data in records(f):
        rec = pb.Record()
        rec.ParseFromString(data)
        if rec.WhichOneof("record_type") == "history":
            rows.append({(it.key or "/".join(it.nested_key)): json.loads(it.value_json) for it in rec.history.item})
    return rows
