"""``lidscope cache``: what lidscope keeps on disk (embeddings, unpacked models), how big, and clearing it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Optional

import typer

#: the parts lidscope itself writes under the cache root (token vectors; GGUF models converted once)
KNOWN_PARTS = ("embeddings", "models")
_UNITS = {"": 1, "B": 1, "K": 1e3, "KB": 1e3, "M": 1e6, "MB": 1e6, "G": 1e9, "GB": 1e9, "T": 1e12, "TB": 1e12}


def parse_size(text: str) -> int:
    """``"500MB"``, ``"2G"``, ``"1.5 GB"`` -> bytes (decimal units)."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", text)
    if not m or m.group(2).upper() not in _UNITS:
        raise typer.BadParameter(f"size like 500MB or 2GB expected, got {text!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def size_of(path: Path) -> int:
    """Bytes under ``path`` (files another process removes meanwhile count as 0)."""
    total = 0
    for p in [path] if path.is_file() else path.rglob("*"):
        try:
            total += p.stat().st_size if p.is_file() else 0
        except FileNotFoundError:
            pass
    return total


def remove(entry: Path) -> bool:
    """Delete one cache entry unless a running lidscope process is still writing it."""
    from lidscope.extract.cache import being_written

    if being_written(entry):
        return False
    shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
    return True


def entries(root: Path) -> list[tuple[str, Path]]:
    """``(part, entry)`` for every item one level inside each top-level folder of the cache."""
    out = []
    for part in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        out += [(part.name, e) for e in sorted(part.iterdir())]
    return out


def trim(root: Path, limit: int) -> list[Path]:
    """Delete the least recently used entries until the cache holds at most ``limit`` bytes."""
    items = sorted(entries(root), key=lambda pe: pe[1].stat().st_mtime)
    total = sum(size_of(e) for _, e in items)
    removed = []
    for _, e in items:
        if total <= limit:
            break
        size = size_of(e)
        if remove(e):
            total -= size
            removed.append(e)
    return removed


def cache_command(
    clear: Optional[list[str]] = typer.Option(None, "--clear", help="Delete a part of the cache (e.g. embeddings, "
                                                                    "models; repeat for several) or 'all'."),
    max_size: Optional[str] = typer.Option(None, "--max-size", help="Delete the least recently used entries until "
                                                                    "the cache is at most this big (e.g. 2GB)."),
    root: Optional[Path] = typer.Option(None, "--root", help="Cache folder (default $LIDSCOPE_CACHE, else "
                                                             "~/.cache/lidscope; set LIDSCOPE_CACHE to move it)."),
) -> None:
    """Show what lidscope has cached and how big (embeddings, unpacked models); clear all or part of it."""
    from rich.table import Table

    from lidscope.extract.models import default_cache_root

    from ._console import make_console

    console = make_console()
    root = root or default_cache_root()
    limit = parse_size(max_size) if max_size is not None else None
    parts = sorted(set(KNOWN_PARTS) | ({p.name for p in root.iterdir() if p.is_dir()} if root.is_dir() else set()))
    unknown = [p for p in clear or [] if p != "all" and p not in parts]
    if unknown:
        console.print(f"[bold red]error:[/] no cache part {', '.join(map(repr, unknown))} in {root}; the parts are: "
                      f"{', '.join(parts)} (or 'all'). Nothing was cleared.")
        raise typer.Exit(2)
    for part in clear or []:
        targets = [p for p in root.iterdir() if p.is_dir()] if part == "all" and root.is_dir() else [root / part]
        for target in targets:
            if target.is_dir():
                freed = size_of(target)
                kept = [e for e in sorted(target.iterdir()) if not remove(e)]
                freed -= sum(size_of(e) for e in kept)
                console.print(f"cleared {target} ({human(freed)})")
                if not kept:
                    shutil.rmtree(target, ignore_errors=True)
                else:
                    console.print(f"[yellow]note:[/] kept {len(kept)} entr{'y' if len(kept) == 1 else 'ies'} "
                                  "that a running lidscope process is still writing")
            elif part != "all":
                console.print(f"[yellow]note:[/] nothing cached under {target}")
    if limit is not None:
        for e in trim(root, limit):
            console.print(f"removed {e}")
    t = Table(title=f"lidscope cache: {root}", title_justify="left")
    for col in ("part", "entries", "size"):
        t.add_column(col, overflow="fold")
    total = 0
    for part in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        n, size = len(list(part.iterdir())), size_of(part)
        total += size
        t.add_row(part.name, str(n), human(size))
    t.add_row("total", "", human(total))
    console.print(t)


def register(app: typer.Typer) -> None:
    app.command("cache")(cache_command)
