"""What would stop a run stops it before any work (issue 26, section 2): each case exits 2 with an
``error:`` line, and the model is never loaded (loading it is replaced by a failure the test would see)."""

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lidscope.cli import app, register_commands

sys.path.insert(0, str(Path(__file__).parents[1] / "extract"))
from tinymodels import WORDS, save_tiny  # noqa: E402

register_commands()
runner = CliRunner()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("checks")
    model = save_tiny("bert", root / "bert")
    texts = root / "t.txt"
    texts.write_text("\n".join(" ".join(WORDS[i:i + 6]) for i in range(60)))
    return model, texts


@pytest.fixture
def no_model_load(monkeypatch):
    """Any model load (run or dry-run timing) fails loudly: a refusal must come before it."""
    import lidscope.cli._dryrun as dr
    import lidscope.detect.pipeline as dp
    import lidscope.extract.models as em
    import lidscope.measure as ms

    def boom(*a, **k):
        raise AssertionError("a model was loaded before the check")

    monkeypatch.setattr(ms, "_resolve_model", boom)
    monkeypatch.setattr(dr, "_forward_rate", boom)
    monkeypatch.setattr(dp, "load_detect_model", boom)
    monkeypatch.setattr(em, "load_model", boom)


def _error(res, *words):
    assert res.exit_code == 2, res.output
    assert "error:" in res.output and "Traceback" not in res.output and res.exception is None or \
        isinstance(res.exception, SystemExit), res.output
    for w in words:
        assert w in res.output, res.output


@pytest.mark.parametrize("command", ["measure", "measure-dry", "compare", "estimate", "sweep", "detect"])
def test_out_that_is_a_file_is_refused_before_any_work(tiny, tmp_path, no_model_load, command):
    model, texts = tiny
    afile = tmp_path / "afile"
    afile.write_text("x")
    args = {
        "measure": ["measure", "--model", str(model), "--data", str(texts), "--out", str(afile)],
        "measure-dry": ["measure", "--model", str(model), "--data", str(texts), "--out", str(afile), "--dry-run"],
        "compare": ["compare", str(model), "--data", str(texts), "--out", str(afile)],
        "estimate": ["estimate", "--out", str(afile)],
        "sweep": ["sweep", f"{model}@0", "--data", str(texts), "--out", str(afile)],
        "detect": ["detect", str(model), "-c", str(texts), "-r", str(texts), "--out", str(afile)],
    }[command]
    _error(runner.invoke(app, args), "is a file, not a folder")
    assert afile.read_text() == "x"


def test_out_under_a_file_is_refused(tiny, tmp_path, no_model_load):
    """A parent that is a file (the way to make a path unwritable that also holds for root)."""
    model, texts = tiny
    (tmp_path / "afile").write_text("x")
    res = runner.invoke(app, ["measure", "--model", str(model), "--data", str(texts),
                              "--out", str(tmp_path / "afile" / "sub" / "run")])
    _error(res, "a parent of")


def test_unwritable_out_is_refused(tiny, tmp_path, monkeypatch, no_model_load):
    """Not writable: creating a file in the folder fails (simulated at the one call that probes it,
    since root ignores permission bits); the message carries the system's reason."""
    import tempfile

    model, texts = tiny

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    res = runner.invoke(app, ["measure", "--model", str(model), "--data", str(texts), "--out", str(tmp_path / "o")])
    _error(res, "cannot create files in", "Permission denied")


def test_report_out_that_is_a_folder_is_refused(tmp_path):
    res = runner.invoke(app, ["report", str(tmp_path), "--out", str(tmp_path)])
    _error(res, "is a folder")


def test_dry_run_refuses_a_layer_the_model_lacks(tiny, no_model_load):
    model, texts = tiny
    res = runner.invoke(app, ["measure", "--model", str(model), "--data", str(texts), "--layer", "99", "--dry-run",
                              "-M", "30", "-N", "100", "-L", "8"])
    _error(res, "layer 99 does not exist", "hidden states")


def test_dry_run_refuses_too_few_tokens_for_l_plus_one_points(tiny, tmp_path, no_model_load):
    model, _ = tiny
    two = tmp_path / "two.txt"
    two.write_text("hello there\nhow are you\n")
    res = runner.invoke(app, ["measure", "--model", str(model), "--data", str(two), "--dry-run", "-L", "128"])
    _error(res, "need at least 129 points")


def test_run_refuses_too_few_tokens_before_the_forward_pass(tiny, tmp_path, monkeypatch):
    import lidscope.extract.tokens as tk

    def boom(*a, **k):
        raise AssertionError("forward pass ran")

    monkeypatch.setattr(tk, "_forward_layers", boom)
    model, _ = tiny
    two = tmp_path / "two.txt"
    two.write_text("hello there\nhow are you\n")
    res = runner.invoke(app, ["measure", "--model", str(model), "--data", str(two), "-L", "128", "--no-cache",
                              "-q", "--out", str(tmp_path / "o")])
    _error(res, "need at least 129 points")


@pytest.mark.parametrize("missing", ["everything", "config.json", "weights", "tokenizer"])
def test_model_folder_without_a_model_names_what_is_missing(tiny, tmp_path, missing):
    import shutil

    model, texts = tiny
    folder = tmp_path / "m"
    folder.mkdir()
    if missing != "everything":
        shutil.copytree(model, folder, dirs_exist_ok=True)
        drop = {"config.json": ["config.json"], "weights": [p.name for p in folder.glob("*.safetensors")],
                "tokenizer": [p.name for p in folder.iterdir() if p.name not in ("config.json",)
                              and p.suffix != ".safetensors"]}[missing]
        for name in drop:
            (folder / name).unlink()
    want = {"everything": "no config.json; no model weights", "config.json": "no config.json",
            "weights": "no model weights", "tokenizer": "no tokenizer files"}[missing]
    for extra in ([], ["--dry-run"]):
        res = runner.invoke(app, ["measure", "--model", str(folder), "--data", str(texts), "-q", "--no-cache",
                                  "--out", str(tmp_path / "o")] + extra)
        _error(res, want, "not a complete model folder")


def test_cache_clear_of_an_unknown_part_lists_the_parts(tmp_path):
    (tmp_path / "embeddings" / "k").mkdir(parents=True)
    res = runner.invoke(app, ["cache", "--root", str(tmp_path), "--clear", "embedings"])
    _error(res, "'embedings'", "embeddings, models")
    assert (tmp_path / "embeddings" / "k").is_dir()  # nothing cleared


def test_detect_dry_run_checks_and_plans(tiny, tmp_path):
    model, texts = tiny
    res = runner.invoke(app, ["detect", str(model), "-c", f"a={texts}", "-r", str(texts), "--dry-run",
                              "--out", str(tmp_path / "d"), "-M", "20", "--threads", "1"])
    assert res.exit_code == 0, res.output
    assert "dry run: lidscope detect" in res.output and "estimated time" in res.output
    assert not (tmp_path / "d").exists()
    bad = runner.invoke(app, ["detect", str(model), "-c", str(texts), "-r", str(texts), "--layer", "99", "--dry-run"])
    _error(bad, "layer 99 does not exist")


def test_parquet_columns_used_are_reported(tmp_path):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    pq.write_table(pa.table({"x": rng.normal(size=200), "label": ["a"] * 200, "y": rng.normal(size=200),
                             "z": rng.normal(size=200)}), tmp_path / "p.parquet")
    res = runner.invoke(app, ["estimate", str(tmp_path / "p.parquet"), "-L", "10", "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "numeric columns x, y, z" in res.output and "left out (not numeric): label" in res.output
