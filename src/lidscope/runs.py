"""Reading a measurement's run folder back: summary, tokens, and (newer folders) texts and points.

`load_run` accepts a folder written by ``lidscope measure`` (or one measurement inside a
``compare`` folder or a results store's ``runs/<job>/``). Folders written before texts and
neighbour lists were kept load too: `Run.texts` / `Run.points` are then None and what needs them
says so (`MissingRunData`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lidscope.errors import LIDInputError
from lidscope.explain import POINTS_FILE, TEXTS_FILE
from lidscope.jsonio import nan_for_null, read_result_json


class MissingRunData(LIDInputError):
    """A run folder lacks a file that an operation needs (e.g. texts kept off, or an old folder)."""


@dataclass
class Run:
    """One measurement read from disk.

    Attributes:
        path: the folder.
        summary: ``summary.json`` as a dict.
        tokens: pandas DataFrame, one row per point and layer (``point``, ``layer``, ``lid``,
            ``token_id``, ``token``, ``seq_index``, ``position``, ``sequence_id``).
        texts: DataFrame ``seq_index``, ``sequence_id``, ``text`` or None.
        points: DataFrame ``layer``, ``point``, ``char_start``, ``char_end``, ``map_x``,
            ``map_y``, ``neighbors``, ``distances`` or None.
    """

    path: Path
    summary: dict[str, Any]
    tokens: Any
    texts: Any = None
    points: Any = None
    points_meta: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        m = self.summary.get("model", {}).get("name", "?")
        d = self.summary.get("data", {}).get("name", "?")
        return f"{m} on {d}"

    @property
    def layers(self) -> list[str]:
        return list(dict.fromkeys(self.tokens["layer"].astype(str)))

    def layer(self, layer: str | int | None = None) -> str:
        """The layer label to use: ``None`` = the run's first layer; ints are matched as text."""
        labels = self.layers
        if layer is None:
            return labels[0]
        if str(layer) not in labels:
            raise LIDInputError(f"layer {layer!r} is not in {self.path}; it has {', '.join(labels)}.")
        return str(layer)

    def layer_tokens(self, layer: str | int | None = None) -> Any:
        """Tokens of one layer, indexed by point, joined with spans/map/neighbours when kept."""
        lab = self.layer(layer)
        t = self.tokens[self.tokens["layer"].astype(str) == lab].set_index("point", drop=False).sort_index()
        if self.points is not None:
            p = self.points[self.points["layer"] == lab].set_index("point").drop(columns="layer")
            t = t.join(p, how="left")
        return t

    def require(self, what: str) -> None:
        if what == "texts" and self.texts is None:
            raise MissingRunData(
                f"{self.path} keeps no texts ({TEXTS_FILE}): it was measured with texts off (--no-keep-texts) "
                "or by an older lidscope. Measure again to see tokens in context.")
        if what == "points" and self.points is None:
            raise MissingRunData(
                f"{self.path} keeps no neighbour lists or map ({POINTS_FILE}): it was measured by an older "
                "lidscope. Measure again to see neighbours and the map.")


def is_run_folder(path: str | os.PathLike[str]) -> bool:
    p = Path(path)
    return (p / "tokens.parquet").is_file() and (p / "summary.json").is_file()


def load_run(path: str | os.PathLike[str]) -> Run:
    """Read a measurement folder (``summary.json`` + ``tokens.parquet``, optional texts/points)."""
    import pyarrow.parquet as pq

    p = Path(path)
    if not p.is_dir():
        raise LIDInputError(f"{p} is not a folder; give the output folder of `lidscope measure`.")
    if not is_run_folder(p):
        raise LIDInputError(
            f"{p} is not a measurement folder (it needs summary.json and tokens.parquet); give the folder "
            "that `lidscope measure --out` wrote, or one model/data folder inside a compare folder.")
    summary = read_result_json(p / "summary.json")  # strict JSON: undefined numbers back to NaN
    tokens = pq.read_table(p / "tokens.parquet").to_pandas()
    tokens["layer"] = tokens["layer"].astype(str)
    texts = pq.read_table(p / TEXTS_FILE).to_pandas() if (p / TEXTS_FILE).is_file() else None
    points = None
    meta: dict[str, Any] = {}
    if (p / POINTS_FILE).is_file():
        tab = pq.read_table(p / POINTS_FILE)
        raw = (tab.schema.metadata or {}).get(b"lidscope")
        meta = nan_for_null(json.loads(raw)) if raw else {}
        points = tab.to_pandas()
    return Run(p, summary, tokens, texts, points, meta)


def run_from_result(result: Any) -> Run:
    """A `Run` from a `lidscope.measure.MeasureResult` in memory (no files read)."""
    tokens = result.tokens.to_pandas()
    tokens["layer"] = tokens["layer"].astype(str)
    texts = result.texts.to_pandas() if getattr(result, "texts", None) is not None else None
    points = result.points.to_pandas() if getattr(result, "points", None) is not None else None
    return Run(Path(result.out_dir or "."), result.summary, tokens, texts, points,
               {"map_variance_share": result.summary.get("map", {}).get("variance_share", {})})
