"""Local model loading: folders only, clear errors, fingerprints, no remote code."""

from __future__ import annotations

import json
import shutil

import pytest

from lidscope.extract.errors import ModelLoadError
from lidscope.extract.models import BUNDLED_MODELS, load_model, resolve_model_spec, wrap_model


def test_tiny_folder_loads_with_safetensors(tiny_models):
    lm = load_model(tiny_models["bert"])
    assert lm.info["weights_format"] == "safetensors"
    assert lm.info["trust_remote_code"] is False
    assert set(lm.fingerprint) == {"config_sha256", "weights_sha256", "tokenizer_sha256", "id"}
    assert load_model(tiny_models["bert"]).fingerprint == lm.fingerprint
    assert load_model(tiny_models["gpt2"]).id != lm.id
    assert lm.info["is_decoder"] is False and load_model(tiny_models["llama"]).info["is_decoder"] is True


def test_fingerprint_changes_with_weights(tiny_models, tmp_path):
    import torch

    lm = load_model(tiny_models["bert"])
    copy = tmp_path / "bert2"
    with torch.no_grad():
        next(lm.model.parameters()).add_(1.0)
    lm.model.save_pretrained(copy, safe_serialization=True)
    lm.tokenizer.save_pretrained(copy)
    fp2 = load_model(copy).fingerprint
    assert fp2["weights_sha256"] != lm.fingerprint["weights_sha256"]
    assert fp2["config_sha256"] == lm.fingerprint["config_sha256"]


def test_uncached_hub_name_offline_is_refused_with_a_fix(tmp_path, monkeypatch):
    """A hub id that is neither a local folder nor cached, in offline mode: the message says how to fetch it."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="not in the Hugging Face cache") as e:
        load_model("bert-base-uncased")
    assert "local folder" in str(e.value) and "huggingface-cli download bert-base-uncased" in str(e.value)


def test_a_path_that_is_no_hub_id_is_refused_as_a_path(tmp_path):
    with pytest.raises(ModelLoadError, match="not a local folder"):
        load_model(tmp_path / "missing" / "deeper")


def test_missing_config_and_corrupt_weights(tiny_models, tmp_path):
    broken = tmp_path / "noconfig"
    shutil.copytree(tiny_models["bert"], broken)
    (broken / "config.json").unlink()
    with pytest.raises(ModelLoadError, match="config.json"):
        load_model(broken)
    corrupt = tmp_path / "corrupt"
    shutil.copytree(tiny_models["bert"], corrupt)
    w = corrupt / "model.safetensors"
    w.write_bytes(w.read_bytes()[:1000])
    with pytest.raises(ModelLoadError, match="corrupt"):
        load_model(corrupt)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match="no model weights"):
        load_model(empty)
    with pytest.raises(ModelLoadError, match="is a file"):
        load_model(tiny_models["bert"] / "config.json")


def test_remote_code_is_not_run_without_consent(tiny_models, tmp_path):
    folder = tmp_path / "remote"
    shutil.copytree(tiny_models["bert"], folder)
    marker = tmp_path / "ran.txt"
    (folder / "evil.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n"
        "from transformers import BertConfig, BertModel\n"
        "class EvilConfig(BertConfig):\n    model_type = 'evil'\n"
        "class EvilModel(BertModel):\n    config_class = EvilConfig\n"
    )
    cfg = json.loads((folder / "config.json").read_text())
    cfg["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModel": "evil.EvilModel"}
    cfg["model_type"] = "evil"
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match="trust-remote-code"):
        load_model(folder)
    assert not marker.exists()


def test_wrap_in_memory_model(tiny_models):
    lm = load_model(tiny_models["llama"])
    wrapped = wrap_model(lm.model, lm.tokenizer, name="mine")
    assert wrapped.name == "mine" and wrapped.source == "<in-memory>"
    assert wrapped.fingerprint["weights_sha256"] and wrapped.id != lm.id
    with pytest.raises(ModelLoadError, match="tokenizer"):
        wrap_model(lm.model, None)


def test_causal_lm_head_is_dropped(tiny_models):
    from transformers import AutoModelForCausalLM

    full = AutoModelForCausalLM.from_pretrained(tiny_models["gpt2"], local_files_only=True)
    wrapped = wrap_model(full, load_model(tiny_models["gpt2"]).tokenizer)
    assert wrapped.info.get("head_removed") == "GPT2LMHeadModel"
    assert type(wrapped.model).__name__ == "GPT2Model"


def test_bundled_names_resolve_to_local_folders():
    folder, gguf, label = resolve_model_spec("minilm")
    assert (folder / "config.json").is_file() and gguf is None and label == "minilm"
    assert set(BUNDLED_MODELS) >= {"minilm", "smollm2"}
    lm = load_model("minilm")
    assert lm.info["model_type"] == "bert" and lm.info["hidden_size"] == 384


def test_gguf_specs_resolve_without_loading(tmp_path):
    from lidscope.extract.models import _weight_files

    folder, gguf, label = resolve_model_spec("smollm2")
    assert gguf and (folder / gguf).is_file() and label == "smollm2"
    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF")
    assert resolve_model_spec(f) == (tmp_path, "m.gguf", "m")
    with pytest.raises(ModelLoadError, match="--gguf-file"):
        _weight_files(tmp_path, "other.gguf")
    with pytest.raises(ModelLoadError, match="pass --gguf-file NAME"):
        _weight_files(tmp_path, None)
