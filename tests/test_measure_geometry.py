"""measure --metrics: geometry descriptors on each layer's cloud, stored in the summary, intervals over replicates."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "extract"))
from tinymodels import WORDS, save_tiny  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import lidscope  # noqa: E402
from lidscope import LIDInputError  # noqa: E402
from lidscope.measure import measure  # noqa: E402
from lidscope.settings import MeasureSettings  # noqa: E402

SMALL = dict(n_points=400, n_neighbors=16, sample_size=3000, n_sequences=None)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("geo")
    rng = np.random.default_rng(0)
    f = root / "texts.txt"
    f.write_text("\n".join(" ".join(rng.choice(WORDS, size=rng.integers(3, 25))) for _ in range(200)) + "\n")
    return save_tiny("bert", root / "bert"), f, root


def test_measure_without_metrics_computes_no_descriptor(setup):
    model, corpus, root = setup
    r = measure(model, corpus, cache_dir=root / "c", **SMALL)
    assert "geometry" not in r.summary["layers"]["-1"]
    assert "geometry" not in r.summary["timings_s"]


def test_measure_stores_the_descriptors_of_its_cloud(setup, tmp_path):
    model, corpus, root = setup
    r = measure(model, corpus, cache_dir=root / "c", metrics="anisotropy,spectrum,persistence", out=tmp_path / "o",
                figures=False, **SMALL)
    g = r.summary["layers"]["-1"]["geometry"]
    ref = lidscope.geometry(r.first.cloud.vectors, ["anisotropy", "spectrum", "persistence"], random_state=SMALL.get("seed", 42))
    assert g["values"]["anisotropy"] == ref.values["anisotropy"]
    assert g["values"]["spectrum"] == pytest.approx(ref.values["spectrum"])
    assert len(g["persistence_diagrams"]["h1"]) == ref.values["persistence"]["n_h1_features"]
    stored = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert stored["layers"]["-1"]["geometry"]["values"]["anisotropy"] == g["values"]["anisotropy"]
    assert r.settings.metrics == ("anisotropy", "spectrum", "persistence")


def test_measure_gives_descriptor_intervals_over_replicates(setup):
    model, corpus, root = setup
    r = measure(model, corpus, cache_dir=root / "c", metrics=["anisotropy", "gride"], n_replicates=3,
                **{**SMALL, "n_sequences": 120})
    g = r.summary["layers"]["-1"]["geometry"]
    iv = g["intervals"]["anisotropy"]["mean_cosine"]
    assert iv["n"] == 3 and iv["low"] <= iv["estimate"] <= iv["high"]
    assert len(g["intervals"]["gride"]["dimension"]) == len(g["values"]["gride"]["dimension"])


def test_metrics_are_checked_before_anything_loads():
    with pytest.raises(LIDInputError, match="unknown metric"):
        MeasureSettings(metrics="lid,betti")
    with pytest.raises(LIDInputError, match="two clouds"):
        MeasureSettings(metrics="overlap")
    assert MeasureSettings(metrics="lid").metrics == ()
    assert MeasureSettings().settings_id == MeasureSettings(metrics=()).settings_id  # stored ids stay valid
    assert "overlap" not in MeasureSettings(metrics="all").metrics
