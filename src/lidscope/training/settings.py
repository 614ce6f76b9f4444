"""Store rows from a measurement. `MeasureSettings` moved to `lidscope.settings`.

``from lidscope.training.settings import MeasureSettings`` still works but is deprecated: import it
from `lidscope.settings` (or `lidscope.training`).
"""

from __future__ import annotations

import json
import math
import warnings
from typing import TYPE_CHECKING, Any

from lidscope.training.store import now_utc

if TYPE_CHECKING:
    from lidscope.settings import MeasureSettings


def __getattr__(name: str) -> Any:
    if name == "MeasureSettings":
        warnings.warn("lidscope.training.settings.MeasureSettings moved to lidscope.settings.MeasureSettings",
                      DeprecationWarning, stacklevel=2)
        from lidscope.settings import MeasureSettings

        return MeasureSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

def _interval_columns(ls: dict[str, Any], replicates: list[dict[str, Any]], label: str) -> dict[str, Any]:
    iv = ls.get("interval") or {}
    return {"mean_se": iv.get("se"), "mean_low": iv.get("low"), "mean_high": iv.get("high"),
            "interval_method": iv.get("method"), "n_replicates": ls.get("n_replicates", len(replicates) or None),
            "replicate_means": json.dumps([r["means"][label] for r in replicates]) if replicates else None}


def _geometry_column(g: dict[str, Any] | None) -> str | None:
    """The layer's geometry summary as strict JSON without the diagrams (None when not measured)."""
    if not g:
        return None
    def strict(v: Any) -> Any:  # JSON null for a non-finite number (e.g. an interval of one replicate)
        if isinstance(v, dict):
            return {k: strict(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [strict(x) for x in v]
        return None if isinstance(v, float) and not math.isfinite(v) else v

    kept = {k: strict(v) for k, v in g.items() if k != "persistence_diagrams"}
    return json.dumps(kept, sort_keys=True, default=str, allow_nan=False)


def rows_from_measure(
    result: Any,
    *,
    settings: MeasureSettings,
    job_id: str,
    source: str,
    run: str,
    step: int,
    data: str,
    checkpoint: str | None = None,
    seed: int | None = None,
    tokens_file: str | None = None,
    summary_file: str | None = None,
    seconds: float | None = None,
    data_name: str | None = None,
) -> list[dict[str, Any]]:
    """Store rows (one per layer) from a `lidscope.measure.MeasureResult`."""
    s = result.summary
    counts = s.get("counts", {})
    created = now_utc()
    rows = []
    for label, ls in s["layers"].items():
        q = ls.get("quantiles", {})
        rows.append({
            "job_id": job_id, "source": source, "run": run, "seed": seed, "step": int(step),
            "checkpoint": checkpoint, "data": data, "data_name": data_name or s["data"]["name"],
            "split": s["data"].get("split"), "layer": str(label), "estimator": settings.estimator,
            "n_neighbors": settings.n_neighbors, "n_points_requested": settings.n_points,
            "n_sequences_requested": settings.n_sequences, "data_seed": settings.data_seed,
            "sample_seed": settings.seed, "discard_fraction": settings.discard_fraction,
            "max_length": settings.max_length, "settings_id": settings.settings_id,
            "settings": json.dumps(settings.identity(), sort_keys=True, default=str),
            "mean": ls["mean"], "median": ls["median"], "std": ls["std"],
            "q05": q.get("0.05"), "q25": q.get("0.25"), "q75": q.get("0.75"), "q95": q.get("0.95"),
            "min": ls.get("min"), "max": ls.get("max"), "global_estimate": ls.get("global_estimate"),
            "n_points": ls.get("n_points"), "n_sequences": counts.get("sequences"),
            "n_tokens": counts.get("tokens_kept"), "data_fingerprint": s["data"].get("fingerprint"),
            "model_fingerprint": (s["model"].get("fingerprint") or {}).get("id"),
            "tokens_file": tokens_file, "summary_file": summary_file,
            "seconds": seconds if seconds is not None else s.get("timings_s", {}).get("total"),
            "created_utc": created, **_interval_columns(ls, s.get("replicates") or [], label),
            "geometry": _geometry_column(ls.get("geometry")),
        })
    for r in rows:
        for k in ("mean", "median", "std"):
            if r[k] is not None and not math.isfinite(float(r[k])):
                r[k] = float("nan")
    return rows
