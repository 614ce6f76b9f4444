"""The report shows the geometry descriptors: scale profile, persistence diagram, table, series over steps."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from report_runs import BASE, fake_run  # noqa: E402

import lidscope  # noqa: E402
from lidscope.report import build_report  # noqa: E402
from lidscope.report.geometry_sections import descriptor_table  # noqa: E402
from lidscope.synthetic import curved_manifold  # noqa: E402
from lidscope.training.store import ResultsStore  # noqa: E402


def _geometry(seed: int = 0) -> dict:
    X = curved_manifold(300, 3, 8, seed=seed)
    r = lidscope.geometry(X, "all", scale_neighbors=(8, 16, 32), gride_max_rank=32, ph_n_points=120)
    g = r.summary()
    g["persistence_diagrams"] = {"h0": r.diagrams[0].tolist(), "h1": r.diagrams[1].tolist()}
    return g


def test_run_report_draws_the_scale_profile_diagram_and_table(tmp_path):
    run = fake_run(tmp_path / "a", BASE)
    g = _geometry()
    s = json.loads((run / "summary.json").read_text())
    s["layers"] = {"-1": {"geometry": g}}
    (run / "summary.json").write_text(json.dumps(s))
    page = build_report([run])
    prof, _ = page.figures["run0-scale-profile"]
    assert prof[0]["y"] == g["values"]["scale_profile"]["mean"] and prof[1]["y"] == g["values"]["gride"]["dimension"]
    diag, _ = page.figures["run0-persistence"]
    assert len(diag[1]["x"]) == g["values"]["persistence"]["n_h1_features"]
    html = page.render()
    assert "Geometry beyond the mean LID" in html and "mean_cosine" in html


def test_descriptor_table_has_one_row_per_value_and_scale():
    g = {"values": {"gride": {"n1": [1, 2], "n2": [2, 4], "dimension": [3.0, 3.5]}, "anisotropy": {"mean_cosine": 0.25}},
         "intervals": {"anisotropy": {"mean_cosine": {"low": 0.2, "high": 0.3}}}}
    t = descriptor_table(g)
    assert list(t["value"]) == ["dimension at n2 = 2", "dimension at n2 = 4", "mean_cosine"]
    assert t["interval"].iloc[-1] == "0.2000 to 0.3000" and t["interval"].iloc[0] == "-"


def test_sweep_report_draws_the_descriptor_series(tmp_path):
    store = ResultsStore(tmp_path / "store")
    for i in range(3):
        run = fake_run(tmp_path / f"ck{i}", BASE, seed=i)
        g = {k: v for k, v in _geometry(i).items() if k != "persistence_diagrams"}
        store.add_rows(f"j{i}", [{"job_id": f"j{i}", "source": "sweep", "run": "ft", "seed": 0, "step": 10 * i,
                                  "data": "d", "data_name": "d", "layer": "-1", "mean": 9.0, "median": 9.0, "std": 1.0,
                                  "settings_id": "s", "tokens_file": str(run / "tokens.parquet"),
                                  "geometry": json.dumps(g)}])
    page = build_report([tmp_path / "store"])
    data, _ = page.figures["sweep-geometry-0"]
    trace = next(t for t in data if t["name"] == "anisotropy/mean_cosine")
    expected = [_geometry(i)["values"]["anisotropy"]["mean_cosine"] for i in range(3)]
    assert list(trace["x"]) == [0, 10, 20]
    np.testing.assert_allclose(trace["customdata"], expected)
    assert trace["y"][0] == pytest.approx(1.0)


def test_grokking_report_draws_the_embedding_persistence_series(tmp_path):
    from lidscope.experiments.grokking.train import quick_config, run

    rows = run(quick_config(steps=20, metrics="persistence,anisotropy"), tmp_path / "g", figure=False)
    page = build_report([tmp_path / "g"])
    data, _ = page.figures["grokking-geometry"]
    trace = next(t for t in data if t["name"] == "embedding: persistence_h1_total_persistence")
    np.testing.assert_allclose(trace["customdata"], [r["geo_embedding_persistence_h1_total_persistence"] for r in rows])
