"""Raw per-run results of the benchmarks, kept in the repository as small JSON-lines files.

One file per study part under ``benchmarks/data/<study>/<part>.jsonl``: the first line is
``{"meta": {"command": ..., "commit": ..., "date": ..., "load": ...}}`` (how the rows were made), then one
JSON object per row (one run, trial, replicate or timing). Strict JSON: NaN and infinities are written
as ``null``. ``benchmarks/rescore.py`` recomputes the numbers in docs/ from these files.

A benchmark script writes its rows with::

    from rawdata import write_rows              # benchmarks/ is sys.path[0] for `python benchmarks/x.py`
    write_rows("calibration/nochange", rows)    # -> benchmarks/data/calibration/nochange.jsonl

and reads them back with ``read_rows``.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import shlex
import subprocess
import sys
from pathlib import Path

#: Where the raw data lives: benchmarks/data/ of this checkout.
DATA_DIR = Path(__file__).resolve().parent / "data"
META_KEYS = ("command", "commit", "date", "load")


def _clean(value):
    """The value with non-finite floats replaced by None (strict JSON), numpy scalars as Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy scalar or array
        return _clean(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _commit(root: Path) -> str:
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+local changes" if dirty else "")


def run_meta(command: str | None = None, **extra) -> dict:
    """The meta record of a run made now: the command (default: this process's argv), commit, date, load."""
    if command is None:
        command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    meta = {"command": command, "commit": _commit(Path(__file__).resolve().parent),
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "load": load}
    meta.update(extra)
    return meta


def path_of(name: str | os.PathLike, data_dir: Path | None = None) -> Path:
    """``"study/part"`` -> ``benchmarks/data/study/part.jsonl`` (a path with a suffix is kept as given)."""
    p = Path(name)
    if not p.suffix:
        p = p.with_suffix(".jsonl")
    return p if p.is_absolute() else (data_dir or DATA_DIR) / p


def write_rows(name: str | os.PathLike, rows, meta: dict | None = None, data_dir: Path | None = None,
               **meta_extra) -> Path:
    """Write ``rows`` (an iterable of dicts) under ``name`` with a meta first line; returns the path.

    ``meta`` defaults to :func:`run_meta` of this process; ``meta_extra`` adds fields to it (e.g. the
    threads or the sizes of the run).
    """
    meta = dict(meta) if meta is not None else run_meta()
    meta.update(meta_extra)
    missing = [k for k in META_KEYS if k not in meta]
    if missing:
        raise ValueError(f"meta lacks {missing}: every raw-data file says how it was made")
    path = path_of(name, data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"meta": _clean(meta)}, allow_nan=False)]
    for row in rows:
        if not isinstance(row, dict):
            raise TypeError(f"a row is a dict, got {type(row).__name__}")
        lines.append(json.dumps(_clean(row), allow_nan=False))
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def _refuse_constant(name: str):
    raise ValueError(f"non-standard JSON constant {name} (write null)")


def read_rows(name: str | os.PathLike, data_dir: Path | None = None) -> tuple[dict, list[dict]]:
    """``(meta, rows)`` of a raw-data file; ValueError naming the file and line if it is malformed."""
    path = path_of(name, data_dir)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: raw data missing")
    meta, rows = None, []
    with path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line, parse_constant=_refuse_constant)
            except ValueError as exc:
                raise ValueError(f"{path}:{i}: not strict JSON ({exc})") from None
            if not isinstance(obj, dict):
                raise ValueError(f"{path}:{i}: a row must be a JSON object")
            if meta is None:
                if set(obj) != {"meta"} or not isinstance(obj["meta"], dict):
                    raise ValueError(f'{path}:1: the first line must be {{"meta": {{...}}}}')
                meta = obj["meta"]
                missing = [k for k in META_KEYS if k not in meta]
                if missing:
                    raise ValueError(f"{path}:1: meta lacks {missing}")
            else:
                rows.append(obj)
    if meta is None:
        raise ValueError(f"{path}: empty")
    return meta, rows
