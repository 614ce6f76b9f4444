"""``--dry-run``: check every input, print the plan and an estimated time, then stop before the work.

Estimates come from short calibrations on this machine, now (a few forward passes, a few training
steps, one GEMM), so they follow the machine's current load; they are estimates, not promises.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from rich.markup import escape
from rich.table import Table

#: Our symmetric search's time over its GEMM time at N = 50,000 (docs/performance.md: 14.7 s / 11.6 s).
SEARCH_OVERHEAD = 1.3


def gemm_flops_per_second(d: int, n: int = 2048) -> float:
    """Float32 GEMM rate of NumPy's BLAS for (n x d) @ (d x n), measured now (best of 3)."""
    a = np.random.default_rng(0).standard_normal((n, d), dtype=np.float32)
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        a @ a.T
        best = min(best, time.perf_counter() - t)
    return 2.0 * n * n * d / best


def search_seconds(n_points: int, dim: int) -> float:
    """Exact symmetric search of N points in D dimensions: N^2 D flops (each pair once) plus bookkeeping."""
    return SEARCH_OVERHEAD * float(n_points) ** 2 * dim / gemm_flops_per_second(dim)


def fmt_seconds(s: float) -> str:
    return f"{s:,.0f} s" if s < 120 else f"{s / 60:,.1f} min"


def print_plan(console: Any, title: str, rows: list[tuple[str, str]], times: dict[str, float]) -> None:
    """The plan as a two-column table, then the estimated time by stage and in total."""
    t = Table(title=f"dry run: {title}", show_header=False, title_justify="left")
    t.add_column(style="bold", no_wrap=True)
    t.add_column(overflow="fold")
    for name, value in rows:
        t.add_row(name, escape(value))
    t.add_row("estimated time", f"{fmt_seconds(sum(times.values()))} ("
              + ", ".join(f"{k} {fmt_seconds(v)}" for k, v in times.items()) + ")")
    console.print(t)
    console.print("Nothing was computed or written (--dry-run). Drop --dry-run to run it.")


def _settings(kw: dict[str, Any]) -> Any:
    from lidscope.settings import MeasureSettings

    names = set(MeasureSettings.__dataclass_fields__) - {"extra"}
    return MeasureSettings(**{k: v for k, v in kw.items() if k in names})  # every check, before anything loads


def _forward_rate(folder: Any, texts: list[str], max_length: int) -> tuple[float, float]:
    """Tokens per second of one forward pass of a batch of up to 32 of ``texts``, and the load time."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    t = time.perf_counter()
    model = AutoModel.from_pretrained(str(folder)).eval()
    load = time.perf_counter() - t
    batch = tok(sorted(texts[:32], key=len), truncation=True, max_length=max_length, padding=True,
                return_tensors="pt")
    with torch.no_grad():
        model(**batch)  # warm-up
        t = time.perf_counter()
        model(**batch)
        return int(batch["attention_mask"].sum()) / (time.perf_counter() - t), load


def _plan_one(kw: dict[str, Any], rates: dict[str, tuple[float, float]]) -> tuple[list[tuple[str, str]], dict[str, float]]:
    """Rows and stage times of one model on one dataset. With R replicates the union of their sequence
    samples is extracted once and the neighbour search runs R times. ``rates`` caches each model's
    forward rate and load time (a model is loaded once per plan)."""
    from transformers import AutoConfig, AutoTokenizer

    from lidscope.extract.models import check_model_folder, resolve_model_spec
    from lidscope.extract.tokens import TokenRules, check_layers, hidden_state_count, keep_positions, special_token_ids
    from lidscope.measure import check_enough_tokens
    from lidscope.replicates import plan_replicates

    s = _settings(kw)
    folder, gguf, label = resolve_model_spec(kw["model"], kw.get("gguf_file"), revision=kw.get("revision"))
    check_model_folder(folder, gguf)
    plan = plan_replicates(kw["data"], s.replicate_seeds(), split=kw.get("split"), text_column=s.text_column,
                           n_sequences=s.n_sequences)
    texts = list(plan.union.texts)
    R = s.n_replicates
    sampled = f"{len(plan.texts[0].texts):,} sequences sampled"
    if R > 1:
        sampled += f" per replicate, {len(texts):,} in the union of the {R} replicates (extracted once)"
    rows = [("model", f"{label} ({folder}{'/' + gguf if gguf else ''})"), ("data", f"{kw['data']}: {sampled}")]
    times: dict[str, float] = {}
    dim = 0
    layers = s.layers
    if gguf is None:
        tok = AutoTokenizer.from_pretrained(str(folder))
        ids = tok(texts, truncation=True, max_length=s.max_length)["input_ids"]
        lengths = np.array([len(x) for x in ids])
        config = AutoConfig.from_pretrained(str(folder))
        # what the run refuses, refused here: a layer the model lacks, fewer tokens than L + 1 points
        if layers == "all":  # every hidden state: the count the config declares
            n_hidden = hidden_state_count(config)
            if n_hidden is None:
                raise ValueError(f"{folder}: its config does not say how many layers it has; --layer all cannot "
                                 "list them (give the indices).")
            layers = tuple(range(n_hidden))
        check_layers(layers, hidden_state_count(config))
        rules = TokenRules(keep_bos=kw.get("keep_bos", True), drop_eos=kw.get("drop_eos", True),
                           drop_special=kw.get("drop_special", False))
        special = special_token_ids(tok)
        check_enough_tokens(int(sum(keep_positions(np.asarray(x), rules, special).sum() for x in ids)),
                            len(texts), s.n_neighbors)
        dim = int(getattr(config, "hidden_size", 0) or getattr(config, "n_embd", 0))
        rows.append(("tokens", f"{lengths.sum():,} (mean {lengths.mean():.1f} per sequence, max length {s.max_length})"))
        key = str(folder)
        first = key not in rates
        if first:
            rates[key] = _forward_rate(folder, texts, s.max_length)
        rate, load = rates[key]
        times = {"load model": load if first else 0.0, "forward pass": float(lengths.sum()) / rate}
        rows.append(("hidden size", f"{dim}"))
    else:
        rows.append(("forward pass", "GGUF model: converted on first use, time not estimated"))
    average = bool(kw.get("average_layers"))
    n_layers = 1 if average else (len(layers) if layers != "all" else 1)
    rows.append(("layers", (f"all ({len(layers)}: " if s.layers == "all" and layers != "all" else "")
                 + ",".join(map(str, layers)) + (")" if s.layers == "all" and layers != "all" else "")
                 + (" (averaged)" if average else "")))
    rows.append(("points", f"N = {s.n_points:,} per layer and replicate, L = {s.n_neighbors}, R = {R}, "
                           f"estimator {s.estimator}"))
    if dim and s.n_points:
        times["neighbour search"] = R * n_layers * search_seconds(s.n_points, dim)
    return rows, times


def _cache_row(kw: dict[str, Any]) -> tuple[str, str]:
    from lidscope.extract.models import default_cache_root

    return ("embedding cache", "off" if not kw.get("use_cache", True)
            else str(kw.get("cache_dir") or default_cache_root() / "embeddings") + " (a cached forward pass is skipped)")


def plan_measure(console: Any, kw: dict[str, Any]) -> None:
    """Validate a ``measure`` call's settings, model folder and texts; time a few forward passes."""
    rows, times = _plan_one(kw, {})
    rows += [("output", str(kw.get("out"))), _cache_row(kw)]
    print_plan(console, "lidscope measure", rows, times)


def _sample_line(info: dict[str, str]) -> str:
    """One dataset's sample and token count, from `_plan_one`'s rows (as a dict)."""
    return info["data"].split(": ", 1)[1] + (f"; {info['tokens']} tokens" if "tokens" in info else "")


def plan_compare(console: Any, models: list[str], data: list[str], kw: dict[str, Any]) -> None:
    """Every (model, dataset) measurement of a ``compare``: sizes and estimated times, one row each."""
    rates: dict[str, tuple[float, float]] = {}
    rows: list[tuple[str, str]] = []
    times: dict[str, float] = {}
    names = list(kw.get("model_names") or []) + list(models[len(kw.get("model_names") or []):])
    seen: set[tuple[str, str]] = set()
    for model, name in zip(models, names):
        for d in data:
            one_rows, one_times = _plan_one({**kw, "model": model, "data": d}, rates)
            info = dict(one_rows)
            if (info["model"], d) in seen:  # the same model on the same data: the embedding cache serves it
                one_times["forward pass"] = 0.0
            seen.add((info["model"], d))
            rows.append((f"{name} on {d}", _sample_line(info)))
            for stage, sec in one_times.items():
                times[stage] = times.get(stage, 0.0) + sec
    rows += [("points", info["points"]), ("output", str(kw.get("out"))), _cache_row(kw)]
    print_plan(console, "lidscope compare", rows, times)


def plan_sweep_run(console: Any, plan: Any, settings: Any) -> None:
    """A ``sweep``'s pending measurements and their time, estimated from its first pending checkpoint
    (every checkpoint of a run has the same architecture)."""
    pending = [(job.checkpoint, unit["data"]) for job in plan.jobs for unit in job.units]
    rows = [("checkpoints", f"{len(plan.checkpoints)} found ({len(plan.skipped)} skipped), {len(plan.data)} data "
                            f"specs: {plan.already_done} measurements already in {plan.store}, {len(pending)} to run "
                            f"in {len(plan.jobs)} jobs")]
    times: dict[str, float] = {}
    if pending:
        first = pending[0][0]["path"]
        kw = {**settings.to_dict(), "model": first}
        per_spec: dict[str, dict[str, float]] = {}
        rates: dict[str, tuple[float, float]] = {}
        try:
            for spec in plan.data:
                one_rows, per_spec[spec] = _plan_one({**kw, "data": spec}, rates)
                info = dict(one_rows)
                rows.append((f"on {spec}", _sample_line(info)))
            rows.append(("points", info["points"]))
            for _, spec in pending:
                for stage, sec in per_spec[spec].items():
                    if stage != "load model":
                        times[stage] = times.get(stage, 0.0) + sec
            times["load model"] = len(plan.jobs) * next(iter(rates.values()))[1] if rates else 0.0
        except (OSError, ValueError) as exc:  # e.g. a LoRA adapter folder: loaded with its base in the run
            rows.append(("time", f"not estimated: {first} does not load as a plain model ({exc})"))
    for note in plan.notes:
        rows.append(("note", str(note)))
    print_plan(console, "lidscope sweep", rows, times)


def plan_estimate(console: Any, X: np.ndarray, n_neighbors: int, estimator: str, n_points: int | None,
                  out: Any) -> None:
    """Shape and settings of an ``estimate`` run and the time of its exact neighbour search."""
    n = min(len(X), n_points or len(X))
    rows = [("points", f"{len(X):,} rows x {X.shape[1]} dimensions ({X.dtype}); measuring {n:,}"),
            ("estimator", f"{estimator}, L = {n_neighbors}"), ("output", str(out))]
    print_plan(console, "lidscope estimate", rows, {"neighbour search": search_seconds(n, X.shape[1])})


def _time_grokking(config: Any) -> tuple[float, float]:
    """Seconds per training step (mean of 5) and per evaluation (with LID), measured now."""
    import torch

    from lidscope.experiments.grokking.train import (POSITION_SETS, SPLITS, build, evaluate, select_lid_points,
                                                     train_step)

    data, model, opt = build(config)
    train_step(config, data, model, opt, 0)  # warm-up
    t = time.perf_counter()
    for step in range(1, 6):
        train_step(config, data, model, opt, step)
    per_step = (time.perf_counter() - t) / 5
    samples = None
    if config.lid:
        samples = {s: select_lid_points(data.train_tokens if s == "train" else data.val_tokens,
                                        POSITION_SETS[config.lid_positions], config.lid_points, config.seed, s)
                   for s in SPLITS}
    with torch.no_grad():
        evaluate(config, data, model, samples, 0)  # warm-up (numba's compiled kernels load once)
        t = time.perf_counter()
        evaluate(config, data, model, samples, 0)
        per_eval = time.perf_counter() - t
    return per_step, per_eval


def _check_lid_points(config: Any) -> None:
    """Raise the run's own ValueError if a split has fewer distinct LID points than ``lid_points``."""
    from lidscope.experiments.grokking.train import POSITION_SETS, SPLITS, build, select_lid_points

    if config.lid:
        data, _, _ = build(config)
        for s in SPLITS:
            select_lid_points(data.train_tokens if s == "train" else data.val_tokens,
                              POSITION_SETS[config.lid_positions], config.lid_points, config.seed, s)


def plan_grokking(console: Any, config: Any, out: Any) -> None:
    """The run's configuration; time of a few training steps and of one evaluation (with LID)."""
    from lidscope.experiments.grokking.train import eval_steps

    per_step, per_eval = _time_grokking(config)
    n_evals = len(eval_steps(config))
    rows = [("task", f"a {config.op} b mod {config.prime}, train fraction {config.train_fraction:g}"),
            ("training", f"{config.steps:,} steps, batch {config.batch_size}, weight decay {config.weight_decay:g}"),
            ("evaluations", f"{n_evals} (every {config.eval_every} steps)"
             + (f", LID of {config.lid_points:,} points, L = {config.lid_neighbors}" if config.lid else ", no LID")),
            ("output", str(out))]
    print_plan(console, "lidscope grokking", rows, {"training": per_step * config.steps, "evaluation": per_eval * n_evals})


def plan_grokking_sweep(console: Any, configs: list[Any], out: Any, fresh: bool) -> None:
    """Every run of a ``grokking-sweep``: finished (kept unless --fresh), partly done (resumed) or new,
    and the time of what is left, timed on the first pending run of each prime and model shape."""
    import dataclasses

    from lidscope.experiments.grokking.study import run_name
    from lidscope.experiments.grokking.train import eval_steps, read_metrics

    rows: list[tuple[str, str]] = []
    times = {"training": 0.0, "evaluation": 0.0}
    timed: dict[tuple[Any, ...], tuple[float, float]] = {}
    for c in configs:
        name = run_name(c)
        done = 0
        if not fresh:
            try:
                done = max((int(r["step"]) for r in read_metrics(out / name)), default=0)
            except FileNotFoundError:
                pass
        left = max(0, c.steps - done)
        state = "finished" if left == 0 else (f"resumes at step {done:,}" if done else "new")
        rows.append((name, f"{c.steps:,} steps, {state}"))
        if left:
            _check_lid_points(c)
            shape = (c.prime, c.n_layers, c.d_model, c.batch_size, c.lid, c.lid_points, c.lid_neighbors)
            if shape not in timed:
                timed[shape] = _time_grokking(dataclasses.replace(c))
            per_step, per_eval = timed[shape]
            times["training"] += per_step * left
            times["evaluation"] += per_eval * sum(1 for s in eval_steps(c) if s > done)
    rows.append(("output", str(out)))
    print_plan(console, "lidscope grokking-sweep", rows, times)


def plan_geometry(console: Any, X: np.ndarray, metrics: Any, sizes: list[int], gride_max_rank: int,
                  ph_points: int, out: Any) -> None:
    """Shape and descriptors of a ``geometry`` run and the time of its one exact neighbour search."""
    n, d = X.shape
    rows = [("points", f"{n:,} rows x {d} dimensions ({X.dtype})"), ("metrics", ", ".join(metrics) or "none"),
            ("output", str(out))]
    times = {}
    k = max([s for s in sizes if s < n] * ("scale_profile" in metrics)
            + [gride_max_rank] * ("gride" in metrics and gride_max_rank < n) or [0])
    if k:
        rows.append(("neighbour search", f"k = {k}, shared by the scale profile and GRIDE"))
        times["neighbour search"] = search_seconds(n, d)
    if "persistence" in metrics:
        rows.append(("persistent homology", f"Vietoris-Rips H0/H1 of {min(n, ph_points):,} points"))
    print_plan(console, "lidscope geometry", rows, times)


def plan_detect(console: Any, model: str, candidates: dict[str, str], reference: str, base: str | None,
                settings: Any, out: Any) -> None:
    """Check what ``detect`` would refuse (settings, text sets and their sizes, model folders, the
    layer), then print the sets, the models and the time of their forward passes."""
    from transformers import AutoConfig, AutoTokenizer

    from lidscope.detect import checks
    from lidscope.detect.pipeline import _read_set
    from lidscope.extract.models import check_model_folder, resolve_model_spec
    from lidscope.extract.tokens import check_layers, hidden_state_count

    sets = {}
    rows: list[tuple[str, str]] = []
    for name, spec in {**candidates, "reference": reference}.items():
        sets[name], info = _read_set(spec, settings)
        rows.append((name, f"{spec}: {len(sets[name]):,} texts"))
    checks.check_sizes(sets, settings.min_texts)
    texts = [t for v in sets.values() for t in v]
    times: dict[str, float] = {}
    for role, spec in (("model", model), ("base", base)):
        if spec is None:
            continue
        folder, gguf, label = resolve_model_spec(spec)
        check_model_folder(folder, gguf)
        rows.append((role, f"{label} ({folder}{'/' + gguf if gguf else ''})"))
        if gguf is None:
            check_layers([settings.layer], hidden_state_count(AutoConfig.from_pretrained(str(folder))))
            tok = AutoTokenizer.from_pretrained(str(folder))
            n_tok = sum(len(x) for x in tok(texts, truncation=True, max_length=settings.max_length)["input_ids"])
            rate, load = _forward_rate(folder, texts, settings.max_length)
            times[f"load {role}"] = load
            times[f"forward pass ({role})"] = n_tok / rate
    rows += [("layer", str(settings.layer)), ("decided by", settings.decide_by), ("output", str(out))]
    print_plan(console, "lidscope detect", rows, times)
