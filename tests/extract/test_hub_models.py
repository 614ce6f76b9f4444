"""Models by hub id, loaded through a hub cache built on disk, with the network off (HF_HUB_OFFLINE=1)."""

from __future__ import annotations

import json

import pytest

from hubcache import add_to_hub_cache
from lidscope.extract.errors import ModelLoadError
from lidscope.extract.models import load_model
from lidscope.extract.models import resolve_model_spec

ORG = "lidscope-tests"


@pytest.fixture
def hub(tmp_path, monkeypatch, tiny_models):
    """An empty hub cache in a temp dir, found through HF_HOME, offline."""
    home = tmp_path / "hf-home"
    (home / "hub").mkdir(parents=True)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home / "hub"


def test_hub_id_loads_from_the_cache_with_commit_in_the_fingerprint(hub, tiny_models):
    repo_id = f"{ORG}/tiny-bert"
    commit = add_to_hub_cache(hub, repo_id, tiny_models["bert"])
    lm = load_model(repo_id)
    assert lm.fingerprint["hub_repo_id"] == repo_id
    assert lm.fingerprint["hub_commit"] == commit and lm.fingerprint["hub_revision"] == "main"
    assert lm.source.endswith(commit) and lm.name == "tiny-bert"
    # the same files from a plain folder: the same content id
    local = load_model(tiny_models["bert"])
    assert lm.id == local.id and lm.fingerprint["weights_sha256"] == local.fingerprint["weights_sha256"]
    out = lm.model(**lm.tokenizer(["hello there"], return_tensors="pt"))
    assert out.last_hidden_state.shape[-1] == lm.model.config.hidden_size


def test_revision_picks_another_snapshot(hub, tiny_models):
    repo_id = f"{ORG}/tiny-two"
    c_main = add_to_hub_cache(hub, repo_id, tiny_models["bert"])
    c_v1 = add_to_hub_cache(hub, repo_id, tiny_models["roberta"], revision="v1")
    assert c_main != c_v1
    assert load_model(repo_id).fingerprint["hub_commit"] == c_main
    v1 = load_model(repo_id, revision="v1")
    assert v1.fingerprint["hub_commit"] == c_v1 and v1.info["model_type"] == "roberta"
    by_hash = load_model(repo_id, revision=c_v1)
    assert by_hash.fingerprint["hub_commit"] == c_v1
    with pytest.raises(ModelLoadError, match="not in the Hugging Face cache"):
        load_model(repo_id, revision="v2")


def test_hub_cache_found_through_hf_hub_cache(tmp_path, monkeypatch, tiny_models):
    cache = tmp_path / "elsewhere"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    repo_id = "-".join([ORG, "single"])  # a name without an org, as `gpt2` or `bert-base-uncased`
    add_to_hub_cache(cache, repo_id, tiny_models["gpt2"])
    folder, gguf, label = resolve_model_spec(repo_id)
    assert folder.parent.parent == cache / f"models--{repo_id}" and gguf is None and label == repo_id


def test_uncached_id_offline_says_how_to_fetch_it(hub):
    repo_id = f"{ORG}/not-cached"
    with pytest.raises(ModelLoadError) as e:
        load_model(repo_id)
    msg = str(e.value)
    assert "offline mode is on" in msg and f"huggingface-cli download {repo_id}" in msg and str(hub) in msg
    with pytest.raises(ModelLoadError, match="--offline"):
        load_model(repo_id, offline=True)


def test_local_folder_wins_over_a_hub_id_of_the_same_name(hub, tiny_models, tmp_path, monkeypatch):
    monkeypatch.chdir(tiny_models["bert"].parent)
    lm = load_model(tiny_models["bert"].name)
    assert "hub_repo_id" not in lm.fingerprint and "hub" not in lm.info
    with pytest.raises(ModelLoadError, match="--revision"):
        load_model(tiny_models["bert"].name, revision="v1")


def test_remote_code_files_stay_off_unless_asked(hub, tiny_models, tmp_path):
    """A repo whose model type exists only in its own code: refused without trust_remote_code, with the
    fix named, and that code never runs (it would raise SystemExit)."""
    import shutil

    repo = tmp_path / "remote"
    shutil.copytree(tiny_models["bert"], repo)
    cfg = json.loads((repo / "config.json").read_text())
    cfg["model_type"] = "lidscope-custom"
    cfg["auto_map"] = {"AutoModel": "modeling_x.XModel", "AutoConfig": "modeling_x.XConfig"}
    (repo / "config.json").write_text(json.dumps(cfg))
    (repo / "modeling_x.py").write_text("raise SystemExit('remote code ran')\n")
    repo_id = f"{ORG}/needs-code"
    add_to_hub_cache(hub, repo_id, repo)
    with pytest.raises(ModelLoadError, match="trust-remote-code"):
        load_model(repo_id)


def test_cli_measure_by_hub_id_records_the_commit(hub, tiny_models, sentences, tmp_path):
    from typer.testing import CliRunner

    from lidscope.cli import app, register_commands

    register_commands()
    repo_id = f"{ORG}/tiny-llama"
    commit = add_to_hub_cache(hub, repo_id, tiny_models["llama"])
    data = tmp_path / "texts.txt"
    data.write_text("\n".join(sentences))
    res = CliRunner().invoke(app, ["measure", "--model", repo_id, "--offline", "-d", str(data), "-N", "300",
                                   "-L", "8", "-o", str(tmp_path / "o"), "--cache-dir", str(tmp_path / "c"), "-q"])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    fp = summary["model"]["fingerprint"]
    assert fp["hub_repo_id"] == repo_id and fp["hub_commit"] == commit
    res = CliRunner().invoke(app, ["measure", "--model", repo_id, "--revision", "no-such-branch", "--offline",
                                   "-d", str(data), "-q"])
    assert res.exit_code == 2 and "no-such-branch" in res.output and "Traceback" not in res.output
