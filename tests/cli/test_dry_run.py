"""`--dry-run` checks everything, prints a plan with an estimated time, and computes or writes nothing."""

import sys
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from lidscope.cli import _register, app
from lidscope.cli.measure import _resolve_defaults

sys.path.insert(0, str(Path(__file__).parents[1] / "extract"))
from tinymodels import WORDS, save_tiny  # noqa: E402

_register()
runner = CliRunner()


def test_estimate_dry_run_plans_and_writes_nothing(tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(500, 6)))
    res = runner.invoke(app, ["estimate", str(tmp_path / "x.npy"), "-L", "16", "--dry-run", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert "500 rows x 6 dimensions" in res.output and "estimated time" in res.output
    assert not (tmp_path / "o").exists()


def test_estimate_dry_run_still_rejects_bad_points(tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(10, 6)))
    res = runner.invoke(app, ["estimate", str(tmp_path / "x.npy"), "-L", "16", "--dry-run"])
    assert res.exit_code == 2 and "error" in res.output


def test_grokking_dry_run_catches_what_the_run_would_fail_on(tmp_path):
    res = runner.invoke(app, ["grokking", "--quick", "--dry-run", "--threads", "1", "--out", str(tmp_path / "g")])
    assert res.exit_code == 0, res.output
    assert "30 steps" in res.output and "estimated time" in res.output
    assert not (tmp_path / "g").exists()
    res = runner.invoke(app, ["grokking", "--quick", "--lid-points", "100000", "--dry-run", "--threads", "1"])
    assert res.exit_code == 2 and "lid_points" in res.output


def test_measure_dry_run_reads_model_and_texts(tmp_path):
    model = save_tiny("bert", tmp_path / "bert")
    texts = tmp_path / "t.txt"
    texts.write_text("\n".join(" ".join(WORDS[i:i + 6]) for i in range(40)))
    res = runner.invoke(app, ["measure", "--model", str(model), "--data", str(texts), "-M", "30", "-N", "100",
                              "-L", "16", "--dry-run", "--threads", "1", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert "30 sequences sampled" in res.output and "estimated time" in res.output
    assert not (tmp_path / "o").exists()
    res = runner.invoke(app, ["measure", "--model", str(tmp_path / "nowhere"), "--dry-run"])
    assert res.exit_code == 2 and "error" in res.output


def test_note_does_not_echo_a_value_the_user_typed():
    notes = _resolve_defaults(False, None, -5)["_notes"]
    assert notes and notes[0].startswith("quick defaults M = 4,000 (") and "N = -5" not in notes[0]
