"""Measurement settings shared by sweeps, the Trainer callback and the PyTorch monitor."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from lidscope.training.store import now_utc

#: Settings that change speed, never the measured values: kept out of the identity.
_SPEED_ONLY = ("batch_size", "max_batch_tokens")


@dataclass(frozen=True)
class MeasureSettings:
    """How each checkpoint is measured (passed to `lidscope.measure.measure`).

    The defaults are sized for sweeps over many checkpoints on a CPU (M = 2,000 sequences,
    N = 10,000 points); the paper uses M = 10,000 and N = 60,000 (`paper()`). L, the estimator,
    the token sample and the sequence sample are the paper's. Every checkpoint of a sweep is
    measured on the same M sequences (seeded by ``data_seed``) and the same token sample
    (``seed``), so values are comparable across steps.
    """

    n_sequences: int | None = 2_000
    n_points: int | None = 10_000
    n_neighbors: int = 128
    layers: tuple[int, ...] = (-1,)
    sample_size: int | None = 150_000
    seed: int = 42
    data_seed: int = 42
    max_length: int = 512
    estimator: str = "twonn"
    discard_fraction: float = 0.1
    text_column: str | None = None
    batch_size: int = 64
    max_batch_tokens: int = 16_384
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(int(x) for x in self.layers))
        if self.n_neighbors < 2:
            raise ValueError(f"n_neighbors must be >= 2 (got {self.n_neighbors}).")
        if self.n_points is not None and self.n_points <= self.n_neighbors:
            raise ValueError(f"n_points ({self.n_points}) must exceed n_neighbors ({self.n_neighbors}).")

    @classmethod
    def paper(cls, **overrides: Any) -> MeasureSettings:
        """The paper's M = 10,000 and N = 60,000."""
        return cls(**{"n_sequences": 10_000, "n_points": 60_000, **overrides})

    def replace(self, **changes: Any) -> MeasureSettings:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["layers"] = list(self.layers)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MeasureSettings:
        d = dict(d)
        d["layers"] = tuple(d.get("layers", (-1,)))
        return cls(**d)

    def identity(self) -> dict[str, Any]:
        """The settings that determine the numbers (batching left out)."""
        return {k: v for k, v in self.to_dict().items() if k not in _SPEED_ONLY}

    @property
    def settings_id(self) -> str:
        text = json.dumps(self.identity(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def measure_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `lidscope.measure.measure`."""
        return {
            "n_sequences": self.n_sequences, "n_points": self.n_points, "n_neighbors": self.n_neighbors,
            "layers": self.layers, "sample_size": self.sample_size, "seed": self.seed,
            "data_seed": self.data_seed, "max_length": self.max_length, "estimator": self.estimator,
            "discard_fraction": self.discard_fraction, "text_column": self.text_column,
            "batch_size": self.batch_size, "max_batch_tokens": self.max_batch_tokens, **self.extra,
        }


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
            "created_utc": created,
        })
    for r in rows:
        for k in ("mean", "median", "std"):
            if r[k] is not None and not math.isfinite(float(r[k])):
                r[k] = float("nan")
    return rows
