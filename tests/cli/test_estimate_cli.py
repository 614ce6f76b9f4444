"""`lidscope estimate` reads every supported format, writes its results, and fails cleanly."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lidscope import local_dimensions
from lidscope.cli import _register, app
from lidscope.synthetic import curved_manifold

_register()
runner = CliRunner()
X = curved_manifold(400, 3, 16, seed=0)


def _write(tmp_path, fmt):
    path = tmp_path / f"points.{fmt}"
    if fmt == "npy":
        np.save(path, X)
    elif fmt == "npz":
        np.savez(path, emb=X)
    elif fmt == "safetensors":
        from safetensors.numpy import save_file

        save_file({"emb": X}, str(path))
    else:
        pq.write_table(pa.table({"id": np.arange(len(X)), "emb": list(X)}), path)
    return path


@pytest.mark.parametrize("fmt", ["npy", "npz", "safetensors", "parquet"])
def test_estimate_reads_each_format_and_writes_results(tmp_path, fmt):
    out = tmp_path / "out"
    res = runner.invoke(app, ["estimate", str(_write(tmp_path, fmt)), "-L", "32", "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mean"] == pytest.approx(local_dimensions(X, n_neighbors=32).mean)
    assert summary["params"]["n_neighbors"] == 32 and summary["environment"]["packages"]["numpy"]
    table = pq.read_table(out / "estimates.parquet")
    assert table.num_rows == 400 and (out / "histogram.png").stat().st_size > 0


def test_estimate_names_the_problem_for_bad_files(tmp_path):
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not a numpy file")
    res = runner.invoke(app, ["estimate", str(bad), "--no-progress"])
    assert res.exit_code == 2 and "Could not read" in res.output
    res = runner.invoke(app, ["estimate", str(tmp_path / "missing.npy"), "--no-progress"])
    assert res.exit_code == 2 and "No such file" in res.output
    np.savez(tmp_path / "two.npz", a=X, b=X)
    res = runner.invoke(app, ["estimate", str(tmp_path / "two.npz"), "--no-progress"])
    assert res.exit_code == 2 and "--key" in res.output
    np.save(tmp_path / "small.npy", X[:50])
    res = runner.invoke(app, ["estimate", str(tmp_path / "small.npy"), "--no-progress"])
    assert res.exit_code == 2 and "Only 50 distinct points" in res.output


def test_estimate_refuses_pickled_object_arrays(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    res = runner.invoke(app, ["estimate", str(tmp_path / "obj.npy"), "--no-progress"])
    assert res.exit_code == 2 and "Could not read" in res.output
