"""``measure``: one model x one dataset -> pointwise local dimensions (paper steps 1-8).

texts (sample M) -> tokens (bucketed batches, filtering rules) -> token vectors of chosen layers
(cached on disk) -> point cloud (sample 150k, dedup, first N) -> `local_dimensions` (L neighbours,
TwoNN) -> `MeasureResult`. This module computes and touches no files except the embedding cache;
`lidscope.outputs` writes result folders (``out=`` here is a shortcut to it).

``compare`` runs ``measure`` for several models on several data specs (`CompareResult`).
Defaults and checks come from `lidscope.settings` (``measure`` and ``compare`` use the paper's
preset, `MeasureSettings.paper`); every setting is checked before a model is loaded.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import inspect
import math
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lidscope.cloud import Cloud, build_cloud
from lidscope.descriptors import geometry
from lidscope.errors import LIDInputError
from lidscope.explain import KEEP_NEIGHBORS, explain_result, write_explanation
from lidscope.extract.errors import ExtractionError
from lidscope.extract.cache import CacheWriter, EmbeddingCache, cache_key, cleanup_stale, lookup
from lidscope.extract.models import LoadedModel, default_cache_root, load_model, wrap_model
from lidscope.extract.texts import Texts, load_texts
from lidscope.extract.tokens import EXTRACTOR_VERSION, ExtractionConfig, TokenRules, extract, hidden_state_count
from lidscope.provenance import environment
from lidscope.replicates import ONE_REPLICATE_NOTE, ReplicatesNotIndependent, measure_replicates, plan_replicates
from lidscope.stats import replicate_interval
from lidscope.settings import ALL_LAYERS, COMPARE_N_REPLICATES, PAPER, MeasureSettings, parse_layers, replicate_seeds

Progress = Callable[[str, int, int], None]

#: The paper's defaults (method.md) as a dict; kept for compatibility: use `lidscope.settings.PAPER`.
PAPER_DEFAULTS: dict[str, Any] = {
    k: getattr(PAPER, k) for k in ("n_sequences", "max_length", "layers", "sample_size", "n_points", "seed",
                                   "n_neighbors", "estimator", "discard_fraction")
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
    #: per replicate ``{layer: (pointwise estimates, sequence index per point)}`` (paired comparisons)
    replicate_points: list[Any] = field(default_factory=list)
    points: Any = None  # pyarrow.Table of token spans, 2-D map and neighbour lists (lidscope.explain)
    texts: Any = None  # pyarrow.Table of the sampled texts, or None (keep_texts=False)
    settings: MeasureSettings | None = None  # the validated settings (``settings_id`` identifies them)

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
        """`lidscope.stats.Interval` of the mean over replicates (R > 1); with R = 1 its bounds are NaN."""
        from lidscope.stats import Interval

        return Interval.from_dict(self.summary["layers"][self.first.layer]["interval"])

    @property
    def statistics(self) -> str:
        """Which sample `mean`, `median`, `std` and `global_estimate` describe: ``mean over 3 replicates``
        (each the mean of that statistic over the replicates) or ``one replicate``. Replicate 0's own values
        (the points of `tokens` and the figures) are in ``summary["layers"][layer]["replicate_0"]``."""
        return str(self._layer_summary.get("statistics", "one replicate"))

    @property
    def _layer_summary(self) -> dict[str, Any]:
        return self.summary["layers"][self.first.layer]

    @property
    def median(self) -> float:
        """Median of the local estimates (mean over replicates of each replicate's median when R > 1)."""
        return float(self._layer_summary["median"])

    @property
    def profile(self) -> Any:
        """`lidscope.profile.LayerProfile` of the measured layers (mean with interval per layer, peak);
        meant for ``layers="all"``."""
        from lidscope.profile import layer_profile

        return layer_profile(self)

    @property
    def std(self) -> float:
        """Standard deviation of the local estimates (mean over replicates when R > 1)."""
        return float(self._layer_summary["std"])

    @property
    def global_estimate(self) -> float:
        """Global TwoNN of the cloud (mean over replicates when R > 1)."""
        return float(self._layer_summary["global_estimate"])

    def __repr__(self) -> str:
        parts = ", ".join(f"layer {k}: mean={_mean_text(self.summary['layers'][k])}" for k in self.layers)
        return (f"MeasureResult({self.summary['model']['name']} on {self.summary['data']['name']}: "
                f"{parts}, n_points={self.first.lid.n_points}, out={self.out_dir})")


def _mean_text(layer_summary: dict[str, Any]) -> str:
    """``8.412 (95 % interval 8.30 to 8.52, 3 replicates)``, or the mean and ``no interval, one replicate``."""
    iv = layer_summary.get("interval") or {}
    low, high, n = iv.get("low", math.nan), iv.get("high", math.nan), iv.get("n", 1)
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return f"{layer_summary['mean']:.3f} (no interval, one replicate)"
    return f"{layer_summary['mean']:.3f} (95 % interval {low:.3f} to {high:.3f}, {n} replicates)"


# --------------------------------------------------------------------------------------------


def check_enough_tokens(n_tokens_kept: int, n_sequences: int, n_neighbors: int) -> None:
    """Refuse, before the forward pass, texts with fewer kept tokens than the L + 1 points a
    measurement needs (duplicates can only lower the count further)."""
    if n_tokens_kept < n_neighbors + 1:
        raise LIDInputError(
            f"{n_sequences} sequences give {n_tokens_kept} tokens after the token rules, but L = {n_neighbors} "
            f"neighbours need at least {n_neighbors + 1} points. Measure more sequences (--n-sequences, more "
            "text) or use fewer neighbours (--neighbors)."
        )


def _resolve_model(
    model: Any, tokenizer: Any, *, gguf_file: str | None, trust_remote_code: bool, model_name: str | None,
    cache_root: Path | None, revision: str | None = None,
) -> LoadedModel:
    if isinstance(model, LoadedModel):
        return model
    if isinstance(model, (str, os.PathLike)):
        loaded = load_model(model, gguf_file=gguf_file, trust_remote_code=trust_remote_code,
                            cache_root=cache_root, revision=revision)
        if model_name:
            loaded.name = model_name
        return loaded
    return wrap_model(model, tokenizer, model_name)


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
    settings: MeasureSettings | None = None,
    tokenizer: Any = None,
    model_name: str | None = None,
    gguf_file: str | None = None,
    trust_remote_code: bool = False,
    revision: str | None = None,
    split: str | None = None,
    text_column: str | None = PAPER.text_column,
    n_sequences: int | None = PAPER.n_sequences,
    data_seed: int = PAPER.data_seed,
    layers: Sequence[int] | int | str = PAPER.layers,
    average_layers: bool = False,
    max_length: int = PAPER.max_length,
    batch_size: int = PAPER.batch_size,
    max_batch_tokens: int = PAPER.max_batch_tokens,
    keep_bos: bool = True,
    drop_eos: bool = True,
    drop_special: bool = False,
    masked_tokens: bool = False,
    pad_token_id: int | None = None,
    sample_size: int | None = PAPER.sample_size,
    n_points: int | None = PAPER.n_points,
    seed: int = PAPER.seed,
    n_neighbors: int = PAPER.n_neighbors,
    estimator: str = PAPER.estimator,
    discard_fraction: float = PAPER.discard_fraction,
    twonn_fraction: str = PAPER.twonn_fraction,
    backend: str = PAPER.backend,
    out: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    figures: bool = True,
    keep_texts: bool = True,
    keep_neighbors: int = KEEP_NEIGHBORS,
    n_replicates: int = PAPER.n_replicates,
    metrics: Sequence[str] | str | None = PAPER.metrics,
    progress: Progress | None = None,
) -> MeasureResult:
    """Mean local intrinsic dimension of a model's contextual token embeddings on some texts.

    Args:
        model: Hugging Face hub id (``org/name``: the hub cache first, a download when online and
            ``HF_HUB_OFFLINE`` is not set), bundled name (``minilm``, ``smollm2``), local model folder,
            ``.gguf`` path, a `LoadedModel`, or a loaded ``transformers`` model (then pass ``tokenizer``).
        revision: branch, tag or commit of a hub id (recorded with the commit in the fingerprint).
        settings: a `lidscope.settings.MeasureSettings`; when given, its fields (and its
            ``extra``) replace the keyword arguments of the same name. The keyword defaults are
            the paper's preset (`MeasureSettings.paper`).
        data: data spec (``chitchat:validation``, a .txt/.jsonl/.csv/.parquet file, a
            ``save_to_disk`` folder, ``PATH:SPLIT``), an iterable of strings, or `Texts`.
        n_sequences: M, sequences sampled (seeded shuffle with ``data_seed``); None = all.
        layers: hidden-state indices (``-1`` last, ``0`` embeddings); several come from one pass
            and are measured separately unless ``average_layers``. ``"all"``: every hidden state
            (the embedding output and each block, as ``output_hidden_states`` gives them), from one
            forward pass per batch; ``result.profile`` (and ``summary["profile"]``) is then the layer
            profile with the mid-depth peak (`lidscope.profile`, docs/layers.md).
        max_length / batch_size / max_batch_tokens: truncation and batching (batches are
            length-bucketed and padded per batch only).
        keep_bos / drop_eos / drop_special: token rules (`lidscope.extract.tokens`).
        masked_tokens: masked-token mode for masked LMs.
        sample_size / n_points / seed: the cloud (`lidscope.cloud`): 150,000 sampled, dedup,
            first N = 60,000.
        n_neighbors / estimator / discard_fraction / backend: passed to `local_dimensions`;
        twonn_fraction: its ``empirical_fraction`` ("skdim-0.5", or "skdim-0.3.4" for the paper's).
        out: result folder written by `lidscope.outputs.write_measure` (``summary.json``,
            ``tokens.parquet``, ``lid.png``, ...); None (the default) = no files.
        cache_dir: embedding cache root (default ``$LIDSCOPE_CACHE/embeddings`` or
            ``~/.cache/lidscope/embeddings``); ``use_cache=False`` extracts into a temporary
            folder that is deleted afterwards.
        keep_texts: keep the sampled texts in the result (``texts.parquet``); off for private data.
        keep_neighbors: nearest neighbours kept per point (``points.parquet``, `lidscope.explain`).
        n_replicates: R independent replicates, each with its own sequence and token sample at
            the same M and N (`lidscope.replicates`); the mean is then the mean over replicates
            with a t-interval. The pointwise results (tokens, figures) are replicate 0's. With
            R = 1 the interval is the cluster bootstrap over sequences (``summary["interval"]``).
        metrics: geometry descriptors measured beside the LID on every layer's cloud (`lidscope.geometry`:
            scale_profile, gride, persistence, anisotropy, spectrum, or "all"); default none. With R > 1
            each replicate's cloud gets them too, and every scalar has a t-interval over replicates
            (``summary["layers"][label]["geometry"]``).
        progress: ``progress(stage, done, total)`` callback (stages ``load_model``, ``load_data``,
            ``tokenize``, ``extract``, ``extract_tokens``, ``cloud``, then those of
            `local_dimensions`, prefixed ``layer <label>: `` when several layers are measured).

    Raises:
        lidscope.LIDInputError: a setting that cannot be measured (before anything is loaded), or
            fewer distinct token vectors than ``n_neighbors + 1``.
        lidscope.extract.ModelLoadError / DataError / ExtractionError: bad model or data.
    """
    from lidscope import local_dimensions

    args = dict(locals())
    del args["local_dimensions"]
    if args.pop("settings") is not None:
        return measure(**{**args, **settings.measure_kwargs()})  # type: ignore[union-attr]
    # every setting is checked before the (expensive) model load and forward pass
    spec = settings_of(args)
    if isinstance(keep_neighbors, bool) or int(keep_neighbors) < 0:
        raise LIDInputError(f"keep_neighbors must be an integer >= 0 (0 keeps no neighbour lists); got {keep_neighbors!r}.")

    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    notes: list[str] = []
    all_layers = parse_layers(layers) == ALL_LAYERS if isinstance(layers, str) else False
    if all_layers and average_layers:
        raise LIDInputError("layers='all' (--layer all) measures every layer on its own, for a profile; "
                            "average_layers (--average-layers) averages a list of layers into one: use one of them.")
    layer_tuple = () if all_layers else tuple(dict.fromkeys(int(x) for x in parse_layers(layers)))  # type: ignore[union-attr]
    cache_root = Path(cache_dir) if cache_dir is not None else default_cache_root() / "embeddings"

    def tick(stage: str, done: int = 1, total: int = 1) -> None:
        if progress:
            progress(stage, done, total)

    t = time.perf_counter()
    tick("load_model", 0, 1)
    loaded = _resolve_model(model, tokenizer, gguf_file=gguf_file, trust_remote_code=trust_remote_code,
                            model_name=model_name, cache_root=None, revision=revision)
    tick("load_model")
    timings["load_model"] = time.perf_counter() - t
    n_hidden = hidden_state_count(getattr(loaded.model, "config", None))
    if all_layers:
        if n_hidden is None:
            raise LIDInputError(f"{loaded.name}: its config does not say how many layers it has "
                                "(num_hidden_layers), so layers='all' cannot list them; give the indices "
                                "(--layer 0,1,2,...).")
        layer_tuple = tuple(range(n_hidden))

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
    cache_kept = use_cache
    if not use_cache:
        tmp_root = Path(tempfile.mkdtemp(prefix="lidscope-extract-"))
        cache_root = tmp_root
    try:
        t = time.perf_counter()
        cache: EmbeddingCache | None = lookup(cache_root, key, notes) if use_cache else None
        cache_hit = cache is not None
        if cache is None:
            cleanup_stale(cache_root)
            try:
                writer = CacheWriter(cache_root, key, config.layer_labels(), key_parts)
            except OSError as exc:  # a cache folder we cannot write: run on, keep nothing
                tmp_root = Path(tempfile.mkdtemp(prefix="lidscope-extract-"))
                notes.append(f"the embedding cache folder {cache_root} is not writable ({exc.strerror or exc}); "
                             "the vectors were extracted into a temporary folder and not kept. Pass "
                             "--cache-dir DIR (or set LIDSCOPE_CACHE) to keep them.")
                cache_root, cache_kept = tmp_root, False
                writer = CacheWriter(cache_root, key, config.layer_labels(), key_parts)
            with writer:
                stats = extract(loaded.model, loaded.tokenizer, plan.union.texts, config, writer, progress,
                                decoder=loaded.info.get("is_decoder"),
                                check=lambda st: check_enough_tokens(st.n_tokens_kept, st.n_sequences, n_neighbors),
                                resume=writer.resume)
                cache = writer.commit({"extraction_stats": stats.to_dict()})
            notes.extend(writer.notes)
            if stats.n_sequences_resumed:
                notes.append(f"resumed an interrupted extraction: {stats.n_sequences_resumed:,} of "
                             f"{stats.n_sequences:,} sequences ({stats.n_batches_resumed:,} batches) came from the "
                             "chunks it had finished; the rest was extracted now")
        timings["extract"] = time.perf_counter() - t
        extraction_stats = cache.info.get("extraction_stats", {})
        returned = extraction_stats.get("n_hidden_states")
        if all_layers and returned and returned != len(layer_tuple):
            raise ExtractionError(f"{loaded.name}: its config declares {len(layer_tuple)} hidden states but the "
                                  f"forward pass returned {returned}; layers='all' would miss some. Give the "
                                  "indices (--layer 0,1,2,...).")

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
                               discard_fraction=discard_fraction, empirical_fraction=twonn_fraction,
                               dedup=True, backend=backend, progress=sub,
                               return_neighbors=keep_neighbors > 0)
        for stage in ("neighbors", "estimates"):
            timings[stage] += float(lid.timings.get(stage, 0.0))
        layer_results[label] = LayerResult(label, lid, cloud)

    t = time.perf_counter()
    uncertainty, replicate_rows, replicate_points = measure_replicates(
        plan, replicate_clouds, layer_results, n_neighbors=n_neighbors, estimator=estimator,
        discard_fraction=discard_fraction, twonn_fraction=twonn_fraction, backend=backend, progress=progress)
    timings["replicates"] = time.perf_counter() - t
    geometry_summaries: dict[str, dict[str, Any]] = {}
    if spec.metrics:
        t = time.perf_counter()
        geometry_summaries = _measure_geometry(spec.metrics, replicate_clouds, layer_results, seed, backend, progress)
        timings["geometry"] = time.perf_counter() - t
    if plan.n_replicates == 1:
        notes.append(ONE_REPLICATE_NOTE)
    independence_info = next(iter(uncertainty.values()))["independence"]
    if independence_info.get("warning"):
        warnings.warn(independence_info["warning"], ReplicatesNotIndependent, stacklevel=2)
        notes.append("replicates not independent: " + independence_info["warning"])
    truncation = truncation_counts(extraction_stats, plan, max_length)
    if truncation["sequences_truncated"]:
        notes.append(truncation["note"])
    for rec, n_cut in zip(replicate_rows, truncation.pop("per_replicate")):
        rec["sequences_truncated"] = n_cut
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
        "estimator": estimator, "discard_fraction": discard_fraction, "twonn_fraction": twonn_fraction,
        "backend": backend,
        "use_cache": use_cache, "keep_texts": keep_texts, "keep_neighbors": keep_neighbors,
        "n_replicates": plan.n_replicates, "settings_id": spec.settings_id,
        "dedup": first.cloud.params["dedup"], "context_rule": extraction_stats.get("context_rule"),
    }
    if all_layers:
        params["layers_requested"] = ALL_LAYERS
    counts = {
        "sequences_available": texts.counts["available"],
        "sequences_sampled": texts.counts["sampled"],
        "sequences_empty_dropped": texts.counts["empty_dropped"],
        "sequences": texts.counts["selected"],
        "sequences_extracted": len(plan.union),
        "sequences_at_max_length": extraction_stats.get("n_sequences_at_max_length"),
        "sequences_truncated": truncation["sequences_truncated"],
        "sequences_truncated_fraction": truncation["fraction"],
        "sequences_truncated_rule": truncation["rule"],
        "sequences_reused": extraction_stats.get("n_sequences_reused"),
        "tokens": extraction_stats.get("n_tokens"),
        "tokens_dropped_eos": extraction_stats.get("n_dropped_eos"),
        "tokens_dropped_bos": extraction_stats.get("n_dropped_bos"),
        "tokens_dropped_special": extraction_stats.get("n_dropped_special"),
        "tokens_kept": cache.n_rows,
        "positions_computed": extraction_stats.get("n_positions_computed"),
        "tokens_sampled": first.cloud.counts["sampled"],
        "duplicates_removed": first.cloud.counts["duplicates_removed"],
        "duplicates_same_context": first.cloud.counts["duplicates_same_context"],
        "duplicates_same_vector": first.cloud.counts["duplicates_same_vector"],
        "points": first.cloud.counts["points"],
        "points_requested": first.cloud.counts["points_requested"],
    }
    layer_summaries = {}
    for label, lr in layer_results.items():
        s = lr.stats()
        s["cloud_counts"] = lr.cloud.counts
        s["timings_s"] = dict(lr.lid.timings)
        s.update(uncertainty[label])
        if label in geometry_summaries:
            s["geometry"] = geometry_summaries[label]
        layer_summaries[label] = s
    fs = layer_summaries[first.layer]  # every statistic of one definition (`statistics`), never mixed
    summary: dict[str, Any] = {
        "lidscope_result": "measure",
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "statistics": fs["statistics"],
        "mean": fs["mean"],
        "interval": fs["interval"],
        "interval_label": fs["interval_label"],
        "replicates": replicate_rows,
        "median": fs["median"],
        "std": fs["std"],
        "quantiles": fs["quantiles"],
        "global_estimate": fs["global_estimate"],
        "replicate_0": fs["replicate_0"],
        "independence": fs["independence"],
        "layer": first.layer,
        "layers": layer_summaries,
        "model": {"name": loaded.name, "source": loaded.source, "fingerprint": loaded.fingerprint,
                  **loaded.info, **({"n_hidden_states": n_hidden} if n_hidden is not None else {})},
        "data": {"name": texts.name, "source": texts.source, "fingerprint": texts.fingerprint,
                 **texts.params},
        "counts": counts,
        "params": params,
        "extraction": {**extraction_stats, "cache_key": key, "cache_hit": cache_hit,
                       "cache_dir": str(cache_root) if cache_kept else None},
        "estimator_params": dict(first.lid.params),
        "timings_s": timings,
        "environment": environment(),
        "notes": notes,
    }
    summary["map"] = {"method": "PCA, first two components", "variance_share": map_share}
    if all_layers:
        from lidscope.profile import layer_profile

        shared = _shared_points(layer_results)
        summary["profile"] = {"shared_points": shared}
        summary["profile"] = layer_profile(summary).to_dict()
    result = MeasureResult(summary=summary, layers=layer_results, tokens=table, notes=notes, points=points,
                           texts=texts_kept, settings=spec, replicate_points=replicate_points)
    timings["total"] = time.perf_counter() - t_start
    if out is not None:
        from lidscope.outputs import write_measure

        write_measure(result, out, figures=figures)
    return result


def _shared_points(layer_results: dict[str, LayerResult]) -> int:
    """How many of replicate 0's points (token positions) are in the cloud of every layer."""
    rows = [np.asarray(lr.cloud.rows) for lr in layer_results.values()]
    common = rows[0]
    for r in rows[1:]:
        common = np.intersect1d(common, r)
    return int(common.size)


def truncation_counts(extraction_stats: dict[str, Any], plan: Any, max_length: int) -> dict[str, Any]:
    """How many of the extracted texts were cut at ``max_length`` (their later tokens are not measured): the
    count, its fraction of the sequences extracted, each replicate's count, and a note. Cache entries written
    before the exact count was kept give the texts that reached ``max_length`` (cut, or exactly that long)."""
    n = len(plan.union)
    cut = extraction_stats.get("truncated_sequences")
    if cut is None:
        k = extraction_stats.get("n_sequences_at_max_length")
        rule, per = "reached max_length (an older cache entry: texts of exactly max_length tokens count too)", None
    else:
        k, rule = len(cut), "longer than max_length"
        cut_set = set(int(i) for i in cut)
        per = [sum(int(i) in cut_set for i in m) for m in plan.members]
    k = None if k is None else int(k)
    frac = (k / n) if (k is not None and n) else None
    per = per if per is not None else [None] * plan.n_replicates
    note = (f"{k:,} of {n:,} texts ({frac:.0%}) were cut at max_length = {max_length:,} tokens: their later tokens "
            "are not measured (--max-length changes this; longer texts then count more)." if k else "")
    return {"sequences_truncated": k, "fraction": frac, "rule": rule, "per_replicate": per, "note": note}


def _measure_geometry(metrics: Sequence[str], replicate_clouds: list[dict[str, Cloud]], layer_results: dict[str, Any],
                      seed: int, backend: str, progress: Progress | None) -> dict[str, dict[str, Any]]:
    """`lidscope.geometry` of every layer's cloud in every replicate: replicate 0's summary and diagrams, and
    for R > 1 each scalar (and each entry of a per-scale list) as a t-interval over the replicates."""
    out: dict[str, dict[str, Any]] = {}
    for label in layer_results:
        runs = []
        for r, clouds in enumerate(replicate_clouds):
            if progress:
                progress(f"geometry {label}", r, len(replicate_clouds))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # unavailable descriptors are listed in the summary
                runs.append(geometry(clouds[label].vectors, metrics, random_state=seed + r, backend=backend))
        first = runs[0]
        s = first.summary()
        if first.diagrams is not None:
            s["persistence_diagrams"] = {"h0": first.diagrams[0].tolist(), "h1": first.diagrams[1].tolist()}
        if len(runs) > 1:
            intervals: dict[str, dict[str, Any]] = {}
            for name, vals in first.values.items():
                if not all(name in g.values for g in runs):
                    continue
                intervals[name] = {}
                for key, v in vals.items():
                    per = [g.values[name][key] for g in runs]
                    if isinstance(v, list) and all(len(p) == len(v) for p in per):
                        intervals[name][key] = [replicate_interval([p[i] for p in per]).to_dict() for i in range(len(v))]
                    elif isinstance(v, (int, float)) and not isinstance(v, bool):
                        intervals[name][key] = replicate_interval(per).to_dict()
            s["intervals"] = intervals
            s["n_replicates"] = len(runs)
        out[label] = s
        if progress:
            progress(f"geometry {label}", len(replicate_clouds), len(replicate_clouds))
    return out


def settings_of(kwargs: dict[str, Any]) -> MeasureSettings:
    """The validated `MeasureSettings` of `measure` keyword arguments.

    Token rules (``keep_bos``, ...) that differ from `measure`'s defaults go to ``extra``.

    Raises:
        lidscope.LIDInputError: naming the setting and the fix.
    """
    names = {f.name for f in dataclasses.fields(MeasureSettings)} - {"extra"}
    given = {k: v for k, v in kwargs.items() if k in names}
    if "layers" in given:
        given["layers"] = parse_layers(given["layers"])
    extra = {k: v for k, v in kwargs.items() if k in _EXTRA_DEFAULTS and v != _EXTRA_DEFAULTS[k]}
    return MeasureSettings(**given, extra=extra)


#: `measure` arguments that change the values but are not `MeasureSettings` fields, with their defaults.
_EXTRA_DEFAULTS = {k: p.default for k, p in inspect.signature(measure).parameters.items()
                   if k in ("average_layers", "keep_bos", "drop_eos", "drop_special", "masked_tokens", "pad_token_id")}


# --------------------------------------------------------------------------------------------


@dataclass
class CompareResult:
    """Results of `compare`: ``results[data_label][model_label]`` plus the figure paths."""

    results: dict[str, dict[str, MeasureResult]]
    figures: list[Path] = field(default_factory=list)
    out_dir: Path | None = None
    #: ``comparisons[data_label][model_label]``: each model after the first against the first (the
    #: base), a `lidscope.stats.Comparison` with the interval of the difference and a verdict
    comparisons: dict[str, dict[str, Any]] = field(default_factory=dict)

    def table(self) -> list[dict[str, Any]]:
        """One row per (data, model): mean with its 95 % interval, median, std, global estimate, points, and
        for every model but the base its change against the base with a verdict.

        Every statistic of a row has one definition, named in ``statistics`` (``mean over 3 replicates``: each
        the mean over replicates of that replicate's own value; ``one replicate``); ``interval_label`` says what
        the interval covers (replicates that share their texts cover less: ``replicates_independent``)."""
        rows = []
        for d, models in self.results.items():
            for m, r in models.items():
                iv = r.interval
                row = {"data": d, "model": m, "mean": r.mean, "mean_se": iv.se, "mean_low": iv.low,
                       "mean_high": iv.high, "interval_method": iv.method, "n_replicates": iv.n if
                       iv.method == "replicates" else 1, "median": r.median, "std": r.std,
                       "global_estimate": r.global_estimate, "statistics": r.statistics,
                       "interval_label": r.summary.get("interval_label"),
                       "replicates_independent": (r.summary.get("independence") or {}).get("independent"),
                       "n_points": r.first.lid.n_points,
                       "sequences_truncated": r.summary["counts"].get("sequences_truncated"),
                       "sequences_truncated_fraction": r.summary["counts"].get("sequences_truncated_fraction"),
                       "result_dir": str(r.out_dir) if r.out_dir else None}
                c = self.comparisons.get(d, {}).get(m)
                if c is not None:
                    row.update({"change": c.difference.estimate, "change_low": c.difference.low,
                                "change_high": c.difference.high, "relative_change": c.relative.estimate,
                                "relative_change_low": c.relative.low, "relative_change_high": c.relative.high,
                                "verdict": c.verdict, "smallest_detectable_change": c.detectable_relative,
                                "comparison_method": c.method})
                rows.append(row)
        return rows

    def profile_changes(self) -> dict[str, dict[str, list[dict[str, Any]]]]:
        """With ``layers="all"``: ``{data: {model: rows}}``, each model after the first against the first,
        one row per layer with the paired change of the mean and its 95 % interval
        (`lidscope.profile.profile_change`); empty for runs without a layer profile."""
        from lidscope.profile import profile_change

        out: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for d, models in self.results.items():
            items = list(models.items())
            if not items or not items[0][1].summary.get("profile"):
                continue
            base = items[0][1]
            out[d] = {m: profile_change(base, r) for m, r in items[1:] if r.summary.get("profile")}
        return out


def compare(
    models: Sequence[Any],
    data: Sequence[str | os.PathLike[str]],
    *,
    out: str | os.PathLike[str] | None = None,
    model_names: Sequence[str] | None = None,
    gguf_file: str | None = None,
    trust_remote_code: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    figures: bool = True,
    progress: Progress | None = None,
    on_result: Callable[[str, str, MeasureResult], None] | None = None,
    **measure_kwargs: Any,
) -> CompareResult:
    """Measure every model on every data spec (``measure_kwargs`` go to `measure`).

    Each model is loaded once. Labels are unique: two models or two data files with the same name
    (``a/valid.txt``, ``b/valid.txt``) get distinct labels (``a/valid``, ``b/valid``). With ``out``,
    `lidscope.outputs` writes each run as soon as it finishes (``<model>/<data>/``), then
    ``compare.json``, ``violin-<data>.png`` per dataset, ``compare.png`` and ``report.html``.

    Raises:
        lidscope.LIDInputError: a bad setting, before any model is loaded.
    """
    if not models or not data:
        raise LIDInputError("compare needs at least one model and one data spec.")
    settings = measure_kwargs.pop("settings", None)
    if settings is not None:
        measure_kwargs = {**measure_kwargs, **settings.measure_kwargs()}
    measure_kwargs.setdefault("n_replicates", COMPARE_N_REPLICATES)
    settings_of(measure_kwargs)  # fail before loading the first model
    tokenizer = measure_kwargs.pop("tokenizer", None)
    data_labels = unique_data_labels(data)
    results: dict[str, dict[str, MeasureResult]] = {}
    used: set[str] = set()
    for i, spec in enumerate(models):
        name = model_names[i] if model_names and i < len(model_names) else None
        if progress:
            progress("load_model", 0, 1)
        loaded = _resolve_model(spec, tokenizer, gguf_file=gguf_file,
                                trust_remote_code=trust_remote_code, model_name=name, cache_root=None)
        label = _unique(loaded.name, used)
        for dspec, dlabel in zip(data, data_labels):
            r = measure(loaded, dspec, cache_dir=cache_dir, progress=progress, **measure_kwargs)
            results.setdefault(dlabel, {})[label] = r
            if out is not None:
                from lidscope.outputs import measure_dir, write_measure

                write_measure(r, measure_dir(out, label, dlabel), figures=figures)
            if on_result:
                on_result(label, dlabel, r)
    from lidscope.replicates import paired_comparison

    comparisons = {d: {m: paired_comparison(next(iter(ms.values())), r) for m, r in list(ms.items())[1:]}
                   for d, ms in results.items()}
    cr = CompareResult(results, comparisons=comparisons)
    if out is not None:
        from lidscope.outputs import write_compare

        write_compare(cr, out, measure_kwargs, figures=figures, runs=False)
    return cr


def _unique(label: str, used: set[str]) -> str:
    new, k = label, 2
    while new in used:
        new, k = f"{label}-{k}", k + 1
    used.add(new)
    return new


def unique_data_labels(specs: Sequence[Any]) -> list[str]:
    """One distinct label per data spec: the file stem, or for files of the same name the path
    from their common folder (``a/valid``, ``b/valid``); a spec given twice gets ``-2``."""
    labels = [_data_label(s) for s in specs]
    files = {i: Path(os.fspath(s)).resolve() for i, s in enumerate(specs)
             if isinstance(s, (str, os.PathLike)) and Path(os.fspath(s)).exists()}
    for lab in set(labels):
        group = [i for i in files if labels[i] == lab]
        if len(group) > 1:
            common = Path(os.path.commonpath([files[i].parent for i in group]))
            for i in group:
                labels[i] = files[i].relative_to(common).with_suffix("").as_posix()
    used: set[str] = set()
    return [_unique(lab, used) for lab in labels]


def _data_label(spec: Any) -> str:
    if isinstance(spec, (str, os.PathLike)):
        s = os.fspath(spec)
        p = Path(s)
        return p.stem if p.exists() else s
    return "texts"
