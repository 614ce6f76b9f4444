"""Deprecated: the writers moved to `lidscope.outputs` (one atomic JSON writer for the package)."""

from __future__ import annotations

from lidscope.outputs import write_json, write_parquet

__all__ = ["write_json", "write_parquet"]
