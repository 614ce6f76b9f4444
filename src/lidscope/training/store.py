"""The results store of a training run: LID over checkpoints, and the trainer's metrics by step.

A store is a folder (a Parquet dataset, readable by pyarrow, pandas, DuckDB, polars)::

    STORE/
      store.json                  format marker
      rows/<job_id>.parquet       one file per finished measurement (one row per layer): the
                                  presence of the file is what "finished" means, it is written
                                  atomically and never rewritten, so an interrupted sweep loses
                                  nothing and recomputes nothing
      runs/<job_id>/              per-token file (tokens.parquet) and summary.json of that measurement
      metrics/<run>.parquet       long table (run, step, name, value) from trainer_state.json log
                                  history or from in-training logging
      failed/<job_id>.json        the last error of a job that could not run (retried next time)

One row = one checkpoint x data spec (dataset + split) x layer x estimator settings, with the summary
statistics of the pointwise local dimensions and a link (``tokens_file``) to the per-token values.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lidscope.outputs import write_json

STORE_FORMAT = 1

#: Columns of a store row, in order, with their Arrow types (``string``, ``int64``, ``float64``).
ROW_SCHEMA: dict[str, str] = {
    "job_id": "string", "source": "string", "run": "string", "seed": "int64", "step": "int64",
    "checkpoint": "string", "data": "string", "data_name": "string", "split": "string",
    "layer": "string", "estimator": "string", "n_neighbors": "int64", "n_points_requested": "int64",
    "n_sequences_requested": "int64", "data_seed": "int64", "sample_seed": "int64",
    "discard_fraction": "float64", "max_length": "int64", "settings_id": "string", "settings": "string",
    "mean": "float64", "median": "float64", "std": "float64", "q05": "float64", "q25": "float64",
    "q75": "float64", "q95": "float64", "min": "float64", "max": "float64",
    "global_estimate": "float64", "n_points": "int64", "n_sequences": "int64", "n_tokens": "int64",
    "data_fingerprint": "string", "model_fingerprint": "string", "tokens_file": "string",
    "summary_file": "string", "seconds": "float64", "created_utc": "string",
    # uncertainty of the mean (lidscope.stats; docs/statistics.md): standard error, 95 % interval,
    # how it was made (``replicates`` or ``bootstrap``), R, and the per-replicate means as JSON
    "mean_se": "float64", "mean_low": "float64", "mean_high": "float64", "interval_method": "string",
    "n_replicates": "int64", "replicate_means": "string",
    # geometry descriptors of the layer's cloud (``--metrics``; docs/geometry.md) as JSON: values, intervals
    # over replicates, unavailable ones with the reason, parameters (diagrams stay in the summary file)
    "geometry": "string",
}

#: Metrics of the trainer's log history that describe speed or bookkeeping, not the task.
BOOKKEEPING_METRICS = frozenset({
    "epoch", "step", "total_flos", "train_runtime", "train_samples_per_second", "train_steps_per_second",
    "eval_runtime", "eval_samples_per_second", "eval_steps_per_second", "grad_norm", "learning_rate",
    "num_input_tokens_seen",
})


class StoreError(ValueError):
    """A results store that is missing, empty, or asked for something it does not hold."""


class MetricNotFoundError(StoreError, KeyError):
    """A metric name that the store's metric tables do not contain."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def now_utc() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _arrow_type(name: str) -> Any:
    import pyarrow as pa

    return {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64()}[name]


def _clean(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "int64":
        return int(value)
    if kind == "float64":
        v = float(value)
        return v
    return str(value)


class ResultsStore:
    """A results store folder; created on first write.

    Args:
        path: the store folder.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    # ------------------------------------------------------------------ layout
    @property
    def rows_dir(self) -> Path:
        return self.path / "rows"

    @property
    def runs_dir(self) -> Path:
        return self.path / "runs"

    @property
    def metrics_dir(self) -> Path:
        return self.path / "metrics"

    @property
    def failed_dir(self) -> Path:
        return self.path / "failed"

    def job_dir(self, job_id: str) -> Path:
        """Folder for the per-token file and summary of one measurement."""
        return self.runs_dir / job_id

    def ensure(self) -> ResultsStore:
        """Create the folder layout (idempotent)."""
        for d in (self.rows_dir, self.runs_dir, self.metrics_dir, self.failed_dir):
            d.mkdir(parents=True, exist_ok=True)
        marker = self.path / "store.json"
        if not marker.exists():
            write_json(marker, {"lidscope_store": STORE_FORMAT, "created_utc": now_utc()})
        return self

    def exists(self) -> bool:
        return (self.path / "store.json").is_file() or self.rows_dir.is_dir()

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.path)!r}, finished={len(self.done_ids())})"

    # ------------------------------------------------------------------ rows
    def done_ids(self) -> set[str]:
        """Job ids with a finished row file."""
        if not self.rows_dir.is_dir():
            return set()
        return {p.stem for p in self.rows_dir.glob("*.parquet") if not p.name.startswith(".")}

    def is_done(self, job_id: str) -> bool:
        return (self.rows_dir / f"{job_id}.parquet").is_file()

    def add_rows(self, job_id: str, rows: Sequence[Mapping[str, Any]]) -> Path:
        """Write the rows of one finished job atomically; the job then counts as done.

        Unknown keys raise; missing ones are stored as null.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not rows:
            raise StoreError(f"job {job_id} produced no rows; nothing to store.")
        extra = set().union(*(r.keys() for r in rows)) - set(ROW_SCHEMA)
        if extra:
            raise StoreError(f"unknown store columns {sorted(extra)}; known: {list(ROW_SCHEMA)}")
        self.ensure()
        cols = {name: pa.array([_clean(r.get(name), kind) for r in rows], _arrow_type(kind))
                for name, kind in ROW_SCHEMA.items()}
        table = pa.table(cols)
        final = self.rows_dir / f"{job_id}.parquet"
        tmp = self.rows_dir / f".{job_id}.{uuid.uuid4().hex[:8]}.tmp"
        pq.write_table(table, tmp)
        os.replace(tmp, final)
        (self.failed_dir / f"{job_id}.json").unlink(missing_ok=True)
        return final

    def record_failure(self, job_id: str, info: Mapping[str, Any]) -> Path:
        """Remember why a job failed (it stays not-done and is retried by the next sweep)."""
        self.ensure()
        return write_json(self.failed_dir / f"{job_id}.json", {**info, "recorded_utc": now_utc()})

    def failures(self) -> list[dict[str, Any]]:
        if not self.failed_dir.is_dir():
            return []
        return [json.loads(p.read_text()) for p in sorted(self.failed_dir.glob("*.json"))]

    def read(self, require: bool = False) -> Any:
        """All rows as a pandas DataFrame sorted by (data, layer, run, step); empty frame if none.

        Args:
            require: raise `StoreError` (naming the fix) when the store holds no rows.
        """
        import pandas as pd
        import pyarrow as pa
        import pyarrow.parquet as pq

        files = sorted(p for p in self.rows_dir.glob("*.parquet") if not p.name.startswith(".")) \
            if self.rows_dir.is_dir() else []
        if not files:
            if require:
                raise StoreError(self._empty_message())
            return pd.DataFrame({k: pd.Series(dtype=_pandas_dtype(v)) for k, v in ROW_SCHEMA.items()})
        # row files written before a column was added lack it: promotion fills it with nulls
        table = pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")
        df = table.to_pandas()
        return df.sort_values(["data", "layer", "run", "step"], kind="stable").reset_index(drop=True)

    def _empty_message(self) -> str:
        if not self.path.exists():
            return (f"results store {self.path} does not exist. Run `lidscope sweep RUN_DIR --data SPEC "
                    f"--out {self.path}` (or train with LIDCallback(store=...)) first.")
        return (f"results store {self.path} holds no finished measurements yet. Run `lidscope sweep "
                f"RUN_DIR --data SPEC --out {self.path}` first"
                + (f" ({len(self.failures())} jobs failed: see {self.failed_dir})" if self.failures() else "")
                + ".")

    # ------------------------------------------------------------------ metrics
    def write_metrics(self, run: str, records: Iterable[tuple[int, str, float]]) -> Path | None:
        """Replace the metric table of ``run`` with ``(step, name, value)`` records (atomic)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        recs = [(int(s), str(n), float(v)) for s, n, v in records]
        if not recs:
            return None
        self.ensure()
        table = pa.table({
            "run": pa.array([run] * len(recs), pa.string()),
            "step": pa.array([r[0] for r in recs], pa.int64()),
            "name": pa.array([r[1] for r in recs], pa.string()),
            "value": pa.array([r[2] for r in recs], pa.float64()),
        })
        final = self.metrics_dir / f"{_safe_name(run)}.parquet"
        tmp = self.metrics_dir / f".{final.stem}.{uuid.uuid4().hex[:8]}.tmp"
        pq.write_table(table, tmp)
        os.replace(tmp, final)
        return final

    def append_metrics(self, run: str, records: Iterable[tuple[int, str, float]]) -> Path | None:
        """Add records to ``run``'s metric table, replacing equal (step, name) pairs."""
        old = self.read_metrics(runs=[run])
        merged: dict[tuple[int, str], float] = {
            (int(s), str(n)): float(v) for s, n, v in zip(old["step"], old["name"], old["value"])
        }
        for s, n, v in records:
            merged[(int(s), str(n))] = float(v)
        return self.write_metrics(run, [(s, n, v) for (s, n), v in sorted(merged.items())])

    def read_metrics(self, runs: Sequence[str] | None = None) -> Any:
        """Metrics as a long DataFrame (run, step, name, value)."""
        import pandas as pd
        import pyarrow as pa
        import pyarrow.parquet as pq

        files = sorted(p for p in self.metrics_dir.glob("*.parquet") if not p.name.startswith(".")) \
            if self.metrics_dir.is_dir() else []
        if runs is not None:
            wanted = {_safe_name(r) for r in runs}
            files = [f for f in files if f.stem in wanted]
        if not files:
            return pd.DataFrame({"run": pd.Series(dtype=str), "step": pd.Series(dtype="int64"),
                                 "name": pd.Series(dtype=str), "value": pd.Series(dtype="float64")})
        return pa.concat_tables([pq.read_table(f) for f in files]).to_pandas()

    def metric_names(self, task_only: bool = False) -> list[str]:
        """Distinct metric names; ``task_only`` leaves out bookkeeping (runtime, learning rate, ...)."""
        names = sorted(set(self.read_metrics()["name"]))
        if task_only:
            names = [n for n in names if n not in BOOKKEEPING_METRICS and not n.startswith("lid/")]
        return names

    def check_metrics(self, names: Sequence[str]) -> None:
        """Raise `MetricNotFoundError` naming the available metrics if any of ``names`` is unknown."""
        available = self.metric_names()
        missing = [n for n in names if n not in available]
        if missing:
            shown = ", ".join(available) if available else "none (no trainer_state.json was found)"
            raise MetricNotFoundError(
                f"metric {', '.join(map(repr, missing))} not in {self.path}; available metrics: {shown}."
            )

    def joined(self, metrics: Sequence[str] | None = None) -> Any:
        """Rows with metric columns joined on (run, step): exact step matches, NaN where none.

        Args:
            metrics: metric names to join (default: every task metric).
        """
        rows = self.read()
        m = self.read_metrics()
        names = list(metrics) if metrics is not None else self.metric_names(task_only=True)
        if metrics is not None:
            self.check_metrics(names)
        if m.empty or not names:
            return rows
        wide = (m[m["name"].isin(names)]
                .pivot_table(index=["run", "step"], columns="name", values="value", aggfunc="last")
                .reset_index())
        wide.columns.name = None
        return rows.merge(wide, on=["run", "step"], how="left")


def _pandas_dtype(kind: str) -> str:
    return {"string": "object", "int64": "Int64", "float64": "float64"}[kind]


def _safe_name(name: str) -> str:
    import re

    s = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return s or "run"


# ---------------------------------------------------------------------------- trainer_state.json


def read_log_history(path: str | os.PathLike[str]) -> list[tuple[int, str, float]]:
    """``(step, name, value)`` records of the numeric entries of a ``trainer_state.json`` log history.

    Raises:
        StoreError: the file is not valid JSON or has no ``log_history`` list.
    """
    p = Path(path)
    try:
        state = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"{p} is not a readable trainer_state.json ({exc}).") from None
    history = state.get("log_history") if isinstance(state, dict) else None
    if not isinstance(history, list):
        raise StoreError(f"{p} has no 'log_history' list; is it a transformers trainer_state.json?")
    out: list[tuple[int, str, float]] = []
    for entry in history:
        if not isinstance(entry, dict) or "step" not in entry:
            continue
        step = int(entry["step"])
        for k, v in entry.items():
            if k == "step" or isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            if math.isfinite(float(v)):
                out.append((step, k, float(v)))
    return out


def lid_log_entries(row: Mapping[str, Any], name: str | None = None) -> dict[str, float]:
    """``lid/<name>/<stat>`` values of one store row, as logged to the Trainer."""
    label = name or str(row.get("data_name") or row.get("data"))
    if row.get("layer") not in (None, "-1"):
        label = f"{label}/layer{row['layer']}"
    out = {}
    for stat in ("mean", "mean_se", "median", "std", "q25", "q75", "global_estimate"):
        v = row.get(stat)
        if v is not None and math.isfinite(float(v)):
            out[f"lid/{label}/{stat}"] = float(v)
    out.update(geometry_log_entries(row.get("geometry"), label))
    return out


#: The list of a per-scale descriptor that names its scales, and the prefix of those names.
_SCALE_KEYS = {"scale_profile": ("n_neighbors", "L"), "gride": ("n2", "n2=")}


def geometry_log_entries(geometry_json: str | None, label: str) -> dict[str, float]:
    """``geometry/<label>/<descriptor>/<value>`` of a store row's geometry column: every number, and every
    entry of a per-scale list named by its scale (``scale_profile/mean_L128``, ``gride/dimension_n2=64``)."""
    if not geometry_json:
        return {}
    values = json.loads(geometry_json).get("values", {})
    out: dict[str, float] = {}
    for name, vals in values.items():
        scale_key, prefix = _SCALE_KEYS.get(name, (None, ""))
        for key, v in vals.items():
            if isinstance(v, bool):
                continue
            if isinstance(v, (int, float)):
                out[f"geometry/{label}/{name}/{key}"] = float(v)
            elif isinstance(v, list) and scale_key and key not in ("n1", "n2", "n_neighbors") \
                    and len(v) == len(vals[scale_key]):
                for sc, x in zip(vals[scale_key], v):
                    out[f"geometry/{label}/{name}/{key}_{prefix}{sc}"] = float(x)
    return out
