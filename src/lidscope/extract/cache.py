"""Chunked on-disk cache of token vectors, keyed by model + data + extraction parameters.

Layout of one entry ``<root>/<key>/``::

    manifest.json          format, key parts, layer labels, dim, rows per chunk, extraction stats
    layer0-00000.npy ...   float32 (rows, d) vectors of layer label 0, chunk 0, ...
    meta-00000.npy ...     int64 (rows, 5): seq_index, position, token_id, sequence_rank, context

Vectors are written chunk by chunk while the model runs, so they are never all in RAM. An entry
is built in a hidden temporary folder ``<root>/.tmp-<key>-<pid>-<rand>`` and renamed into place
only after ``manifest.json`` is written: an interrupted run never leaves a half-written entry. It
leaves its finished chunks (``.partial-<key>``, or its temporary folder when killed outright), and
the next run of the same key resumes after them (`CacheWriter.resume`). Files are plain
``.npy`` read with ``allow_pickle=False`` and JSON -- no pickle anywhere.

The manifest records the size and BLAKE2b digest of every chunk file; `lookup` checks them before
an entry is used, so a truncated or corrupted chunk (disk error, a copy cut short) is never read:
the entry is deleted and the caller extracts again. An entry whose manifest was written for another
key (a folder renamed or copied from another model or configuration) is refused the same way:
`lookup` recomputes the key from the manifest's key parts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from lidscope.extract.errors import ExtractError
from lidscope.settings import CACHE_CHUNK_BYTES, CACHE_CHUNK_SECONDS

CACHE_FORMAT = 3  # 2: chunk sizes and digests in the manifest, checked when opened; 3: token contexts
META_COLUMNS = ("seq_index", "position", "token_id", "sequence_rank", "context")


class CacheError(ExtractError):
    """A cache entry is unreadable or inconsistent (`lookup` deletes it, so it is rebuilt)."""


def cache_key(parts: dict[str, Any]) -> str:
    """32 hex digits of the SHA-256 of the canonical JSON of ``parts``."""
    text = json.dumps({"format": CACHE_FORMAT, **parts}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def file_digest(path: Path) -> str:
    """BLAKE2b (128-bit) of a file's bytes, read in 4 MiB blocks."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def being_written(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is the temporary folder of an entry a running process is still writing
    (``.tmp-<key>-<pid>-<rand>``, that pid alive)."""
    name = Path(path).name
    if not name.startswith(".tmp-"):
        return False
    try:
        return _pid_alive(int(name.split("-")[-2]))
    except (ValueError, IndexError):
        return False


PARTIAL = "partial.json"


def partial_path(root: str | os.PathLike[str], key: str) -> Path:
    """Where the finished chunks of an interrupted extraction of ``key`` wait to be resumed."""
    return Path(root) / f".partial-{key}"


def cleanup_stale(root: str | os.PathLike[str]) -> int:
    """Tidy temporary entries left by processes that no longer run; returns how many.

    One that had finished chunks (``partial.json``) becomes the resumable ``.partial-<key>`` of its
    key (unless one is there already); the others are removed.
    """
    root = Path(root)
    n = 0
    if not root.is_dir():
        return 0
    for p in root.glob(".tmp-*"):
        try:
            pid = int(p.name.split("-")[-2])
        except (ValueError, IndexError):
            continue
        if pid != os.getpid() and not _pid_alive(pid):
            target = partial_path(root, p.name.split("-")[1])
            if (p / PARTIAL).is_file() and not target.exists():
                try:
                    os.replace(p, target)
                except OSError:
                    shutil.rmtree(p, ignore_errors=True)
            else:
                shutil.rmtree(p, ignore_errors=True)
            n += 1
    return n


class CacheWriter:
    """A sink for `lidscope.extract.tokens.extract` that writes an entry atomically, and resumably.

    Use as a context manager; call `commit` at the end. Each call of the sink is one batch; chunks
    are written at batch boundaries, and after each one ``partial.json`` records the finished chunks
    (sizes, digests) and how many batches they hold. Leaving the block without `commit` (error,
    Ctrl-C) keeps the finished chunks as ``.partial-<key>``; a process killed outright leaves its
    temporary folder, which `cleanup_stale` turns into the same. The next writer of the same key
    takes them over: `resume` (called by `extract` with a digest of its batch plan) checks them and
    says how many leading batches need not run again.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        key: str,
        layer_labels: list[str],
        key_parts: dict[str, Any] | None = None,
        chunk_bytes: int | None = None,
        chunk_seconds: float | None = None,
    ) -> None:
        self.root = Path(root)
        self.key = key
        self.labels = list(layer_labels)
        self.key_parts = key_parts or {}
        # defaults read now (not at import), so a caller may tune the module's values
        self.chunk_bytes = CACHE_CHUNK_BYTES if chunk_bytes is None else chunk_bytes
        self.chunk_seconds = CACHE_CHUNK_SECONDS if chunk_seconds is None else chunk_seconds
        self.root.mkdir(parents=True, exist_ok=True)
        self.tmp = self.root / f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._buf: dict[str, list[np.ndarray]] = {lab: [] for lab in self.labels}
        self._meta: list[np.ndarray] = []
        self._rows_buffered = 0
        self.chunks: list[int] = []
        self.files: dict[str, dict[str, Any]] = {}
        self.dim: int | None = None
        self.batches = 0  # sink calls (batches) received, those resumed included
        self.batches_flushed = 0
        self.plan_digest: str | None = None
        self.resumed: dict[str, Any] | None = None  # what the last run left, until `resume` decides
        self.notes: list[str] = []
        self._done = False
        self._since = time.monotonic()
        try:
            os.replace(partial_path(self.root, key), self.tmp)  # take over an interrupted run's chunks
            self.resumed = self._read_partial()
        except FileNotFoundError:
            self.tmp.mkdir()
        except OSError:
            self.tmp.mkdir(exist_ok=True)

    def _read_partial(self) -> dict[str, Any] | None:
        """The kept chunks of an interrupted run, verified; ``None`` (and a note) if unusable."""
        try:
            state = json.loads((self.tmp / PARTIAL).read_text(encoding="utf-8"))
            if state.get("key") != self.key or state.get("layers") != self.labels:
                raise CacheError("it was written for another key or other layers")
            for c in range(len(state["chunks"])):
                for n in [f"layer{i}-{c:05d}.npy" for i in range(len(self.labels))] + [f"meta-{c:05d}.npy"]:
                    want = state["files"][n]
                    if (self.tmp / n).stat().st_size != want["bytes"] or file_digest(self.tmp / n) != want["blake2b"]:
                        raise CacheError(f"{n} does not match its checksum")
            return state
        except (OSError, ValueError, KeyError, TypeError, CacheError) as exc:
            self.notes.append(f"the kept chunks of an interrupted run could not be used ({exc}); extracting from the start")
            self._reset()
            return None

    def _reset(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self.chunks, self.files, self.dim, self.batches, self.batches_flushed = [], {}, None, 0, 0

    def resume(self, plan_digest: str) -> int:
        """Leading batches of the plan ``plan_digest`` already in the kept chunks (0: start afresh)."""
        self.plan_digest = plan_digest
        state, self.resumed = self.resumed, None
        if state is None:
            return 0
        if state.get("plan") != plan_digest:
            self.notes.append("the kept chunks of an interrupted run came from another batch plan (other texts "
                              "or batch settings); extracting from the start")
            self._reset()
            return 0
        self.chunks = [int(c) for c in state["chunks"]]
        self.files = dict(state["files"])
        self.dim = state.get("dim")
        self.batches = self.batches_flushed = int(state["batches"])
        return self.batches

    def __enter__(self) -> CacheWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if not self._done:
            self.abort(keep=True)

    def __call__(self, vectors: dict[str, np.ndarray], meta: dict[str, np.ndarray]) -> None:
        first = vectors[self.labels[0]]
        if self.dim is None:
            self.dim = int(first.shape[1])
        for lab in self.labels:
            self._buf[lab].append(np.ascontiguousarray(vectors[lab], dtype=np.float32))
        self._meta.append(np.stack([np.asarray(meta[c], dtype=np.int64) for c in META_COLUMNS], axis=1))
        self._rows_buffered += int(first.shape[0])
        self.batches += 1
        if (self._rows_buffered * self.dim * 4 * len(self.labels) >= self.chunk_bytes
                or time.monotonic() - self._since >= self.chunk_seconds):
            self._flush()

    def _flush(self) -> None:
        self._since = time.monotonic()
        if not self._rows_buffered:
            return
        c = len(self.chunks)
        arrays = {f"layer{i}-{c:05d}.npy": np.concatenate(self._buf[lab]) for i, lab in enumerate(self.labels)}
        arrays[f"meta-{c:05d}.npy"] = np.concatenate(self._meta)
        self._buf = {lab: [] for lab in self.labels}
        self._meta = []
        for name, arr in arrays.items():
            np.save(self.tmp / name, arr, allow_pickle=False)
            self.files[name] = {"bytes": (self.tmp / name).stat().st_size, "blake2b": file_digest(self.tmp / name)}
        self.chunks.append(self._rows_buffered)
        self._rows_buffered = 0
        self.batches_flushed = self.batches
        if self.plan_digest is not None:
            state = {"key": self.key, "layers": self.labels, "dim": self.dim, "chunks": self.chunks,
                     "files": self.files, "batches": self.batches_flushed, "plan": self.plan_digest}
            part = self.tmp / (PARTIAL + ".tmp")
            part.write_text(json.dumps(state), encoding="utf-8")
            os.replace(part, self.tmp / PARTIAL)

    def commit(self, info: dict[str, Any] | None = None) -> EmbeddingCache:
        """Write the last chunk and ``manifest.json``, then rename the entry into place."""
        self._flush()
        (self.tmp / PARTIAL).unlink(missing_ok=True)
        manifest = {
            "format": CACHE_FORMAT,
            "key": self.key,
            "key_parts": self.key_parts,
            "layers": self.labels,
            "dim": self.dim,
            "chunks": self.chunks,
            "n_rows": int(sum(self.chunks)),
            "meta_columns": list(META_COLUMNS),
            "files": self.files,
            "info": info or {},
        }
        with open(self.tmp / "manifest.json", "w", encoding="utf-8") as fh:
            json.dump(manifest, fh, indent=1, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        final = self.root / self.key
        try:
            os.replace(self.tmp, final)
        except OSError:
            # another run finished the same entry first, or a stale broken entry is in the way
            try:
                EmbeddingCache.open(final)
                shutil.rmtree(self.tmp, ignore_errors=True)
            except CacheError:
                shutil.rmtree(final, ignore_errors=True)
                os.replace(self.tmp, final)
        self._done = True
        return EmbeddingCache.open(final)

    def abort(self, keep: bool = False) -> None:
        """Drop the temporary folder; with ``keep``, its finished chunks stay as ``.partial-<key>``
        for the next run to resume."""
        self._done = True
        if keep and self.chunks and (self.tmp / PARTIAL).is_file():
            try:
                os.replace(self.tmp, partial_path(self.root, self.key))
                return
            except OSError:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)


class EmbeddingCache:
    """A committed cache entry, read lazily through memory maps."""

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = path
        self.manifest = manifest
        self.layers: list[str] = list(manifest["layers"])
        self.dim: int = int(manifest["dim"] or 0)
        self.chunks: list[int] = [int(c) for c in manifest["chunks"]]
        self.n_rows: int = int(manifest["n_rows"])
        self.offsets = np.concatenate([[0], np.cumsum(self.chunks)]).astype(np.int64)

    @property
    def info(self) -> dict[str, Any]:
        return dict(self.manifest.get("info", {}))

    @classmethod
    def open(cls, path: str | os.PathLike[str], verify: bool = True) -> EmbeddingCache:
        """Open an entry; raises `CacheError` if it is missing pieces or (``verify``) a chunk file's
        size or digest differs from the manifest."""
        path = Path(path)
        mf = path / "manifest.json"
        try:
            manifest = json.loads(mf.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CacheError(f"cache entry {path} has no readable manifest.json ({exc})") from None
        if manifest.get("format") != CACHE_FORMAT:
            raise CacheError(f"cache entry {path} has format {manifest.get('format')}, expected {CACHE_FORMAT}")
        for c in range(len(manifest.get("chunks", []))):
            names = [f"layer{i}-{c:05d}.npy" for i in range(len(manifest["layers"]))] + [f"meta-{c:05d}.npy"]
            for n in names:
                if not (path / n).is_file():
                    raise CacheError(f"cache entry {path} lacks {n}")
                want = manifest.get("files", {}).get(n)
                if want is None:
                    raise CacheError(f"cache entry {path} has no checksum for {n}")
                size = (path / n).stat().st_size
                if size != want["bytes"]:
                    raise CacheError(f"cache file {path / n} has {size} bytes, {want['bytes']} were written "
                                     "(truncated?)")
                if verify and file_digest(path / n) != want["blake2b"]:
                    raise CacheError(f"cache file {path / n} does not match its checksum (corrupted, or a "
                                     "chunk copied from another entry)")
        return cls(path, manifest)

    def _load(self, name: str, rows: int, width: int, dtype: Any) -> np.ndarray:
        try:
            arr = np.load(self.path / name, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise CacheError(f"cache file {self.path / name} is unreadable ({exc})") from None
        if arr.shape != (rows, width) or arr.dtype != dtype:
            raise CacheError(f"cache file {self.path / name} has shape {arr.shape} {arr.dtype}, expected ({rows}, {width}) {dtype}")
        return arr

    def metadata(self) -> dict[str, np.ndarray]:
        """Per-row ``seq_index``, ``position``, ``token_id``, ``sequence_rank``, ``context`` (int64
        arrays of length n_rows; the last two: `lidscope.extract.tokens.token_contexts`)."""
        if not self.chunks:
            return {c: np.zeros(0, dtype=np.int64) for c in META_COLUMNS}
        parts = [self._load(f"meta-{c:05d}.npy", n, len(META_COLUMNS), np.int64) for c, n in enumerate(self.chunks)]
        m = np.concatenate(parts)
        return {c: np.asarray(m[:, i]) for i, c in enumerate(META_COLUMNS)}

    def gather(self, layer: str, rows: np.ndarray) -> np.ndarray:
        """float32 ``(len(rows), dim)`` vectors of ``layer`` for storage rows, in the given order."""
        li = self.layers.index(layer)
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        chunk_of = np.searchsorted(self.offsets, rows, side="right") - 1
        for c in np.unique(chunk_of):
            sel = np.flatnonzero(chunk_of == c)
            local = rows[sel] - self.offsets[c]
            order = np.argsort(local, kind="stable")
            arr = self._load(f"layer{li}-{int(c):05d}.npy", self.chunks[c], self.dim, np.float32)
            out[sel[order]] = arr[local[order]]
        return out

    def read_all(self, layer: str) -> np.ndarray:
        """Every vector of ``layer`` (float32 ``(n_rows, dim)``); for small entries and tests."""
        return self.gather(layer, np.arange(self.n_rows))


def lookup(root: str | os.PathLike[str], key: str, notes: list[str] | None = None) -> EmbeddingCache | None:
    """The committed, verified entry for ``key`` or ``None``.

    A broken entry (missing, truncated or corrupted chunk) is deleted and ``None`` returned, so the
    caller extracts again; the reason is appended to ``notes`` when given.
    """
    path = Path(root) / key
    if not path.exists():
        return None
    try:
        entry = EmbeddingCache.open(path)
        built_for = entry.manifest.get("key_parts")
        if entry.manifest.get("key") != key or (built_for and cache_key(built_for) != key):
            raise CacheError(f"cache entry {path} was built for another model, data or configuration "
                             f"(its manifest's key {entry.manifest.get('key')!r} does not hash to {key!r}): a "
                             "foreign entry, never used")
        return entry
    except CacheError as exc:
        shutil.rmtree(path, ignore_errors=True)
        if notes is not None:
            notes.append(f"damaged cache entry deleted and the vectors extracted again: {exc}")
        return None
