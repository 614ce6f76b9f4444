"""Figures for grokking runs: accuracy and mean LID against (log-scaled) step."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

Rows = Sequence[Mapping[str, Any]]


def _series(rows: Rows, key: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for r in rows:
        if r["step"] > 0 and key in r and r[key] is not None:
            xs.append(int(r["step"]))
            ys.append(float(r[key]))
    return xs, ys


def plot_run(rows: Rows, path: str | Path, title: str = "", marks: Mapping[str, float | None] | None = None) -> None:
    """Two stacked panels: train/val accuracy, then train/val mean LID; step 0 is left off the log axis.

    ``marks`` maps a label to a step drawn as a vertical line in both panels (e.g. the LID fall onset).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_acc, ax_lid) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, constrained_layout=True)
    for split, style in (("train", "--"), ("val", "-")):
        ax_acc.plot(*_series(rows, f"{split}_acc"), style, color="C0", label=f"{split} accuracy")
        xs, ys = _series(rows, f"lid_{split}_mean")
        if xs:
            ax_lid.plot(xs, ys, style, marker=".", color="C3", label=f"{split} mean LID")
    mark_styles = (("k", "--"), ("C2", ":"), ("C1", ":"), ("C4", ":"))
    for i, (label, step) in enumerate((marks or {}).items()):
        if step is not None and step > 0:
            color, ls = mark_styles[i % len(mark_styles)]
            for ax in (ax_acc, ax_lid):
                ax.axvline(step, color=color, lw=1, ls=ls, label=label if ax is ax_acc else None)
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_ylim(-0.02, 1.02)
    ax_acc.legend(loc="center left", fontsize=8)
    ax_lid.set_ylabel("mean local dimension (TwoNN)")
    ax_lid.set_xlabel("step")
    ax_lid.legend(loc="best", fontsize=8)
    ax_lid.set_xscale("log")
    if title:
        ax_acc.set_title(title, fontsize=10)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_sweep(runs: Mapping[str, Rows], path: str | Path, title: str = "") -> None:
    """Validation accuracy (top) and validation mean LID (bottom) of several runs, one colour each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_acc, ax_lid) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, constrained_layout=True)
    for i, (label, rows) in enumerate(runs.items()):
        color = f"C{i}"
        ax_acc.plot(*_series(rows, "val_acc"), "-", color=color, label=label)
        ax_acc.plot(*_series(rows, "train_acc"), ":", color=color, lw=1)
        xs, ys = _series(rows, "lid_val_mean")
        if xs:
            ax_lid.plot(xs, ys, "-", marker=".", color=color, label=label)
    ax_acc.set_ylabel("accuracy (val solid, train dotted)")
    ax_acc.set_ylim(-0.02, 1.02)
    ax_acc.legend(loc="center left", fontsize=8)
    ax_lid.set_ylabel("val mean local dimension")
    ax_lid.set_xlabel("step")
    ax_lid.set_xscale("log")
    if title:
        ax_acc.set_title(title, fontsize=10)
    fig.savefig(path, dpi=110)
    plt.close(fig)
