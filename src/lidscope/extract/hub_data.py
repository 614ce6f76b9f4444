"""Datasets by Hugging Face hub name: ``hf:NAME[:CONFIG][:SPLIT]`` through ``datasets.load_dataset``.

``hf:imdb:test``, ``hf:org/name:validation``, ``hf:glue:sst2:validation``, ``hf:org/name`` (with
``--split``, or a dataset of one split). A split may carry datasets' slice syntax
(``train[:1000]``). The text column is ``--text-column`` (default ``text``, or the only string column).

Order, as ``datasets`` does it: ``load_dataset`` reads its own cache (``HF_DATASETS_CACHE``, else
``$HF_HOME/datasets``) and, online, the hub. In offline mode (``HF_HUB_OFFLINE``,
``HF_DATASETS_OFFLINE``, ``--offline``) a dataset that ``datasets`` has not prepared before but whose
repo files are in the hub cache (``huggingface-cli download --repo-type dataset NAME``) is loaded from
that snapshot folder; otherwise the error says how to fetch it. ``datasets.Dataset`` and
``DatasetDict`` objects are accepted directly by the Python API (`lidscope.extract.texts.read_items`).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lidscope.extract.errors import DataError
from lidscope.extract.hub import hub_cache_dir, offline_mode

PREFIX = "hf:"
_PART = r"[^:\[]+(?:\[[^\]]*\])?"
_SPEC = re.compile(rf"^hf:(?P<name>[^:]+)(?::(?P<a>{_PART}))?(?::(?P<b>{_PART}))?$")


def parse_hub_spec(spec: str) -> tuple[str, str | None, str | None]:
    """``hf:NAME[:CONFIG][:SPLIT]`` -> ``(name, config, split)`` (two parts: NAME:SPLIT).

    Raises:
        DataError: not of that form.
    """
    m = _SPEC.match(spec)
    if not m:
        raise DataError(
            f"data {spec!r} is not of the form hf:NAME[:CONFIG]:SPLIT (e.g. hf:imdb:test, "
            "hf:glue:sst2:validation, hf:org/name:train[:1000])."
        )
    a, b = m.group("a"), m.group("b")
    return (m.group("name"), a, b) if b is not None else (m.group("name"), None, a)


def datasets_cache_dir() -> Path:
    """The cache ``datasets`` uses, read from the environment now."""
    if os.environ.get("HF_DATASETS_CACHE"):
        return Path(os.environ["HF_DATASETS_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "datasets"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "huggingface" / "datasets"


@contextlib.contextmanager
def _datasets_offline(off: bool) -> Iterator[None]:
    """``datasets`` reads offline mode at import; an offline switch set later applies here too."""
    import datasets

    old = datasets.config.HF_HUB_OFFLINE
    datasets.config.HF_HUB_OFFLINE = bool(old or off)
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE = old


def _fetch_hint(name: str) -> str:
    return (f"`huggingface-cli download --repo-type dataset {name}` (into the hub cache), or run once "
            "online so that `datasets` caches it")


def load_hub_dataset(name: str, config: str | None, split: str | None, *, offline: bool | None = None) -> Any:
    """A ``Dataset`` (``split`` given) or ``DatasetDict`` of a hub dataset, the cache first.

    Raises:
        DataError: not cached in offline mode (the message says how to fetch it), unknown dataset,
            config or split.
    """
    import datasets

    off = offline_mode(offline) or os.environ.get("HF_DATASETS_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}
    cache = datasets_cache_dir()
    where = name + (f" (config {config!r})" if config else "")
    try:
        with _datasets_offline(off):
            return datasets.load_dataset(name, config, split=split, cache_dir=str(cache))
    except ValueError as exc:  # unknown config or split of a dataset that was found
        text = str(exc)
        if "split" in text.lower() or "config" in text.lower():
            raise DataError(f"hub dataset {where}: {text} Pick one with hf:NAME[:CONFIG]:SPLIT.") from None
        first: Exception = exc
    except Exception as exc:  # noqa: BLE001 - ConnectionError, FileNotFoundError, DatasetNotFoundError, ...
        first = exc
    if off:
        snap = _hub_snapshot(name)
        if snap is not None:
            try:
                with _datasets_offline(True):
                    return datasets.load_dataset(str(snap), config, split=split, cache_dir=str(cache))
            except Exception as exc:  # noqa: BLE001
                raise DataError(f"hub dataset {where} found in the hub cache ({snap}) but could not be read: "
                                f"{type(exc).__name__}: {exc}") from None
        raise DataError(
            f"hub dataset {where} is not in the datasets cache ({cache}) nor in the hub cache ({hub_cache_dir()}), "
            f"and offline mode is on. Fetch it with {_fetch_hint(name)}; or pass a local file or a "
            f"save_to_disk folder. ({type(first).__name__}: {first})"
        ) from None
    raise DataError(
        f"could not load hub dataset {where}: {type(first).__name__}: {first}. Check the name on the hub "
        f"(private and gated datasets need `huggingface-cli login`), or fetch it with {_fetch_hint(name)}."
    ) from None


def _hub_snapshot(name: str) -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, repo_type="dataset", cache_dir=hub_cache_dir(), local_files_only=True))
    except Exception:  # noqa: BLE001 - LocalEntryNotFoundError, an invalid name
        return None
