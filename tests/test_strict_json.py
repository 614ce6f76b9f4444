"""Every JSON file lidscope writes is strict JSON: no bare NaN / Infinity (null instead)."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parent / "extract"))
from tinymodels import WORDS, save_tiny  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from lidscope.measure import compare, measure  # noqa: E402
from lidscope.jsonio import read_json  # noqa: E402
from lidscope.outputs import write_json  # noqa: E402
from lidscope.stats import Interval  # noqa: E402


def strict_loads(text: str):
    """json.loads that refuses NaN, Infinity and -Infinity, as JavaScript's JSON.parse does."""
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


def _every_json(folder: Path):
    files = sorted(folder.rglob("*.json"))
    assert files
    for f in files:
        yield f, strict_loads(f.read_text(encoding="utf-8"))
    for f in sorted(folder.rglob("*.parquet")):  # the JSON lidscope stores in Parquet schemas
        meta = pq.read_schema(f).metadata or {}
        if b"lidscope" in meta:
            yield f, strict_loads(meta[b"lidscope"].decode())


def test_non_finite_numbers_are_written_as_null(tmp_path):
    obj = {"a": float("nan"), "b": [np.float32("inf"), -math.inf, 1.5], "c": np.array([np.nan, 2.0]),
           "d": (np.float64("nan"),), "e": {"f": np.int64(3)}}
    got = strict_loads(write_json(tmp_path / "x.json", obj).read_text())
    assert got == {"a": None, "b": [None, None, 1.5], "c": [None, 2.0], "d": [None], "e": {"f": 3}}


def test_an_interval_read_back_from_null_is_undefined(tmp_path):
    iv = Interval(9.0, float("nan"), float("nan"), float("nan"), method="one replicate", n=1)
    back = Interval.from_dict(read_json(write_json(tmp_path / "i.json", iv.to_dict())))
    assert back.estimate == 9.0 and math.isnan(back.low) and math.isnan(back.se) and not back.known


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return save_tiny("bert", tmp_path_factory.mktemp("sj-models") / "bert")


def _texts(n=60):
    rng = np.random.default_rng(0)
    return [" ".join(rng.choice(WORDS, size=rng.integers(3, 15))) for _ in range(n)]


def test_measure_and_compare_folders_parse_strictly(bert, tmp_path):
    small = dict(n_points=200, n_neighbors=10, sample_size=1000, n_sequences=None, figures=False)
    r = measure(bert, _texts(), out=tmp_path / "m", use_cache=False, **small)  # one replicate: no interval
    assert math.isnan(r.interval.low)
    files = dict(_every_json(tmp_path / "m"))
    assert files[tmp_path / "m" / "summary.json"]["interval"]["low"] is None
    compare([bert, bert], [_texts()], model_names=["a", "b"], out=tmp_path / "c", use_cache=False,
            n_replicates=1, **small)
    files = dict(_every_json(tmp_path / "c"))
    rows = files[tmp_path / "c" / "compare.json"]["rows"]
    assert rows[0]["mean_low"] is None  # one replicate: null, not NaN


def test_reading_a_result_back_gives_nan_for_undefined_numbers_only(tmp_path):
    from lidscope.jsonio import read_result_json

    f = write_json(tmp_path / "s.json", {"interval": {"low": float("nan"), "method": "one replicate"},
                                         "mean_low": float("inf"), "cache_dir": None, "quantiles": {"0.25": float("nan")}})
    back = read_result_json(f)
    assert math.isnan(back["interval"]["low"]) and math.isnan(back["mean_low"]) and math.isnan(back["quantiles"]["0.25"])
    assert back["cache_dir"] is None and back["interval"]["method"] == "one replicate"
