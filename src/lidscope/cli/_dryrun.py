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


def plan_measure(console: Any, kw: dict[str, Any]) -> None:
    """Validate a ``measure`` call's settings, model folder and texts; time a few forward passes."""
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from lidscope.extract.models import default_cache_root, resolve_model_spec
    from lidscope.extract.texts import load_texts
    from lidscope.settings import MeasureSettings

    names = set(MeasureSettings.__dataclass_fields__) - {"extra"}
    MeasureSettings(**{k: v for k, v in kw.items() if k in names})  # every settings check, before anything loads
    folder, gguf, label = resolve_model_spec(kw["model"], kw.get("gguf_file"))
    texts = load_texts(kw["data"], split=kw.get("split"), text_column=kw.get("text_column"),
                       n_sequences=kw.get("n_sequences"), seed=kw.get("data_seed", 42))
    max_length = kw.get("max_length", 512)
    rows = [("model", f"{label} ({folder}{'/' + gguf if gguf else ''})"),
            ("data", f"{kw['data']}: {len(texts.texts):,} sequences sampled")]
    times: dict[str, float] = {}
    if gguf is None:
        tok = AutoTokenizer.from_pretrained(str(folder))
        lengths = np.array([len(x) for x in tok(list(texts.texts), truncation=True, max_length=max_length)["input_ids"]])
        config = AutoConfig.from_pretrained(str(folder))
        dim = int(getattr(config, "hidden_size", 0) or getattr(config, "n_embd", 0))
        rows.append(("tokens", f"{lengths.sum():,} (mean {lengths.mean():.1f} per sequence, max length {max_length})"))
        t = time.perf_counter()
        model = AutoModel.from_pretrained(str(folder)).eval()
        load = time.perf_counter() - t
        sample = sorted(texts.texts[: min(32, len(texts.texts))], key=len)
        batch = tok(sample, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
        with torch.no_grad():
            model(**batch)  # warm-up
            t = time.perf_counter()
            model(**batch)
            rate = int(batch["attention_mask"].sum()) / (time.perf_counter() - t)
        times = {"load model": load, "forward pass": float(lengths.sum()) / rate}
        rows.append(("hidden size", f"{dim}"))
    else:
        dim = 0
        rows.append(("forward pass", "GGUF model: converted on first use, time not estimated"))
    n_points = kw.get("n_points") or 0
    layers = kw.get("layers", (-1,))
    n_layers = 1 if kw.get("average_layers") else len(layers)
    rows += [
        ("layers", ",".join(map(str, layers)) + (" (averaged)" if kw.get("average_layers") else "")),
        ("points", f"N = {n_points:,} per layer, L = {kw.get('n_neighbors')}, estimator {kw.get('estimator')}"),
        ("output", str(kw.get("out"))),
        ("embedding cache", "off" if not kw.get("use_cache", True)
         else str(kw.get("cache_dir") or default_cache_root() / "embeddings") + " (a cached forward pass is skipped)"),
    ]
    if dim and n_points:
        times["neighbour search"] = n_layers * search_seconds(n_points, dim)
    print_plan(console, "lidscope measure", rows, times)


def plan_estimate(console: Any, X: np.ndarray, n_neighbors: int, estimator: str, n_points: int | None,
                  out: Any) -> None:
    """Shape and settings of an ``estimate`` run and the time of its exact neighbour search."""
    n = min(len(X), n_points or len(X))
    rows = [("points", f"{len(X):,} rows x {X.shape[1]} dimensions ({X.dtype}); measuring {n:,}"),
            ("estimator", f"{estimator}, L = {n_neighbors}"), ("output", str(out))]
    print_plan(console, "lidscope estimate", rows, {"neighbour search": search_seconds(n, X.shape[1])})


def plan_grokking(console: Any, config: Any, out: Any) -> None:
    """The run's configuration; time of a few training steps and of one evaluation (with LID)."""
    import torch

    from lidscope.experiments.grokking.train import (POSITION_SETS, SPLITS, build, eval_steps, evaluate,
                                                     select_lid_points, train_step)

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
    n_evals = len(eval_steps(config))
    rows = [("task", f"a {config.op} b mod {config.prime}, train fraction {config.train_fraction:g}"),
            ("training", f"{config.steps:,} steps, batch {config.batch_size}, weight decay {config.weight_decay:g}"),
            ("evaluations", f"{n_evals} (every {config.eval_every} steps)"
             + (f", LID of {config.lid_points:,} points, L = {config.lid_neighbors}" if config.lid else ", no LID")),
            ("output", str(out))]
    print_plan(console, "lidscope grokking", rows, {"training": per_step * config.steps, "evaluation": per_eval * n_evals})
