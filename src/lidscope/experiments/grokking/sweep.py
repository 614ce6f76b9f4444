"""Many grokking runs: a product of primes, operations, train fractions, weight decays and seeds (or a
fixed plan), each in its own resumable directory, with one summary and one small-multiples figure."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ...outputs import write_json
from .data import POSITION_SETS, distinct_prefixes, make_data
from .study import run_name
from . import train as _train
from .train import CHECKPOINT_DIR, GrokConfig, analyse, lid_cost, load_checkpoint, read_metrics, run

SWEEP_FIGURE = "grokking-sweep.png"
SWEEP_SUMMARY = "sweep.json"


def run_dir(out: str | Path, config: GrokConfig) -> Path:
    """Sub-directory of the sweep's ``out`` that holds ``config``'s run (see `study.run_name`)."""
    return Path(out) / run_name(config)


def _unique(name: str, values: Sequence[Any]) -> list[Any]:
    if not values:
        raise ValueError(f"give at least one value for {name}")
    if len(set(values)) != len(values):
        raise ValueError(f"{name} repeat: {list(values)}")
    return list(values)


def sweep_configs(
    base: GrokConfig,
    fractions: Sequence[float],
    *,
    primes: Sequence[int] | None = None,
    ops: Sequence[str] | None = None,
    weight_decays: Sequence[float] | None = None,
    seeds: Sequence[int] | None = None,
) -> list[GrokConfig]:
    """Every combination of the given values (others from ``base``), validated before anything runs.

    Raises ``ValueError`` naming the fix for a bad value, a repeated value, or a run whose split has
    fewer distinct (input, position) points than ``lid_points``.
    """
    axes = (
        ("prime", _unique("primes", [base.prime] if primes is None else [int(p) for p in primes])),
        ("op", _unique("operations", [base.op] if ops is None else list(ops))),
        ("train_fraction", _unique("train fractions", [float(f) for f in fractions])),
        ("weight_decay", _unique("weight decays",
                                 [base.weight_decay] if weight_decays is None else [float(w) for w in weight_decays])),
        ("seed", _unique("seeds", [base.seed] if seeds is None else [int(s) for s in seeds])),
    )
    names = [a for a, _ in axes]
    configs = [dataclasses.replace(base, **dict(zip(names, combo)))
               for combo in itertools.product(*(v for _, v in axes))]
    for c in configs:
        check_config(c)
    return configs


def check_config(config: GrokConfig) -> None:
    """``config.validate()`` plus the data-dependent check that both splits have N distinct points."""
    config.validate()
    if not config.lid:
        return
    data = make_data(config.prime, config.op, config.train_fraction, config.data_seed)
    positions = POSITION_SETS[config.lid_positions]
    for split, tokens in (("train", data.train_tokens), ("val", data.val_tokens)):
        available = distinct_prefixes(tokens, positions)
        if available < config.lid_points:
            raise ValueError(
                f"{run_name(config)}: the {split} split has only {available} distinct (input, position) "
                f"points, fewer than lid_points N={config.lid_points}: lower --lid-points, use a larger "
                "prime, or move the train fraction"
            )


def run_sweep(
    configs: Sequence[GrokConfig],
    out: str | Path,
    *,
    fresh: bool = False,
    on_run: Callable[[GrokConfig], None] | None = None,
    on_step: Callable[[int, float], None] | None = None,
    on_eval: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Run (or resume) every config in turn, then write ``sweep.json`` and the figure.

    Returns ``{run name: metrics rows}``. Finished runs are only re-read (resumable: an interrupted
    sweep started again continues where it stopped).
    """
    for c in configs:
        check_config(c)
    names = [run_name(c) for c in configs]
    if len(set(names)) != len(names):
        raise ValueError(f"two runs of the sweep share a directory: {names}")
    out = Path(out)
    results: dict[str, list[dict[str, Any]]] = {}
    for c, name in zip(configs, names):
        if on_run:
            on_run(c)
        results[name] = run(c, out / name, fresh=fresh, on_step=on_step, on_eval=on_eval)
    write_sweep_outputs(out, dict(zip(names, configs)), results)
    return results


def run_summary(config: GrokConfig, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Config, final accuracies, lead-time analysis, the shipped alarm (`FALL_RULE` on the series it was
    chosen on, `study.FALL_SOURCE`) and CPU seconds of one run."""
    from lidscope.training.signals import fall_alarm

    from .study import FALL_SOURCE

    lt = analyse(rows)
    cost = lid_cost(rows)
    alarm = None
    if rows and FALL_SOURCE in rows[0]:
        a = fall_alarm([r[FALL_SOURCE] for r in rows], [r["step"] for r in rows])
        alarm = None if a is None else a.step
    return {
        "config": config.to_json(),
        "steps_done": rows[-1]["step"] if rows else 0,
        "final_train_acc": rows[-1]["train_acc"] if rows else None,
        "final_val_acc": rows[-1]["val_acc"] if rows else None,
        "lead_time": lt.as_dict() if lt else None,
        "fall_alarm": alarm,
        "cpu_seconds": cost["train_cpu_seconds"] + cost["eval_cpu_seconds"] + cost["lid_cpu_seconds"],
        "cost": cost,
    }


def write_sweep_outputs(out: Path, configs: dict[str, GrokConfig], results: dict[str, list[dict[str, Any]]]) -> None:
    """``sweep.json`` (one summary per run, total CPU seconds) and the small-multiples figure."""
    from .plots import plot_small_multiples

    runs = {name: run_summary(configs[name], rows) for name, rows in results.items()}
    summary = {"runs": runs, "cpu_seconds_total": sum(r["cpu_seconds"] for r in runs.values())}
    write_json(out / SWEEP_SUMMARY, summary, indent=1)
    marks = {name: (r["fall_alarm"], (r["lead_time"] or {}).get("val_acc_090")) for name, r in runs.items()}
    plot_small_multiples(results, out / SWEEP_FIGURE, marks=marks)


#: Metrics columns that must not change when a finished run is extended (timings may).
SCIENCE_COLUMNS = ("step", "train_loss", "train_acc", "val_loss", "val_acc", "lid_train_mean", "lid_val_mean")


def extend_runs(
    configs: Sequence[GrokConfig],
    source: str | Path,
    out: str | Path,
    steps: int,
    *,
    on_run: Callable[[GrokConfig], None] | None = None,
    on_eval: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Continue finished runs of ``source`` to ``steps`` in copies under ``out``; ``source`` is not touched.

    Each run of ``source`` must have finished its own budget (``config.steps``). Its folder is copied to
    ``out`` (once: a copy already there is resumed, so an interrupted extension continues) and trained on
    from its checkpoint. Refuses (``ValueError``) when a run is not finished, when the learning-rate
    schedule of the first ``config.steps`` steps would differ under the longer budget (then the extension
    would not be a continuation: run it fresh instead), or when the extended run's first ``config.steps``
    steps differ from the source's. Returns ``{run name: metrics rows up to steps}``.
    """
    import shutil

    source, out = Path(source), Path(out)
    results: dict[str, list[dict[str, Any]]] = {}
    for config in configs:
        name = run_name(config)
        if steps <= config.steps:
            raise ValueError(f"{name}: --steps {steps} does not extend its budget of {config.steps} steps")
        longer = dataclasses.replace(config, steps=steps)
        if any(_train.lr_at(config, s) != _train.lr_at(longer, s) for s in range(config.steps)):
            raise ValueError(f"{name}: the learning-rate schedule depends on the total number of steps, so a "
                             f"resumed run is not the start of a {steps}-step run: run it fresh in a new folder")
        src = source / name
        saved = load_checkpoint(src)
        if saved is None or int(saved[0]["step"]) != config.steps:
            done = "no checkpoint" if saved is None else f"a checkpoint at step {saved[0]['step']}"
            raise ValueError(f"{src} holds {done}, not a run finished at its budget of {config.steps} steps: "
                             "finish the study's runs first")
        dst = out / name
        if not (dst / CHECKPOINT_DIR).exists():
            tmp = out / (name + ".copying")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(src, tmp)
            shutil.rmtree(dst, ignore_errors=True)
            tmp.rename(dst)
        if on_run:
            on_run(longer)
        rows = run(longer, dst, on_eval=on_eval)
        before = [r for r in read_metrics(src) if r["step"] <= config.steps]
        if _science(rows[: len(before)]) != _science(before):
            raise ValueError(f"{dst}: its first {config.steps} steps differ from {src}'s: the extension is not "
                             "a continuation of the study's run")
        results[name] = rows
    return results


def _science(rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [tuple(r.get(k) for k in SCIENCE_COLUMNS) for r in rows]
