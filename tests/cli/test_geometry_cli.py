"""`lidscope geometry` writes every descriptor of a file's cloud, says what it could not compute, fails cleanly."""

import json

import numpy as np
from typer.testing import CliRunner

import lidscope
from lidscope.cli import app, register_commands
from lidscope.synthetic import curved_manifold

register_commands()
runner = CliRunner()
X = curved_manifold(300, 3, 16, seed=0)
ARGS = ["--scale-neighbors", "8,16", "--gride-max-rank", "16", "--ph-points", "100"]


def test_geometry_writes_the_descriptors_of_the_python_call(tmp_path):
    np.save(tmp_path / "a.npy", X)
    np.save(tmp_path / "b.npy", X * 2)
    out = tmp_path / "out"
    res = runner.invoke(app, ["geometry", str(tmp_path / "a.npy"), "--other", str(tmp_path / "b.npy"), *ARGS,
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    s = json.loads((out / "summary.json").read_text())
    ref = lidscope.geometry(X, "all", other=X * 2, scale_neighbors=(8, 16), gride_max_rank=16, ph_n_points=100)
    assert s["values"] == json.loads(json.dumps(ref.values))
    assert len(s["persistence_diagrams"]["h1"]) == ref.values["persistence"]["n_h1_features"]
    assert "GRIDE" in res.output and "neighbourhood overlap" in res.output


def test_geometry_json_prints_only_the_summary(tmp_path):
    np.save(tmp_path / "a.npy", X)
    res = runner.invoke(app, ["geometry", str(tmp_path / "a.npy"), "--metrics", "anisotropy", "--json",
                              "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["values"]["anisotropy"]["mean_cosine"] == lidscope.geometry(X, ["anisotropy"]).values[
        "anisotropy"]["mean_cosine"]


def test_geometry_lists_what_it_could_not_compute(tmp_path):
    np.save(tmp_path / "z.npy", np.vstack([np.zeros((1, 3)), np.eye(3)]))
    res = runner.invoke(app, ["geometry", str(tmp_path / "z.npy"), "--metrics", "anisotropy,scale_profile",
                              "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert set(s["unavailable"]) == {"anisotropy", "scale_profile"}
    assert "not computed" in res.output


def test_geometry_refuses_unknown_metrics_and_overlap_without_other(tmp_path):
    np.save(tmp_path / "a.npy", X)
    for metrics in ("lid", "overlap"):
        res = runner.invoke(app, ["geometry", str(tmp_path / "a.npy"), "--metrics", metrics, "--out", str(tmp_path / "o")])
        assert res.exit_code == 2 and "error:" in res.output and "Traceback" not in res.output


def test_geometry_dry_run_writes_nothing(tmp_path):
    np.save(tmp_path / "a.npy", X)
    res = runner.invoke(app, ["geometry", str(tmp_path / "a.npy"), "--dry-run", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "o").exists()
