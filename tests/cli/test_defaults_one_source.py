"""Every command's shown defaults and every Python signature equal `lidscope.settings`."""

from __future__ import annotations

import inspect
import re

import pytest
from typer.testing import CliRunner

from lidscope import settings as S
from lidscope.cli import app, register_commands

register_commands()
RUNNER = CliRunner()

#: CLI option -> settings field.
OPTIONS = {
    "--n-sequences": "n_sequences", "--n-points": "n_points", "--neighbors": "n_neighbors",
    "--sample-size": "sample_size", "--max-length": "max_length", "--seed": "seed", "--data-seed": "data_seed",
    "--estimator": "estimator", "--discard-fraction": "discard_fraction", "--batch-size": "batch_size",
    "--max-batch-tokens": "max_batch_tokens", "--backend": "backend", "--layer": "layers",
    "--twonn-fraction": "twonn_fraction",
}


def help_defaults(command: str) -> dict[str, str]:
    """``{option: default text}`` as ``lidscope COMMAND --help`` prints them (one option per line)."""
    res = RUNNER.invoke(app, [command, "--help"], env={"COLUMNS": "400", "TERM": "dumb", "NO_COLOR": "1"})
    assert res.exit_code == 0, res.output
    found = {}
    for line in res.output.splitlines():
        m = re.search(r"(--[a-z][a-z-]*)\b.*\[default: ([^\]]+)\]", line)
        if m:
            found[m.group(1)] = m.group(2).strip()
    return found


def shown(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


@pytest.mark.parametrize("command, preset, fields", [
    ("measure", S.QUICK, ("n_neighbors", "sample_size", "max_length", "seed", "data_seed", "estimator",
                          "discard_fraction", "batch_size", "max_batch_tokens", "backend", "layers", "twonn_fraction")),
    ("compare", S.QUICK, ("n_neighbors", "estimator", "discard_fraction", "layers", "twonn_fraction")),
    ("sweep", S.SWEEP, ("n_sequences", "n_points", "n_neighbors", "sample_size", "max_length", "seed", "data_seed",
                        "estimator", "discard_fraction", "layers", "twonn_fraction")),
])
def test_help_shows_the_settings_defaults(command, preset, fields):
    defaults = help_defaults(command)
    by_field = {OPTIONS[o]: v for o, v in defaults.items() if o in OPTIONS}
    assert set(fields) <= set(by_field), f"{command} --help lacks defaults for {set(fields) - set(by_field)}"
    for f in fields:
        assert by_field[f] == shown(getattr(preset, f)), (command, f)


def test_estimate_help_shows_the_settings_defaults():
    d = help_defaults("estimate")
    assert d["--neighbors"] == str(S.N_NEIGHBORS)
    assert d["--discard-fraction"] == str(S.DISCARD_FRACTION)
    assert d["--seed"] == str(S.SEED) and d["--backend"] == S.BACKEND


@pytest.mark.parametrize("command", ["measure", "compare"])
def test_measure_help_names_quick_and_paper_sizes(command):
    res = RUNNER.invoke(app, [command, "--help"], env={"COLUMNS": "400", "NO_COLOR": "1"})
    text = " ".join(res.output.split())
    for preset in (S.QUICK, S.PAPER):
        assert f"{preset.n_sequences:,}" in text and f"{preset.n_points:,}" in text


def test_grokking_help_shows_its_named_l_and_n():
    for command in ("grokking", "grokking-sweep"):
        res = RUNNER.invoke(app, [command, "--help"], env={"COLUMNS": "400", "NO_COLOR": "1"})
        assert f"[{S.GROKKING_N_NEIGHBORS}]" in res.output and f"[{S.GROKKING_N_POINTS}]" in res.output


def test_cli_quick_and_paper_sizes_come_from_the_presets():
    from lidscope.cli.measure import _resolve_defaults

    quick = _resolve_defaults(False, None, None)
    paper = _resolve_defaults(True, None, None)
    assert (quick["n_sequences"], quick["n_points"]) == (S.QUICK.n_sequences, S.QUICK.n_points)
    assert (paper["n_sequences"], paper["n_points"]) == (S.PAPER.n_sequences, S.PAPER.n_points)


def _defaults(fn) -> dict[str, object]:
    return {k: p.default for k, p in inspect.signature(fn).parameters.items() if p.default is not inspect.Parameter.empty}


def test_python_signatures_use_the_one_source():
    from lidscope import LocalMLE, LocalPCA, LocalTwoNN, TwoNN, local_dimensions
    from lidscope.cloud import build_cloud, sample_order
    from lidscope.experiments.grokking.train import GrokConfig
    from lidscope.measure import measure
    from lidscope.neighbors import kneighbors

    m = _defaults(measure)
    for f in ("n_sequences", "n_points", "n_neighbors", "layers", "sample_size", "seed", "data_seed", "max_length",
              "estimator", "discard_fraction", "batch_size", "max_batch_tokens", "backend", "text_column"):
        assert m[f] == getattr(S.PAPER, f), f
    ld = _defaults(local_dimensions)
    assert (ld["n_neighbors"], ld["estimator"], ld["discard_fraction"]) == (S.N_NEIGHBORS, S.ESTIMATOR,
                                                                           S.DISCARD_FRACTION)
    for cls in (LocalTwoNN, LocalMLE, LocalPCA):
        assert _defaults(cls.__init__)["n_neighbors"] == S.N_NEIGHBORS, cls
    assert _defaults(LocalTwoNN.__init__)["discard_fraction"] == S.DISCARD_FRACTION
    assert _defaults(TwoNN.__init__)["discard_fraction"] == S.DISCARD_FRACTION
    assert _defaults(kneighbors)["extra_candidates"] == S.EXTRA_CANDIDATES
    bc = _defaults(build_cloud)
    assert (bc["sample_size"], bc["n_points"], bc["seed"]) == (S.SAMPLE_SIZE, S.PAPER.n_points, S.SEED)
    assert _defaults(sample_order)["sample_size"] == S.SAMPLE_SIZE
    g = GrokConfig()
    assert (g.lid_neighbors, g.lid_points) == (S.GROKKING_N_NEIGHBORS, S.GROKKING_N_POINTS)


def test_training_entry_points_use_their_presets():
    from lidscope.training.monitor import LIDMonitor
    from lidscope.training.sweep import plan_sweep

    assert LIDMonitor(["a text"], None).settings == S.IN_TRAINING
    src = inspect.getsource(plan_sweep)
    assert "MeasureSettings.sweep()" in src


@pytest.mark.parametrize("args, words", [
    (["measure", "--model", "no/such/model", "--discard-fraction", "0"], "discard_fraction > 0"),
    (["measure", "--model", "no/such/model", "--backend", "cuda"], "unknown backend 'cuda'"),
    (["measure", "--model", "no/such/model", "-N", "100", "-L", "128"], "N must exceed L"),
    (["compare", "no/such/model", "--estimator", "knn"], "unknown estimator 'knn'"),
    (["sweep", "no/such/run", "--discard-fraction", "0"], "discard_fraction > 0"),
    (["estimate", "--backend", "cuda"], "unknown backend 'cuda'"),
    (["estimate", "--backend", "torch", "--device", "cuda"], "no CUDA device"),
])
def test_bad_settings_stop_the_cli_with_a_message_before_any_model_is_loaded(args, words):
    pytest.importorskip("torch")
    import torch

    if "--device" in args and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    res = RUNNER.invoke(app, args, env={"COLUMNS": "400", "NO_COLOR": "1", "HF_HUB_OFFLINE": "1"})
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert words in text
    assert "Traceback" not in text and "no/such/" not in text  # stopped before the model was looked up


def test_estimate_into_a_file_path_is_a_clear_message(tmp_path):
    import numpy as np

    pts = tmp_path / "p.npy"
    np.save(pts, np.random.default_rng(0).normal(size=(60, 3)))
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    res = RUNNER.invoke(app, ["estimate", str(pts), "-L", "5", "--out", str(blocker / "out"), "--no-progress"],
                        env={"COLUMNS": "400", "NO_COLOR": "1"})
    text = " ".join(res.output.split())
    assert res.exit_code == 2 and "a parent of" in text and "is a file, not a folder" in text and "Traceback" not in text


def test_cli_compare_uses_the_quick_sizes_and_paired_replicates(monkeypatch):
    import lidscope.measure as lm

    seen = {}

    def fake_compare(models, data, **kw):
        seen.update(kw)
        return lm.CompareResult({})

    monkeypatch.setattr(lm, "compare", fake_compare)
    res = RUNNER.invoke(app, ["compare", "minilm", "minilm", "-q"], env={"COLUMNS": "300"})
    assert res.exit_code == 0, res.output
    # the quick preset's M and N (the same quantity as `lidscope measure`), with paired replicates
    assert (seen["n_sequences"], seen["n_points"]) == (S.QUICK.n_sequences, S.QUICK.n_points)
    assert seen["n_replicates"] == S.COMPARE_N_REPLICATES > 1
    assert f"quick defaults M = {S.QUICK.n_sequences:,}" in res.output
    RUNNER.invoke(app, ["compare", "minilm", "minilm", "-q", "-M", "300", "-R", "1"])
    assert (seen["n_sequences"], seen["n_replicates"]) == (300, 1)
