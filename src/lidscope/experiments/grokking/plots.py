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
    merged: dict[float, list[str]] = {}  # marks at the same step share one line and one legend entry
    for label, step in (marks or {}).items():
        if step is not None and step > 0:
            merged.setdefault(step, []).append(label)
    for i, (step, labels) in enumerate(merged.items()):
        color, ls = mark_styles[i % len(mark_styles)]
        for ax in (ax_acc, ax_lid):
            ax.axvline(step, color=color, lw=1, ls=ls, label=" = ".join(labels) if ax is ax_acc else None)
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


#: Vertical marks of `plot_small_multiples`, in order: colour, line style, name in the title.
MARK_STYLES = (("k", "--", "dashed"), ("C2", ":", "dotted"), ("C1", ":", "dotted orange"),
               ("0.5", "-.", "dash-dot grey"))


def plot_small_multiples(runs: Mapping[str, Rows], path: str | Path, *, lid_key: str = "lid_val_mean",
                         metric_key: str = "val_acc", marks: Mapping[str, Sequence[float | None]] | None = None,
                         metric_label: str = "val accuracy", columns: int = 4,
                         mark_labels: Sequence[str] = ("LID alarm", "event")) -> None:
    """One small panel per run: ``metric_key`` (left axis, blue) and ``lid_key`` (right axis, red)
    against step on a linear axis, step 0 included; ``marks[name]`` = (alarm step, event step, ...) drawn
    as vertical lines (dashed black, dotted green, dotted orange, dash-dot grey: up to four), named
    ``mark_labels`` in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(runs)
    if not names:
        raise ValueError("no runs to draw")
    cols = min(columns, len(names))
    nrows = -(-len(names) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 2.3 * nrows), squeeze=False, constrained_layout=True)
    lid_max = max((float(r[lid_key]) for rows in runs.values() for r in rows if r.get(lid_key) is not None),
                  default=1.0)
    for ax, name in zip(axes.ravel(), names):
        rows = sorted(runs[name], key=lambda r: r["step"])
        steps = [int(r["step"]) for r in rows]
        ax.plot(steps, [r[metric_key] for r in rows], "-", color="C0", lw=1.2)
        ax.set_ylim(-0.02, 1.02)
        ax.tick_params(labelsize=6)
        twin = ax.twinx()
        twin.plot(steps, [r.get(lid_key) for r in rows], "-", marker=".", ms=2, color="C3", lw=1)
        twin.set_ylim(0, lid_max * 1.05)
        twin.tick_params(labelsize=6, colors="C3")
        for step, style in zip((marks or {}).get(name, ()), MARK_STYLES):
            if step is not None:
                ax.axvline(step, color=style[0], ls=style[1], lw=1)
        ax.set_title(name, fontsize=7)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    named = ", ".join(f"{style[2]}: {label}" for style, label in zip(MARK_STYLES, mark_labels))
    fig.suptitle(f"{metric_label} (blue, left) and {lid_key} (red, right); {named}", fontsize=8)
    fig.savefig(path, dpi=100)
    plt.close(fig)
