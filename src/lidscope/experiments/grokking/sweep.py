"""Several grokking runs that differ only in train fraction, drawn in one figure."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ...outputs import write_json
from .train import GrokConfig, analyse, run

SWEEP_FIGURE = "grokking-sweep.png"
SWEEP_SUMMARY = "sweep.json"


def run_dir(out: str | Path, fraction: float) -> Path:
    """Sub-directory of the sweep's ``out`` that holds the run with this train fraction."""
    return Path(out) / f"train-fraction-{fraction:g}"


def sweep_configs(base: GrokConfig, fractions: Sequence[float]) -> list[GrokConfig]:
    """One validated config per train fraction; raises ``ValueError`` before anything runs."""
    if not fractions:
        raise ValueError("give at least one train fraction, e.g. --train-fractions 0.2,0.3,0.5")
    if len(set(fractions)) != len(fractions):
        raise ValueError(f"train fractions repeat: {list(fractions)}")
    configs = [dataclasses.replace(base, train_fraction=float(f)) for f in fractions]
    for c in configs:
        c.validate()
    return configs


def run_sweep(
    base: GrokConfig,
    fractions: Sequence[float],
    out: str | Path,
    *,
    fresh: bool = False,
    on_run: Callable[[GrokConfig], None] | None = None,
    on_step: Callable[[int, float], None] | None = None,
    on_eval: Callable[[dict[str, Any]], None] | None = None,
) -> dict[float, list[dict[str, Any]]]:
    """Run (or resume) every fraction in turn, then write the combined figure and ``sweep.json``."""
    configs = sweep_configs(base, fractions)
    out = Path(out)
    results: dict[float, list[dict[str, Any]]] = {}
    for c in configs:
        if on_run:
            on_run(c)
        results[c.train_fraction] = run(c, run_dir(out, c.train_fraction), fresh=fresh,
                                        on_step=on_step, on_eval=on_eval)
    write_sweep_outputs(out, base, results)
    return results


def write_sweep_outputs(out: Path, base: GrokConfig, results: dict[float, list[dict[str, Any]]]) -> None:
    """The combined figure and a JSON summary (lead time per fraction)."""
    from .plots import plot_sweep

    summary = {}
    for frac, rows in results.items():
        lt = analyse(rows)
        summary[f"{frac:g}"] = {
            "final_train_acc": rows[-1]["train_acc"],
            "final_val_acc": rows[-1]["val_acc"],
            "lead_time": lt.as_dict() if lt else None,
        }
    write_json(out / SWEEP_SUMMARY, summary, indent=1)
    title = (f"a {base.op} b mod {base.prime}, wd {base.weight_decay:g}, seed {base.seed}: "
             "train fractions")
    plot_sweep({f"train fraction {f:g}": rows for f, rows in results.items()}, out / SWEEP_FIGURE, title)
