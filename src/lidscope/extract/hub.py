"""Models by Hugging Face hub id, found the way ``transformers`` finds them.

``--model org/name`` (or ``name``) that is not a local path resolves through ``huggingface_hub``'s
cache (``HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``):

- offline (``HF_HUB_OFFLINE=1``, ``TRANSFORMERS_OFFLINE=1`` or ``--offline``): the cached snapshot of
  the revision (``refs/<revision>``, or the commit itself), or a message saying how to fetch it;
- online: ``huggingface_hub.snapshot_download``, which asks the hub for the revision's commit, reuses
  cached files and downloads only what is missing. Only the files a load needs are fetched: configs,
  tokenizer files and ``*.safetensors`` weights (``*.bin`` when the repo has no safetensors; the
  ``--gguf-file`` when one is named; ``*.py`` only with ``trust_remote_code``).

The snapshot folder is then loaded like any local folder (``local_files_only``), and the repo id, the
requested revision and the resolved commit hash go into the model's fingerprint.

huggingface_hub reads its environment when it is imported; the cache folder and the offline switch
are read here at each call, so a test (or a notebook) can point them elsewhere later.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from lidscope.extract.errors import ModelLoadError

_TRUE = {"1", "ON", "YES", "TRUE"}
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
#: files every load needs besides the weights
_BASE_PATTERNS = ["*.json", "*.txt", "*.model", "*.tiktoken", "*.jinja"]


@dataclass(frozen=True)
class HubSnapshot:
    """A model repo resolved to a folder of the local hub cache."""

    repo_id: str
    revision: str
    commit: str
    folder: Path

    def fingerprint(self) -> dict[str, str]:
        return {"hub_repo_id": self.repo_id, "hub_revision": self.revision, "hub_commit": self.commit}


def offline_mode(offline: bool | None = None) -> bool:
    """True when ``offline`` is True, or (``offline`` None) when the environment asks for offline mode."""
    if offline is not None:
        return bool(offline)
    if any(os.environ.get(k, "").upper() in _TRUE for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")):
        return True
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - a dependency of transformers
        return True
    return bool(constants.HF_HUB_OFFLINE)


def hub_cache_dir() -> Path:
    """The hub cache folder huggingface_hub uses, read from the environment now."""
    for key in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(key):
            return Path(os.environ[key]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "huggingface" / "hub"


def looks_like_repo_id(text: str) -> bool:
    """``name`` or ``org/name`` as the hub allows it (not a path such as ``./x``, ``/x`` or ``a/b/c``)."""
    if not text or text.startswith((".", "/", "~")) or "\\" in text or text.count("/") > 1:
        return False
    try:
        from huggingface_hub.utils import validate_repo_id

        validate_repo_id(text)
    except Exception:  # noqa: BLE001 - HFValidationError, or no huggingface_hub
        return False
    return True


def _fetch_hint(repo_id: str, revision: str | None) -> str:
    rev = f" --revision {revision}" if revision else ""
    return f"`huggingface-cli download {repo_id}{rev}` (or `hf download {repo_id}{rev}`)"


def _has_weights(folder: Path, gguf_file: str | None) -> bool:
    if gguf_file:
        return (folder / gguf_file).is_file()
    return any(folder.glob("*.safetensors")) or any(p.suffix in (".bin", ".pt", ".pth") for p in folder.iterdir())


def resolve_hub_model(
    repo_id: str,
    *,
    revision: str | None = None,
    offline: bool | None = None,
    gguf_file: str | None = None,
    trust_remote_code: bool = False,
) -> HubSnapshot:
    """The local snapshot folder of a hub model repo: from the cache, or downloaded when online.

    Raises:
        ModelLoadError: offline and not cached (the message says how to fetch it), an unknown repo
            or revision, a gated repo, or no connection to the hub with nothing cached.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    off = offline_mode(offline)
    cache = hub_cache_dir()
    patterns = list(_BASE_PATTERNS)
    patterns += [gguf_file] if gguf_file else ["*.safetensors"]
    if trust_remote_code:
        patterns.append("*.py")
    where = f"{repo_id!r}" + (f" at revision {revision!r}" if revision else "")
    try:
        folder = Path(snapshot_download(repo_id, revision=revision, cache_dir=cache, local_files_only=off,
                                        allow_patterns=patterns))
        if not off and not _has_weights(folder, gguf_file):  # an older repo: pytorch_model*.bin only
            folder = Path(snapshot_download(repo_id, revision=revision, cache_dir=cache,
                                            allow_patterns=patterns + ["*.bin"]))
    except LocalEntryNotFoundError as exc:
        if off:
            why = "--offline" if offline else "HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE is set"
            raise ModelLoadError(
                f"model {where} is not a local folder and is not in the Hugging Face cache ({cache}), and "
                f"offline mode is on ({why}). Fetch it once on a machine that reaches the hub with "
                f"{_fetch_hint(repo_id, revision)} into this cache (HF_HUB_CACHE / HF_HOME), or run without "
                "offline mode where the hub is reachable; or pass --model PATH to a local model folder."
            ) from exc
        raise ModelLoadError(
            f"could not reach the Hugging Face hub for model {where} and it is not in the cache ({cache}): "
            f"{exc}. Check the connection (or a proxy), or fetch it elsewhere with "
            f"{_fetch_hint(repo_id, revision)} and point HF_HUB_CACHE at that cache."
        ) from exc
    except GatedRepoError as exc:
        raise ModelLoadError(
            f"model {repo_id!r} is gated on the Hugging Face hub: accept its licence on the model page and "
            "log in (`huggingface-cli login` or HF_TOKEN), then run again."
        ) from exc
    except RevisionNotFoundError as exc:
        raise ModelLoadError(
            f"model {repo_id!r} has no revision {revision!r} on the Hugging Face hub: pass a branch, tag or "
            "commit hash that exists (--revision)."
        ) from exc
    except RepositoryNotFoundError as exc:
        raise ModelLoadError(
            f"model {repo_id!r} is not a local folder and no such model repo exists on the Hugging Face hub "
            "(or it is private: log in with `huggingface-cli login`). Check the name, or pass a local "
            "folder or a bundled name."
        ) from exc
    except (OSError, ValueError) as exc:  # network errors, bad cache entries
        raise ModelLoadError(
            f"could not fetch model {where} from the Hugging Face hub: {type(exc).__name__}: {exc}. "
            f"Fetch it with {_fetch_hint(repo_id, revision)}, or pass a local folder."
        ) from exc
    commit = folder.name if _COMMIT.match(folder.name) else ""
    if not _has_weights(folder, gguf_file):
        what = repr(gguf_file) if gguf_file else "model weights (*.safetensors, *.bin)"
        raise ModelLoadError(
            f"the cached snapshot of {where} ({folder}) holds no {what}: the download was partial. "
            + (f"Fetch it again with {_fetch_hint(repo_id, revision)}." if off else
               "The repo may keep its weights in another format; download them with "
               f"{_fetch_hint(repo_id, revision)} and pass the folder.")
        )
    return HubSnapshot(repo_id, revision or "main", commit, folder)
