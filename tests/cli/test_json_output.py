"""`--json` on measure, compare and estimate: the summary as strict JSON alone on stdout (progress
bars, tables and notes on stderr), so `lidscope measure --json | jq .mean` works."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from lidscope.cli import _register, app

sys.path.insert(0, str(Path(__file__).parents[1] / "extract"))
from tinymodels import WORDS, save_tiny  # noqa: E402

_register()
runner = CliRunner()


def strict_loads(text: str):
    """json.loads that refuses NaN and Infinity (as JSON.parse and jq do)."""
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("json-out")
    rng = random.Random(0)
    corpus = root / "texts.txt"
    corpus.write_text("\n".join(" ".join(rng.choice(WORDS) for _ in range(14)) for _ in range(60)) + "\n")
    return {"bert": save_tiny("bert", root / "bert"), "gpt2": save_tiny("gpt2", root / "gpt2"), "corpus": corpus}


def test_measure_json_is_the_summary_alone_on_stdout_with_progress_on_stderr(inputs, tmp_path):
    out = tmp_path / "m"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "120"}
    proc = subprocess.run(
        [sys.executable, "-c", "from lidscope.cli import main; main()", "measure", "--model", str(inputs["bert"]),
         "--data", str(inputs["corpus"]), "-M", "0", "-N", "200", "-L", "10", "--sample-size", "400",
         "--no-figures", "--out", str(out), "--cache-dir", str(tmp_path / "c"), "--json"],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    got = strict_loads(proc.stdout)
    assert got == strict_loads((out / "summary.json").read_text())
    assert all(math.isfinite(ls["mean"]) for ls in got["layers"].values()) and got["layers"]
    assert "load model" in proc.stderr  # the stage bars went to stderr
    assert "note:" in proc.stderr and "mean" in proc.stderr  # the quick-defaults note and the table


def test_measure_json_refusal_is_an_error_on_stderr_and_nothing_on_stdout(tmp_path):
    res = runner.invoke(app, ["measure", "--model", str(tmp_path / "none"), "--json", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert res.stdout == "" and "error:" in res.stderr


def test_compare_json_holds_the_rows_and_the_paired_comparison(inputs, tmp_path):
    res = runner.invoke(app, ["compare", str(inputs["bert"]), str(inputs["gpt2"]), "--name", "enc", "--name", "dec",
                              "-d", str(inputs["corpus"]), "-M", "0", "-N", "150", "-L", "8", "-R", "2", "-q",
                              "-o", str(tmp_path / "cmp"), "--cache-dir", str(tmp_path / "c"), "--json"])
    assert res.exit_code == 0, res.output
    got = strict_loads(res.stdout)
    assert [r["model"] for r in got["rows"]] == ["enc", "dec"]
    saved = strict_loads((tmp_path / "cmp" / "compare.json").read_text())
    assert got["rows"] == saved["rows"] and got["comparisons"] == saved["comparisons"]
    assert "dec" in next(iter(got["comparisons"].values()))
    assert "done" in res.stderr and "done" not in res.stdout


def test_estimate_json_is_the_written_summary(tmp_path):
    np.save(tmp_path / "p.npy", np.random.default_rng(0).normal(size=(300, 3)))
    res = runner.invoke(app, ["estimate", str(tmp_path / "p.npy"), "-L", "16", "--out", str(tmp_path / "e"),
                              "--no-figure", "--json"])
    assert res.exit_code == 0, res.output
    got = strict_loads(res.stdout)
    assert got == strict_loads((tmp_path / "e" / "summary.json").read_text())
    assert got["n_points"] == 300 and 2.0 < got["mean"] < 4.0


def test_estimate_json_writes_null_for_an_undefined_number(tmp_path, monkeypatch):
    """Strict JSON even when a statistic is NaN (what jq and JSON.parse refuse as a bare NaN)."""
    import lidscope.cli.estimate as est

    original = est.print_json
    monkeypatch.setattr(est, "print_json", lambda obj: original({**obj, "global_estimate": float("nan")}))
    np.save(tmp_path / "p.npy", np.random.default_rng(1).normal(size=(100, 3)))
    res = runner.invoke(app, ["estimate", str(tmp_path / "p.npy"), "-L", "10", "--out", str(tmp_path / "e"),
                              "--no-figure", "--json"])
    assert res.exit_code == 0, res.output
    assert strict_loads(res.stdout)["global_estimate"] is None
