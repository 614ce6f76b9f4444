"""`lidscope estimate` reads every supported format, writes its results, and fails cleanly."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lidscope import local_dimensions
from lidscope.cli import app, register_commands
from lidscope.synthetic import curved_manifold

register_commands()
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
def test_estimate_reads_each_format_and_writes_results(tmp_path, fmt, saved_figures):
    out = tmp_path / "out"
    res = runner.invoke(app, ["estimate", str(_write(tmp_path, fmt)), "-L", "32", "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mean"] == pytest.approx(local_dimensions(X, n_neighbors=32).mean)
    assert summary["params"]["n_neighbors"] == 32 and summary["environment"]["packages"]["numpy"]
    table = pq.read_table(out / "estimates.parquet")
    assert table.num_rows == 400
    hist = saved_figures[0].axes[0]  # histogram.png counts every point; the dashed line is the mean
    assert sum(p.get_height() for p in hist.patches) == 400
    assert hist.lines[0].get_xdata()[0] == pytest.approx(summary["mean"])


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


def test_twonn_fraction_of_the_paper_is_offered_and_recorded(tmp_path):
    out = tmp_path / "out"
    args = ["estimate", str(_write(tmp_path, "npy")), "-L", "32", "--no-progress", "--no-figure"]
    res = runner.invoke(app, args + ["--out", str(out), "--twonn-fraction", "skdim-0.3.4"])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["params"]["empirical_fraction"] == "skdim-0.3.4"
    ref = local_dimensions(X, n_neighbors=32, empirical_fraction="skdim-0.3.4")
    assert summary["mean"] == pytest.approx(ref.mean, rel=1e-12)
    assert summary["mean"] < local_dimensions(X, n_neighbors=32).mean
    bad = runner.invoke(app, args + ["--out", str(tmp_path / "bad"), "--twonn-fraction", "paper"])
    assert bad.exit_code == 2 and "skdim-0.3.4" in bad.output


def test_measure_settings_carry_the_twonn_fraction():
    from lidscope import LIDInputError
    from lidscope.measure import settings_of
    from lidscope.settings import MeasureSettings

    assert settings_of({"twonn_fraction": "skdim-0.3.4"}).twonn_fraction == "skdim-0.3.4"
    assert MeasureSettings().settings_id == MeasureSettings(twonn_fraction="skdim-0.5").settings_id
    assert MeasureSettings().settings_id != MeasureSettings(twonn_fraction="skdim-0.3.4").settings_id
    with pytest.raises(LIDInputError, match="twonn_fraction"):
        MeasureSettings(twonn_fraction="paper")
