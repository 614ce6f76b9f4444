"""``measure``: one model x one dataset -> pointwise local dimensions (paper steps 1-8).

texts (sample M) -> tokens (bucketed batches, filtering rules) -> token vectors of chosen layers
(cached on disk) -> point cloud (sample 150k, dedup, first N) -> `local_dimensions` (L neighbours,
TwoNN) -> result folder (``summary.json``, ``tokens.parquet``, ``lid.png``).

``compare`` runs ``measure`` for several models on several data specs and draws the paper's figure.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lidscope.cloud import Cloud, build_cloud
from lidscope.errors import LIDInputError
from lidscope.explain import KEEP_NEIGHBORS, explain_result, write_explanation
from lidscope.extract.cache import CacheWriter, EmbeddingCache, cache_key, cleanup_stale, lookup
from lidscope.extract.models import LoadedModel, default_cache_root, load_model, wrap_model
from lidscope.extract.texts import Texts, load_texts
from lidscope.extract.tokens import EXTRACTOR_VERSION, ExtractionConfig, TokenRules, extract
from lidscope.replicates import measure_replicates, plan_replicates
from lidscope.settings import N_REPLICATES, replicate_seeds

Progress = Callable[[str, int, int], None]

#: The paper's defaults (method.md), used unless overridden.
PAPER_DEFAULTS: dict[str, Any] = {
    "n_sequences": 10_000,
    "max_length": 512,
    "layers": (-1,),
    "sample_size": 150_000,
    "n_points": 60_000,
    "seed": 42,
    "n_neighbors": 128,
    "estimator": "twonn",
    "discard_fraction": 0.1,
}


@dataclass
class LayerResult:
    """Local dimensions of one layer label (``"-1"``, ``"mean(-2,-1)"``, ...)."""

    layer: str
    lid: Any  # lidscope.LocalDimensions over the cloud's points, in cloud order
    cloud: Cloud

    @property
    def values(self) -> np.ndarray:
        """float64 ``(n_points,)`` local estimates in cloud order."""
        return np.asarray(self.lid.estimates, dtype=np.float64)

    def stats(self) -> dict[str, Any]:
        s = self.lid.summary()
        s.pop("params", None)
        s.pop("timings_s", None)
        return s


@dataclass
class MeasureResult:
    """What `measure` returns. Statistics properties refer to the first (usually only) layer."""

    summary: dict[str, Any]
    layers: dict[str, LayerResult]
    tokens: Any  # pyarrow.Table, one row per point and layer
    out_dir: Path | None = None
    notes: list[str] = field(default_factory=list)
    points: Any = None  # pyarrow.Table of token spans, 2-D map and neighbour lists (lidscope.explain)
    texts: Any = None  # pyarrow.Table of the sampled texts, or None (keep_texts=False)

    @property
    def first(self) -> LayerResult:
        return next(iter(self.layers.values()))

    @property
    def estimates(self) -> np.ndarray:
        return self.first.values

    @property
    def mean(self) -> float:
        """Mean over replicates (replicate 0's mean when R = 1)."""
        return float(self.summary["layers"][self.first.layer]["mean"])

    @property
    def interval(self) -> Any:
        """`lidscope.stats.Interval` of the mean (replicates when R > 1, else the bootstrap)."""
        from lidscope.stats import Interval

        return Interval.from_dict(self.summary["layers"][self.first.layer]["interval"])

    @property
    def median(self) -> float:
        return float(self.first.lid.median)

    @property
    def std(self) -> float:
        return float(self.first.lid.std)

    @property
    def global_estimate(self) -> float:
        return float(self.first.lid.global_estimate)

    def __repr__(self) -> str:
        parts = ", ".join(f"layer {k}: mean={v.lid.mean:.3f}" for k, v in self.layers.items())
        return (f"MeasureResult({self.summary['model']['name']} on {self.summary['data']['name']}: "
                f"{parts}, n_points={self.first.lid.n_points}, out={self.out_dir})")


# --------------------------------------------------------------------------------------------


def environment() -> dict[str, Any]:
    """`lidscope.provenance.environment()` plus torch's CPU thread count."""
    from lidscope.provenance import environment as core_environment

    env = dict(core_environment())
    try:
        import torch

        env["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    return env


def _slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return s or "x"


def _resolve_model(
    model: Any, tokenizer: Any, *, gguf_file: str | None, trust_remote_code: bool, model_name: str | None,
    cache_root: Path | None,
) -> LoadedModel:
    if isinstance(model, LoadedModel):
        return model
    if isinstance(model, (str, os.PathLike)):
        loaded = load_model(model, gguf_file=gguf_file, trust_remote_code=trust_remote_code,
                            cache_root=cache_root)
        if model_name:
            loaded.name = model_name
        return loaded
    return wrap_model(model, tokenizer, model_name)


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=_json_default), encoding="utf-8")
    os.replace(tmp, path)


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, (set, tuple)):
        return list(o)
    return str(o)


def _tokens_table(loaded: LoadedModel, texts: Texts, layers: dict[str, LayerResult]) -> Any:
    import pyarrow as pa

    cols: dict[str, list[np.ndarray]] = {k: [] for k in
                                         ("point", "layer", "lid", "token_id", "token", "seq_index",
                                          "position", "sequence_id")}
    for label, lr in layers.items():
        c = lr.cloud
        n = len(c.rows)
        tid = c.meta["token_id"]
        cols["point"].append(np.arange(n, dtype=np.int64))
        cols["layer"].append(np.full(n, label, dtype=object))
        cols["lid"].append(lr.values)
        cols["token_id"].append(tid.astype(np.int64))
        cols["token"].append(np.asarray(loaded.tokenizer.convert_ids_to_tokens([int(t) for t in tid]), dtype=object))
        cols["seq_index"].append(c.meta["seq_index"].astype(np.int64))
        cols["position"].append(c.meta["position"].astype(np.int64))
        cols["sequence_id"].append(np.asarray([texts.ids[int(s)] for s in c.meta["seq_index"]], dtype=object))
    arrays = {k: np.concatenate(v) if v else np.zeros(0) for k, v in cols.items()}
    return pa.table({
        "point": pa.array(arrays["point"], pa.int64()),
        "layer": pa.array(arrays["layer"].tolist(), pa.string()),
        "lid": pa.array(arrays["lid"], pa.float64()),
        "token_id": pa.array(arrays["token_id"], pa.int64()),
        "token": pa.array([str(t) for t in arrays["token"]], pa.string()),
        "seq_index": pa.array(arrays["seq_index"], pa.int64()),
        "position": pa.array(arrays["position"], pa.int64()),
        "sequence_id": pa.array([str(s) for s in arrays["sequence_id"]], pa.string()),
    })


def _numerics_versions() -> dict[str, str]:
    """Versions of the libraries that compute the vectors (part of the embedding cache key)."""
    import torch
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__}


def measure(
    model: Any = "minilm",
    data: str | os.PathLike[str] | Iterable[str] | Texts = "chitchat:validation",
    *,
    tokenizer: Any = None,
    model_name: str | None = None,
    gguf_file: str | None = None,
    trust_remote_code: bool = False,
    split: str | None = None,
    text_column: str | None = None,
    n_sequences: int | None = 10_000,
    data_seed: int = 42,
    layers: Sequence[int] | int = (-1,),
    average_layers: bool = False,
    max_length: int = 512,
    batch_size: int = 64,
    max_batch_tokens: int = 16384,
    keep_bos: bool = True,
    drop_eos: bool = True,
    drop_special: bool = False,
    masked_tokens: bool = False,
    pad_token_id: int | None = None,
    sample_size: int | None = 150_000,
    n_points: int | None = 60_000,
    seed: int = 42,
    n_neighbors: int = 128,
    estimator: str = "twonn",
    discard_fraction: float = 0.1,
    backend: str = "auto",
    out: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    figures: bool = True,
    keep_texts: bool = True,
    keep_neighbors: int = KEEP_NEIGHBORS,
    n_replicates: int = N_REPLICATES,
    progress: Progress | None = None,
) -> MeasureResult:
    """Mean local intrinsic dimension of a model's contextual token embeddings on some texts.

    Args:
        model: bundled name (``minilm``, ``smollm2``), local model folder, ``.gguf`` path, a
            `LoadedModel`, or a loaded ``transformers`` model (then pass ``tokenizer``).
        data: data spec (``chitchat:validation``, a .txt/.jsonl/.csv/.parquet file, a
            ``save_to_disk`` folder, ``PATH:SPLIT``), an iterable of strings, or `Texts`.
        n_sequences: M, sequences sampled (seeded shuffle with ``data_seed``); None = all.
        layers: hidden-state indices (``-1`` last, ``0`` embeddings); several come from one pass
            and are measured separately unless ``average_layers``.
        max_length / batch_size / max_batch_tokens: truncation and batching (batches are
            length-bucketed and padded per batch only).
        keep_bos / drop_eos / drop_special: token rules (`lidscope.extract.tokens`).
        masked_tokens: masked-token mode for masked LMs.
        sample_size / n_points / seed: the cloud (`lidscope.cloud`): 150,000 sampled, dedup,
            first N = 60,000.
        n_neighbors / estimator / discard_fraction / backend: passed to `local_dimensions`.
        out: result folder (``summary.json``, ``tokens.parquet``, ``lid.png``); None = no files.
        cache_dir: embedding cache root (default ``$LIDSCOPE_CACHE/embeddings`` or
            ``~/.cache/lidscope/embeddings``); ``use_cache=False`` extracts into a temporary
            folder that is deleted afterwards.
        keep_texts: keep the sampled texts in the result (``texts.parquet``); off for private data.
        keep_neighbors: nearest neighbours kept per point (``points.parquet``, `lidscope.explain`).
        n_replicates: R independent replicates, each with its own sequence and token sample at
            the same M and N (`lidscope.replicates`); the mean is then the mean over replicates
            with a t-interval. The pointwise results (tokens, figures) are replicate 0's. With
            R = 1 the interval is the cluster bootstrap over sequences (``summary["interval"]``).
        progress: ``progress(stage, done, total)`` callback (stages ``load_model``, ``load_data``,
            ``tokenize``, ``extract``, ``extract_tokens``, ``cloud``, then those of
            `local_dimensions`, prefixed ``layer <label>: `` when several layers are measured).

    Raises:
        lidscope.extract.ModelLoadError / DataError / ExtractionError: bad model or data.
        lidscope.LIDInputError: fewer distinct token vectors than ``n_neighbors + 1``.
    """
    from lidscope import local_dimensions
    from lidscope.local import ESTIMATORS
    from lidscope.neighbors import resolve_backend

    # fail on bad estimator settings before the (expensive) forward pass
    if estimator not in ESTIMATORS:
        raise LIDInputError(f"estimator must be one of {', '.join(ESTIMATORS)}; got {estimator!r}.")
    if isinstance(n_neighbors, bool) or int(n_neighbors) < 3:
        raise LIDInputError(f"n_neighbors (L) must be an integer >= 3; got {n_neighbors!r}.")
    if not 0.0 <= float(discard_fraction) < 1.0:
        raise LIDInputError(f"discard_fraction must be in [0, 1); got {discard_fraction!r}.")
    resolve_backend(backend)
    if n_points is not None and int(n_points) < 1:
        raise LIDInputError(f"n_points (N) must be >= 1 or None; got {n_points!r}.")
    if isinstance(n_replicates, bool) or int(n_replicates) < 1:
        raise LIDInputError(f"n_replicates (R) must be an integer >= 1; got {n_replicates!r}.")

    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    notes: list[str] = []
    layer_tuple = (int(layers),) if isinstance(layers, int) else tuple(dict.fromkeys(int(x) for x in layers))
    cache_root = Path(cache_dir) if cache_dir is not None else default_cache_root() / "embeddings"

    def tick(stage: str, done: int = 1, total: int = 1) -> None:
        if progress:
            progress(stage, done, total)

    t = time.perf_counter()
    tick("load_model", 0, 1)
    loaded = _resolve_model(model, tokenizer, gguf_file=gguf_file, trust_remote_code=trust_remote_code,
                            model_name=model_name, cache_root=None)
    tick("load_model")
    timings["load_model"] = time.perf_counter() - t

    t = time.perf_counter()
    tick("load_data", 0, 1)
    plan = plan_replicates(data, replicate_seeds(data_seed, seed, n_replicates), split=split,
                           text_column=text_column, n_sequences=n_sequences)
    texts = plan.texts[0]
    tick("load_data")
    timings["load_data"] = time.perf_counter() - t

    config = ExtractionConfig(
        layers=layer_tuple, average_layers=average_layers, max_length=max_length, batch_size=batch_size,
        max_batch_tokens=max_batch_tokens,
        rules=TokenRules(keep_bos=keep_bos, drop_eos=drop_eos, drop_special=drop_special),
        masked_tokens=masked_tokens, pad_token_id=pad_token_id,
    )
    # Batching parameters change speed, and the vectors only at float rounding level (how rows are
    # padded and grouped): they stay out of the key, so a new batch size reuses the cache. The
    # extractor version and the numerical libraries are in it: a change there may move values.
    extraction_key = {k: v for k, v in config.to_dict().items()
                      if k not in ("batch_size", "max_batch_tokens", "pad_tolerance", "min_batch_tokens")}
    key_parts = {"model": loaded.fingerprint, "data": plan.union.fingerprint, "extraction": extraction_key,
                 "extractor": EXTRACTOR_VERSION, "libraries": _numerics_versions()}
    key = cache_key(key_parts)

    tmp_root: Path | None = None
    if not use_cache:
        tmp_root = Path(tempfile.mkdtemp(prefix="lidscope-extract-"))
        cache_root = tmp_root
    try:
        t = time.perf_counter()
        cache: EmbeddingCache | None = lookup(cache_root, key) if use_cache else None
        cache_hit = cache is not None
        if cache is None:
            cleanup_stale(cache_root)
            with CacheWriter(cache_root, key, config.layer_labels(), key_parts) as writer:
                stats = extract(loaded.model, loaded.tokenizer, plan.union.texts, config, writer, progress)
                cache = writer.commit({"extraction_stats": stats.to_dict()})
        timings["extract"] = time.perf_counter() - t
        extraction_stats = cache.info.get("extraction_stats", {})

        t = time.perf_counter()
        tick("cloud", 0, len(cache.layers))
        meta = cache.metadata()
        layer_results: dict[str, LayerResult] = {}
        clouds: dict[str, Cloud] = {}
        replicate_clouds: list[dict[str, Cloud]] = []
        for r, (_, seed_r) in enumerate(plan.seeds):
            rc: dict[str, Cloud] = {}
            for label in cache.layers:
                gather_r, n_r, meta_r = plan.source(
                    lambda rows, lab=label: cache.gather(lab, rows), meta, r)  # type: ignore[union-attr,misc]
                rc[label] = build_cloud(gather_r, n_r, meta=meta_r, sample_size=sample_size, n_points=n_points,
                                        seed=seed_r)
            replicate_clouds.append(rc)
            tick("cloud", r + 1, plan.n_replicates)
        clouds = replicate_clouds[0]
        timings["cloud"] = time.perf_counter() - t
    finally:
        if tmp_root is not None:
            shutil.rmtree(tmp_root, ignore_errors=True)

    for c in clouds.values():
        for note in c.notes:
            if note not in notes:
                notes.append(note)

    timings["neighbors"] = 0.0
    timings["estimates"] = 0.0
    for label, cloud in clouds.items():
        if cloud.counts["points"] < n_neighbors + 1:
            raise LIDInputError(
                f"only {cloud.counts['points']} distinct token vectors (layer {label}, from "
                f"{texts.counts['selected']} sequences, {cloud.counts['tokens']} tokens) but "
                f"L = {n_neighbors} neighbours need at least {n_neighbors + 1} points. Measure more "
                "sequences (--n-sequences, more text) or use fewer neighbours (--neighbors)."
            )
        prefix = f"layer {label}: " if len(clouds) > 1 else ""
        sub = (lambda s, d, n, p=prefix: progress(p + s, d, n)) if progress else None
        lid = local_dimensions(cloud.vectors, n_neighbors=n_neighbors, estimator=estimator,
                               discard_fraction=discard_fraction, dedup=True, backend=backend, progress=sub,
                               return_neighbors=keep_neighbors > 0)
        for stage in ("neighbors", "estimates"):
            timings[stage] += float(lid.timings.get(stage, 0.0))
        layer_results[label] = LayerResult(label, lid, cloud)

    t = time.perf_counter()
    uncertainty, replicate_rows = measure_replicates(
        plan, replicate_clouds, layer_results, n_neighbors=n_neighbors, estimator=estimator,
        discard_fraction=discard_fraction, backend=backend, progress=progress)
    timings["replicates"] = time.perf_counter() - t
    t = time.perf_counter()
    table = _tokens_table(loaded, texts, layer_results)
    timings["tokens_table"] = time.perf_counter() - t
    t = time.perf_counter()
    points, texts_kept, map_share = explain_result(loaded, texts, layer_results, config, keep_neighbors, keep_texts)
    timings["explain"] = time.perf_counter() - t

    first = next(iter(layer_results.values()))
    params = {
        "model": str(model) if isinstance(model, (str, os.PathLike)) else loaded.name,
        "data": str(data) if isinstance(data, (str, os.PathLike)) else texts.source,
        "gguf_file": gguf_file, "trust_remote_code": trust_remote_code, "split": split,
        "text_column": text_column, "n_sequences": n_sequences, "data_seed": data_seed,
        **{f"extraction.{k}": v for k, v in config.to_dict().items()},
        "sample_size": sample_size, "n_points": n_points, "seed": seed, "n_neighbors": n_neighbors,
        "estimator": estimator, "discard_fraction": discard_fraction, "backend": backend,
        "use_cache": use_cache, "keep_texts": keep_texts, "keep_neighbors": keep_neighbors,
        "n_replicates": plan.n_replicates,
    }
    counts = {
        "sequences_available": texts.counts["available"],
        "sequences_sampled": texts.counts["sampled"],
        "sequences_empty_dropped": texts.counts["empty_dropped"],
        "sequences": texts.counts["selected"],
        "sequences_extracted": len(plan.union),
        "sequences_at_max_length": extraction_stats.get("n_sequences_at_max_length"),
        "sequences_reused": extraction_stats.get("n_sequences_reused"),
        "tokens": extraction_stats.get("n_tokens"),
        "tokens_dropped_eos": extraction_stats.get("n_dropped_eos"),
        "tokens_dropped_bos": extraction_stats.get("n_dropped_bos"),
        "tokens_dropped_special": extraction_stats.get("n_dropped_special"),
        "tokens_kept": cache.n_rows,
        "positions_computed": extraction_stats.get("n_positions_computed"),
        "tokens_sampled": first.cloud.counts["sampled"],
        "duplicates_removed": first.cloud.counts["duplicates_removed"],
        "points": first.cloud.counts["points"],
        "points_requested": first.cloud.counts["points_requested"],
    }
    layer_summaries = {}
    for label, lr in layer_results.items():
        s = lr.stats()
        s["cloud_counts"] = lr.cloud.counts
        s["timings_s"] = dict(lr.lid.timings)
        s.update(uncertainty[label])
        layer_summaries[label] = s
    fs = first.stats()
    summary: dict[str, Any] = {
        "lidscope_result": "measure",
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "mean": uncertainty[first.layer]["mean"],
        "interval": uncertainty[first.layer]["interval"],
        "replicates": replicate_rows,
        "median": fs["median"],
        "std": fs["std"],
        "quantiles": fs["quantiles"],
        "global_estimate": fs["global_estimate"],
        "layer": first.layer,
        "layers": layer_summaries,
        "model": {"name": loaded.name, "source": loaded.source, "fingerprint": loaded.fingerprint,
                  **loaded.info},
        "data": {"name": texts.name, "source": texts.source, "fingerprint": texts.fingerprint,
                 **texts.params},
        "counts": counts,
        "params": params,
        "extraction": {**extraction_stats, "cache_key": key, "cache_hit": cache_hit,
                       "cache_dir": str(cache_root) if use_cache else None},
        "estimator_params": dict(first.lid.params),
        "timings_s": timings,
        "environment": environment(),
        "notes": notes,
    }
    summary["map"] = {"method": "PCA, first two components", "variance_share": map_share}
    result = MeasureResult(summary=summary, layers=layer_results, tokens=table, notes=notes, points=points,
                           texts=texts_kept)
    if out is not None:
        t = time.perf_counter()
        result.out_dir = write_result(result, out, figures=figures)
        timings["write"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t_start
    if result.out_dir is not None:
        _write_json(result.out_dir / "summary.json", summary)
    return result


def write_result(result: MeasureResult, out: str | os.PathLike[str], figures: bool = True) -> Path:
    """Write ``tokens.parquet``, ``points.parquet``, ``texts.parquet``, ``summary.json`` and, with
    ``figures``, ``lid.png`` and ``report.html`` (`lidscope.report`) into ``out`` (created)."""
    import pyarrow.parquet as pq

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".tokens.parquet.tmp"
    pq.write_table(result.tokens, tmp)
    os.replace(tmp, out / "tokens.parquet")
    files = ["summary.json", "tokens.parquet"]
    if result.points is not None:
        files += write_explanation(out, result.points, result.texts, result.summary.get("map", {}).get("variance_share"))
    if figures:
        from lidscope.plots import plot_distribution

        s = result.summary
        values = {k: v.values for k, v in result.layers.items()}
        title = (f"{s['model']['name']} on {s['data']['name']}: mean LID "
                 + ", ".join(f"{v.lid.mean:.2f}" for v in result.layers.values())
                 + f" (N={result.first.lid.n_points}, L={s['params']['n_neighbors']})")
        plot_distribution(values if len(values) > 1 else next(iter(values.values())), out / "lid.png", title)
        files.append("lid.png")
        from lidscope.report import write_report
        from lidscope.runs import run_from_result

        result.out_dir = out
        write_report([run_from_result(result)], out / "report.html")
        files.append("report.html")
    result.summary["files"] = files
    _write_json(out / "summary.json", result.summary)
    return out


# --------------------------------------------------------------------------------------------


@dataclass
class CompareResult:
    """Results of `compare`: ``results[data_label][model_label]`` plus the figure paths."""

    results: dict[str, dict[str, MeasureResult]]
    figures: list[Path]
    out_dir: Path | None

    def table(self) -> list[dict[str, Any]]:
        """One row per (data, model): mean, median, std, global estimate, points."""
        rows = []
        for d, models in self.results.items():
            for m, r in models.items():
                rows.append({"data": d, "model": m, "mean": r.mean, "median": r.median, "std": r.std,
                             "global_estimate": r.global_estimate, "n_points": r.first.lid.n_points,
                             "result_dir": str(r.out_dir) if r.out_dir else None})
        return rows


def compare(
    models: Sequence[Any],
    data: Sequence[str | os.PathLike[str]],
    *,
    out: str | os.PathLike[str] | None = None,
    model_names: Sequence[str] | None = None,
    gguf_file: str | None = None,
    trust_remote_code: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    on_result: Callable[[str, str, MeasureResult], None] | None = None,
    **measure_kwargs: Any,
) -> CompareResult:
    """Measure every model on every data spec; draw violins per dataset with means.

    Each model is loaded once. Files under ``out``: ``<model>/<data>/`` result folders,
    ``compare.json`` (table of statistics), ``violin-<data>.png`` per dataset and
    ``compare.png`` (all datasets side by side). ``measure_kwargs`` go to `measure`.
    """
    if not models or not data:
        raise ValueError("compare needs at least one model and one data spec.")
    out_dir = Path(out) if out is not None else None
    results: dict[str, dict[str, MeasureResult]] = {}
    used: set[str] = set()
    for i, spec in enumerate(models):
        name = model_names[i] if model_names and i < len(model_names) else None
        if progress:
            progress("load_model", 0, 1)
        loaded = _resolve_model(spec, measure_kwargs.pop("tokenizer", None), gguf_file=gguf_file,
                                trust_remote_code=trust_remote_code, model_name=name, cache_root=None)
        label = loaded.name
        k = 2
        while label in used:
            label = f"{loaded.name}-{k}"
            k += 1
        used.add(label)
        for dspec in data:
            dlabel = _data_label(dspec)
            sub_out = out_dir / _slug(label) / _slug(dlabel) if out_dir else None
            r = measure(loaded, dspec, out=sub_out, cache_dir=cache_dir, progress=progress, **measure_kwargs)
            results.setdefault(dlabel, {})[label] = r
            if on_result:
                on_result(label, dlabel, r)
    figures: list[Path] = []
    cr = CompareResult(results, figures, out_dir)
    if out_dir is not None:
        from lidscope.plots import plot_compare

        groups = {d: {m: r.estimates for m, r in ms.items()} for d, ms in results.items()}
        for d, g in groups.items():
            figures.append(plot_compare({d: g}, out_dir / f"violin-{_slug(d)}.png",
                                        title=f"Pointwise local dimension on {d}"))
        figures.append(plot_compare(groups, out_dir / "compare.png"))
        from lidscope.report import write_report
        from lidscope.runs import run_from_result

        figures.append(write_report([run_from_result(r) for ms in results.values() for r in ms.values()],
                                    out_dir / "report.html"))
        _write_json(out_dir / "compare.json", {"rows": cr.table(), "figures": [str(f) for f in figures],
                                               "params": {k: v for k, v in measure_kwargs.items()}})
    return cr


def _data_label(spec: Any) -> str:
    if isinstance(spec, (str, os.PathLike)):
        s = os.fspath(spec)
        p = Path(s)
        return p.stem if p.exists() else s
    return "texts"
