"""Figures from measured local dimensions (arrays of values, never live models).

Uses matplotlib's non-interactive Agg backend; every function writes a PNG and returns its path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _finite(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return v[np.isfinite(v)]


def _save(fig, path: str | os.PathLike[str]) -> Path:  # type: ignore[no-untyped-def]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    os.replace(tmp, path)
    return path


def plot_distribution(
    values: np.ndarray | Mapping[str, np.ndarray], path: str | os.PathLike[str], title: str = ""
) -> Path:
    """Histogram (left) and violin (right) of pointwise local dimensions.

    ``values``: one array, or ``{label: array}`` for several layers (one histogram panel per layer,
    violins side by side).
    The mean is drawn as a dashed line (histogram) and a white dot (violin) and printed.
    """
    plt = _pyplot()
    groups = {"": values} if not isinstance(values, Mapping) else dict(values)
    groups = {k: _finite(v) for k, v in groups.items()}
    n = len(groups)
    fig = plt.figure(figsize=(10, 4 if n == 1 else 1.6 + 1.4 * n))
    grid = fig.add_gridspec(n, 2, width_ratios=[3, 2])
    first = None
    for row, (label, v) in enumerate(groups.items()):  # one histogram per layer: small multiples, shared x
        ax_h = fig.add_subplot(grid[row, 0], sharex=first)
        first = first or ax_h
        if v.size:
            ax_h.hist(v, bins=60, alpha=0.85, color=f"C{row}")
            ax_h.axvline(v.mean(), linestyle="--", color="k", linewidth=1)
        ax_h.set_ylabel("points" if n == 1 else f"layer {label}\npoints")
        if row < n - 1:
            ax_h.tick_params(labelbottom=False)
    ax_h.set_xlabel("local dimension (TwoNN)")
    ax_v = fig.add_subplot(grid[:, 1])  # after the histograms: fig.axes[0] stays the (first) histogram
    _violins(ax_v, list(groups.values()), list(groups.keys()))
    ax_v.set_ylabel("local dimension")
    if title:
        fig.suptitle(title)
    path = _save(fig, path)
    plt.close(fig)
    return path


def _violins(ax, data: list[np.ndarray], labels: list[str],  # type: ignore[no-untyped-def]
             intervals: list[tuple[float, float] | None] | None = None) -> None:
    data = [d if d.size else np.array([np.nan]) for d in data]
    pos = np.arange(1, len(data) + 1)
    ok = [i for i, d in enumerate(data) if np.isfinite(d).any()]
    if ok:
        parts = ax.violinplot([data[i] for i in ok], positions=pos[ok], showextrema=False, widths=0.8)
        for body in parts["bodies"]:
            body.set_alpha(0.7)
    for i in ok:
        d = data[i]
        q1, med, q3 = np.percentile(d, [25, 50, 75])
        ax.vlines(pos[i], q1, q3, color="k", linewidth=4)
        ax.scatter([pos[i]], [d.mean()], color="white", edgecolor="k", zorder=3, s=30)
        ax.annotate(f"{d.mean():.2f}", (pos[i], d.mean()), textcoords="offset points", xytext=(8, 0),
                    fontsize=8, va="center")
    for i, iv in enumerate(intervals or []):
        if iv is not None and np.all(np.isfinite(iv)):
            lo, hi = iv
            ax.errorbar([pos[i] + 0.3], [(lo + hi) / 2], yerr=[[(hi - lo) / 2], [(hi - lo) / 2]], fmt="none",
                        ecolor="tab:red", elinewidth=2, capsize=4, zorder=4)
    ax.set_xticks(pos)
    ax.set_xticklabels([lab or "all" for lab in labels], rotation=20, ha="right")


def plot_compare(
    groups: Mapping[str, Mapping[str, np.ndarray]],
    path: str | os.PathLike[str],
    title: str = "Pointwise local dimension",
    intervals: Mapping[str, Mapping[str, tuple[float, float]]] | None = None,
) -> Path:
    """The paper's figure: one panel per dataset, models' violins side by side, means marked.

    ``groups``: ``{dataset: {model: values}}``; ``intervals``: ``{dataset: {model: (low, high)}}``,
    the 95 % interval of each mean, drawn as a red error bar right of its violin.
    """
    plt = _pyplot()
    n = max(1, len(groups))
    width = max(4.0, 1.2 * max((len(m) for m in groups.values()), default=1) + 1.5)
    fig, axes = plt.subplots(1, n, figsize=(width * n, 4.5), squeeze=False, sharey=True)
    for ax, (dataset, models) in zip(axes[0], groups.items()):
        bars = (intervals or {}).get(dataset, {})
        _violins(ax, [_finite(v) for v in models.values()], list(models.keys()), [bars.get(m) for m in models])
        if len(groups) > 1 or dataset not in title:  # the figure title may already name the only dataset
            ax.set_title(dataset)
        ax.grid(axis="y", alpha=0.3)
    bars_drawn = any(iv is not None and np.all(np.isfinite(iv)) for ms in (intervals or {}).values()
                     for iv in ms.values())
    axes[0][0].set_ylabel("local dimension (violin and white dot: replicate 0's points;\nred bar: 95 % interval "
                          "of the mean over replicates)" if bars_drawn else
                          "local dimension (white dot = mean;\none replicate: no interval of the mean)")
    fig.suptitle(title)
    path = _save(fig, path)
    plt.close(fig)
    return path


def plot_layer_profile(
    profiles: Mapping[str, object] | object,
    path: str | os.PathLike[str],
    title: str = "Mean local dimension by layer",
) -> Path:
    """LID against layer depth: one line per `lidscope.profile.LayerProfile` (``{name: profile}``
    for several models or checkpoints), the 95 % replicate interval as error bars and a band (none
    drawn with one replicate, and the axis says so), the interior peak as a star (`find_peak`; a
    hollow star when its interval overlaps a neighbour's), and "no interior peak" in the legend
    when the largest mean is at an end."""
    plt = _pyplot()
    groups = dict(profiles) if isinstance(profiles, Mapping) else {"": profiles}
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    any_interval = False
    for i, (name, p) in enumerate(groups.items()):
        x = np.asarray(p.depths, dtype=np.float64)  # type: ignore[attr-defined]
        y = p.means  # type: ignore[attr-defined]
        colour = f"C{i}"
        peak = p.peak  # type: ignore[attr-defined]
        where = (f"peak at layer {peak.layer}" + ("" if peak.separated is None else
                                                   " (separated)" if peak.separated else " (overlaps a neighbour)")
                 if peak.interior else "no interior peak")
        label = f"{name}: {where}" if name else where
        ax.plot(x, y, marker="o", color=colour, label=label)
        if p.has_intervals:  # type: ignore[attr-defined]
            any_interval = True
            lo = np.asarray([r.low for r in p.layers])  # type: ignore[attr-defined]
            hi = np.asarray([r.high for r in p.layers])  # type: ignore[attr-defined]
            ax.fill_between(x, lo, hi, color=colour, alpha=0.18, linewidth=0)
            ax.errorbar(x, y, yerr=[y - lo, hi - y], fmt="none", ecolor=colour, capsize=3, linewidth=1)
        if peak.interior:
            k = list(p.depths).index(peak.layer)  # type: ignore[attr-defined]
            filled = peak.separated is not False
            ax.scatter([x[k]], [y[k]], marker="*", s=260, zorder=5, edgecolor=colour, linewidth=1.5,
                       facecolor=colour if filled else "white")
    ax.set_xlabel("layer (0 = embedding output, then one per block)")
    ax.set_ylabel("mean local dimension\n(band: 95 % interval over replicates)" if any_interval else
                  "mean local dimension\n(one replicate: no interval computed)")
    ax.set_xticks(sorted({int(d) for p in groups.values() for d in p.depths}))  # type: ignore[attr-defined]
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    if title:
        ax.set_title(title)
    path = _save(fig, path)
    plt.close(fig)
    return path
