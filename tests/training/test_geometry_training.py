"""Geometry descriptors in training: LIDMonitor logs and stores them; a sweep stores them per checkpoint."""

from __future__ import annotations

import json

import numpy as np
from fakeruns import SMALL
from tinymodels import WORDS, make_model, make_tokenizer

from lidscope.integrations import LIDMonitor
from lidscope.settings import MeasureSettings
from lidscope.training.store import ResultsStore, geometry_log_entries


def _texts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(4, 14)))) for _ in range(n)]


def test_monitor_logs_and_stores_the_descriptors(tmp_path):
    tok = make_tokenizer("bert")
    model = make_model("bert", len(tok))
    settings = MeasureSettings(**SMALL, metrics="anisotropy,scale_profile")
    mon = LIDMonitor({"a": _texts(150, 1)}, tok, every=1, settings=settings, store=tmp_path / "store", run="g")
    logs = mon.measure(model, 1)
    row = ResultsStore(tmp_path / "store").read().iloc[0]
    g = json.loads(row["geometry"])
    assert logs["geometry/a/anisotropy/mean_cosine"] == g["values"]["anisotropy"]["mean_cosine"]
    L = g["values"]["scale_profile"]["n_neighbors"][0]
    assert logs[f"geometry/a/scale_profile/mean_L{L}"] == g["values"]["scale_profile"]["mean"][0]


def test_geometry_log_entries_name_every_scale():
    g = {"values": {"gride": {"n1": [1, 2], "n2": [2, 4], "dimension": [3.0, 3.5]}, "anisotropy": {"mean_cosine": 0.2}}}
    out = geometry_log_entries(json.dumps(g), "x")
    assert out == {"geometry/x/gride/dimension_n2=2": 3.0, "geometry/x/gride/dimension_n2=4": 3.5,
                   "geometry/x/anisotropy/mean_cosine": 0.2}
    assert geometry_log_entries(None, "x") == {}
