"""The grokking run writes the geometry descriptors at each evaluation (splits and embedding matrix)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import lidscope
from lidscope.experiments.grokking.train import CHECKPOINT_DIR, GrokConfig, load_checkpoint, quick_config, run


def test_every_evaluation_has_the_descriptors(tmp_path: Path) -> None:
    rows = run(quick_config(steps=20, metrics="anisotropy,persistence,scale_profile"), tmp_path / "g", figure=False)
    assert len(rows) >= 2
    for r in rows:
        for prefix in ("geo_train", "geo_val", "geo_embedding"):
            assert np.isfinite(r[f"{prefix}_anisotropy_mean_cosine"])
            assert np.isfinite(r[f"{prefix}_persistence_h1_total_persistence"])
        assert np.isfinite(r["geo_val_scale_profile_mean_L16"])


def test_embedding_columns_equal_the_descriptors_of_the_saved_model(tmp_path: Path) -> None:
    out = tmp_path / "g"
    rows = run(quick_config(steps=10, eval_every=10, metrics="anisotropy"), out, figure=False)
    _, tensors = load_checkpoint(out)
    E = tensors["model.tok.weight"].double().numpy()
    assert rows[-1]["geo_embedding_anisotropy_mean_cosine"] == pytest.approx(
        lidscope.geometry(E, ["anisotropy"])["anisotropy"]["mean_cosine"])


def test_metrics_are_checked_and_old_runs_resume(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        quick_config(metrics="betti")
    out = tmp_path / "old"
    run(quick_config(steps=10, lid=False), out, figure=False)
    state = out / CHECKPOINT_DIR / "state.json"
    meta = json.loads(state.read_text())
    meta["config"].pop("metrics")  # a run saved before the setting existed
    state.write_text(json.dumps(meta))
    assert GrokConfig.from_json(meta["config"]).metrics == ()
    run(quick_config(steps=20, lid=False), out, figure=False)  # resumes, no "different run" error


def test_cli_grokking_metrics_writes_columns_and_refuses_unknown_names(tmp_path: Path) -> None:
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from lidscope.cli import app, register_commands

    register_commands()
    runner = CliRunner()
    res = runner.invoke(app, ["grokking", "--quick", "--steps", "10", "--metrics", "anisotropy", "--out",
                              str(tmp_path / "g")])
    assert res.exit_code == 0, res.output
    cols = pq.read_table(tmp_path / "g" / "metrics.parquet").column_names
    assert {"geo_train_anisotropy_mean_cosine", "geo_embedding_anisotropy_mean_cosine"} <= set(cols)
    for cmd in ("grokking", "grokking-sweep"):
        res = runner.invoke(app, [cmd, "--quick", "--metrics", "betti", "--out", str(tmp_path / "x")])
        assert res.exit_code == 2 and "unknown metric" in res.output
