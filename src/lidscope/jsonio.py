"""Strict JSON text: the one encoder and reader of lidscope's result files (base floor, no writing).

RFC 8259 has no NaN or Infinity, so `dumps` writes ``null`` for every number that is not finite and
`read_result_json` reads ``null`` back as NaN in the fields that hold numbers (`NUMBER_KEYS`). The
writers (`lidscope.outputs.write_json`) put this text into files atomically.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


def to_jsonable(o: Any) -> Any:
    """``json.dumps`` fallback: NumPy scalars and arrays, paths, sets and tuples; else ``str(o)``."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, os.PathLike):
        return os.fspath(o)
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    return str(o)


def strict(o: Any) -> Any:
    """``o`` with every float that is not finite (NaN, +-inf; Python or NumPy) replaced by ``None``,
    so that it serialises as strict JSON (RFC 8259 has no NaN or Infinity; JavaScript's
    ``JSON.parse``, Go and Rust reject them). In lidscope's files ``null`` for a number means "not
    defined": no interval with one replicate, a statistic of too few values, a ratio over zero."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, np.floating):
        v = float(o)
        return v if math.isfinite(v) else None
    if isinstance(o, np.ndarray):
        return strict(o.tolist())
    if isinstance(o, Mapping):
        return {k: strict(v) for k, v in o.items()}
    if isinstance(o, (list, tuple, set, frozenset)):
        return [strict(v) for v in o]
    return o


def dumps(obj: Any, *, indent: int | None = 2) -> str:
    """Strict JSON text of ``obj`` (`strict`: non-finite numbers become ``null``)."""
    return json.dumps(strict(obj), indent=indent, default=lambda o: strict(to_jsonable(o)), allow_nan=False)


def read_json(path: str | os.PathLike[str]) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


#: Keys whose value is a number in lidscope's result files: `read_result_json` reads their ``null``
#: back as NaN (numbers that are not defined), so code computing on them sees floats.
NUMBER_KEYS = re.compile(
    r"^(\d+(\.\d+)?|estimate|se|low|high|df|level|mean|median|std|global_estimate|values|p_value|auc|"
    r".*_(low|high|se|estimate|mean|median|std|change|p_value|ratio)|change|relative_change|"
    r"smallest_detectable_change|mean_replicate_0|detectable_relative)$")


def nan_for_null(o: Any, key: str = "") -> Any:
    """Inverse of `strict` for number fields (`NUMBER_KEYS`): ``null`` -> NaN, recursively."""
    if isinstance(o, Mapping):
        return {k: nan_for_null(v, str(k)) for k, v in o.items()}
    if isinstance(o, list):
        return [nan_for_null(v, key) for v in o]
    if o is None and NUMBER_KEYS.match(key):
        return float("nan")
    return o


def read_result_json(path: str | os.PathLike[str]) -> Any:
    """A result file (summary.json, compare.json, detect.json) with undefined numbers as NaN."""
    return nan_for_null(read_json(path))
