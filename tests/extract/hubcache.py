"""Build a Hugging Face hub cache on disk the way huggingface_hub writes one (tests only).

``<cache>/<type>s--<org>--<name>/`` holds ``blobs/<sha256>`` (the file bytes), ``refs/<revision>``
(the commit hash) and ``snapshots/<commit>/<path>`` (relative symlinks into ``blobs``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def add_to_hub_cache(cache: Path, repo_id: str, folder: Path, *, repo_type: str = "model",
                     revision: str = "main", commit: str | None = None) -> str:
    """Put every file under ``folder`` into ``cache`` as snapshot ``commit`` of ``repo_id``; returns the commit."""
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
    if commit is None:
        h = hashlib.sha1()
        for p in files:
            h.update(p.relative_to(folder).as_posix().encode() + b"\0" + p.read_bytes())
        commit = h.hexdigest()
    repo = Path(cache) / f"{repo_type}s--{repo_id.replace('/', '--')}"
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    snap = repo / "snapshots" / commit
    for p in files:
        data = p.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = snap / p.relative_to(folder)
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.exists() or link.is_symlink():
            link.unlink()
        os.symlink(os.path.relpath(blob, link.parent), link)
    (repo / "refs" / revision).write_text(commit)
    return commit
