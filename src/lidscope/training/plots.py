"""Figures of LID over training, drawn from a results store (never from live models).

`plot_training`: one panel per dataset/split; mean LID against step with a band, and the trainer's
task metrics on a second axis. The band is the standard deviation over seeds where several runs of
one configuration exist (runs whose names differ only by ``seed<k>``), else the interquartile range
of the pointwise estimates. Written as PNG and SVG.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lidscope.training.store import MetricNotFoundError, ResultsStore, StoreError

_SEED_PART = re.compile(r"[-_.]?seed[-_]?\d+")


def run_group(run: str) -> str:
    """The configuration a run belongs to: its name without a ``seed<k>`` part."""
    g = _SEED_PART.sub("", run).strip("-_.")
    return g or run


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def default_metrics(store: ResultsStore) -> list[str]:
    """Evaluation metrics if any were logged (``eval_*``), else the training loss."""
    names = store.metric_names(task_only=True)
    evals = [n for n in names if n.startswith("eval_")]
    if evals:
        return evals
    return [n for n in names if n in ("loss", "train_loss")][:1]


def plot_training(
    store: str | os.PathLike[str] | ResultsStore,
    out: str | os.PathLike[str] | None = None,
    *,
    metrics: Sequence[str] | None = None,
    layer: str | None = None,
    data: Sequence[str] | None = None,
    stat: str = "mean",
    signals: bool = True,
    title: str | None = None,
) -> list[Path]:
    """Draw mean LID (band) against step per dataset/split with task metrics; write PNG + SVG.

    Args:
        store: results store folder.
        out: output path without or with suffix (default ``STORE/training``); ``.png`` and ``.svg``
            are written next to each other.
        metrics: metric names for the second axis (default `default_metrics`; ``[]`` for none).
        layer: layer label to draw (default: the first in the store, usually ``-1``).
        data: restrict to these data specs or names.
        stat: row statistic to draw (``mean``, ``median``, ``global_estimate``).
        signals: mark `lidscope.training.signals` drops (triangles) and the first plateau (dotted).

    Raises:
        StoreError: empty store, unknown layer or data; MetricNotFoundError: unknown metric.
    """
    from lidscope.training.signals import drop, plateau

    st = store if isinstance(store, ResultsStore) else ResultsStore(store)
    df = st.read(require=True)
    if stat not in df.columns:
        raise StoreError(f"unknown statistic {stat!r}; use mean, median, global_estimate, q25 or q75.")
    if metrics is None:
        metrics = default_metrics(st)
    else:
        st.check_metrics(list(metrics))
    layers = list(dict.fromkeys(df["layer"]))
    layer = layer if layer is not None else layers[0]
    if layer not in layers:
        raise StoreError(f"layer {layer!r} is not in {st.path}; measured layers: {', '.join(layers)}.")
    df = df[df["layer"] == layer]
    df = df.assign(panel=[f"{n}" for n in df["data_name"]])
    if data:
        keep = df["data"].isin(data) | df["panel"].isin(data)
        if not keep.any():
            raise StoreError(f"no rows for data {list(data)}; the store holds {sorted(set(df['data']))}.")
        df = df[keep]
    panels = list(dict.fromkeys(df["panel"]))
    mt = st.read_metrics()
    mt = mt[mt["name"].isin(list(metrics))] if metrics else mt.iloc[0:0]

    plt = _pyplot()
    n = len(panels)
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.8 * nrows), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, panel in enumerate(panels):
        ax = axes[k // ncols][k % ncols]
        sub = df[df["panel"] == panel]
        groups: dict[str, list[str]] = {}
        for r in dict.fromkeys(sub["run"]):
            groups.setdefault(run_group(r), []).append(r)
        handles = []
        for gi, (group, runs) in enumerate(groups.items()):
            color = colors[gi % len(colors)]
            g = sub[sub["run"].isin(runs)]
            if len(runs) > 1:
                agg = g.groupby("step")[stat].agg(["mean", "std", "count"]).reset_index()
                x, y = agg["step"].to_numpy(), agg["mean"].to_numpy()
                sd = agg["std"].fillna(0).to_numpy()
                ax.fill_between(x, y - sd, y + sd, color=color, alpha=0.2, linewidth=0)
                label = f"{group} (mean ± std over {len(runs)} seeds)"
            else:
                g = g.sort_values("step")
                x, y = g["step"].to_numpy(), g[stat].to_numpy(dtype=float)
                if stat == "mean" and g["q25"].notna().all():
                    ax.fill_between(x, g["q25"].to_numpy(float), g["q75"].to_numpy(float), color=color, alpha=0.15,
                                    linewidth=0)
                label = f"{group} (band: pointwise quartiles)" if stat == "mean" else group
                if stat == "mean" and "mean_low" in g and g["mean_low"].notna().any():
                    lo, hi = g["mean_low"].to_numpy(float), g["mean_high"].to_numpy(float)
                    ok = np.isfinite(lo) & np.isfinite(hi)
                    ax.errorbar(x[ok], y[ok], yerr=[y[ok] - lo[ok], hi[ok] - y[ok]], fmt="none", ecolor=color,
                                elinewidth=1.2, capsize=3, zorder=3)
                    label = label[:-1] + "; bars: 95 % interval of the mean)" + _last_change(st, g, layer)
                elif stat == "mean":
                    label = label[:-1] + "; one replicate: no interval of the mean)"
            (h,) = ax.plot(x, y, "-o", color=color, markersize=3, label=label)
            handles.append(h)
            if signals and len(y) >= 2:
                for ev in drop(y, x):
                    ax.plot([ev.step], [ev.to_value], "v", color="red", markersize=7, zorder=4)
                p = plateau(y, x)
                if p.detected:
                    ax.axvline(p.start_step, color=color, linestyle=":", linewidth=1)
        ax.set_title(panel)
        ax.set_xlabel("step")
        ax.set_ylabel(f"{stat} LID (layer {layer})")
        ax.grid(alpha=0.3)
        if not mt.empty:
            ax2 = ax.twinx()
            runs_here = set(sub["run"])
            for mi, name in enumerate(metrics):
                m = mt[(mt["name"] == name) & (mt["run"].isin(runs_here))]
                if m.empty:
                    continue
                agg = m.groupby("step")["value"].mean().reset_index()
                (h2,) = ax2.plot(agg["step"], agg["value"], "--", color=colors[(len(groups) + mi) % len(colors)],
                                 linewidth=1.2, label=name)
                handles.append(h2)
            ax2.set_ylabel(", ".join(metrics) if len(metrics) <= 2 else "task metrics")
        ax.legend(handles=handles, fontsize=7, loc="best")
    for k in range(n, nrows * ncols):
        axes[k // ncols][k % ncols].axis("off")
    fig.suptitle(title or f"LID over training ({st.path.name}); red triangles: significant drops, "
                          "dotted: plateau start", fontsize=9)
    fig.tight_layout()
    base = Path(out) if out is not None else st.path / "training"
    if base.suffix.lower() in (".png", ".svg"):
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in (".png", ".svg"):
        p = base.with_name(base.name + ext)
        tmp = p.with_name(f".{p.stem}.tmp{ext}")
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
        os.replace(tmp, p)
        paths.append(p)
    plt.close(fig)
    return paths


def _last_change(store: ResultsStore, g: Any, layer: str) -> str:
    """``\nstep 300 vs 0: -9.8 % [-12.1, -7.5] %, lower than base`` (paired replicates), or ``""``."""
    from lidscope.training.uncertainty import step_changes

    if len(g) < 2:
        return ""
    ch = step_changes(store, data=g["data"].iloc[0], run=g["run"].iloc[0], layer=layer).iloc[-1]
    if ch["relative_change_low"] != ch["relative_change_low"]:
        return ""
    return (f"\nstep {ch['step']} vs {ch['base_step']}: {100 * ch['relative_change']:+.1f} % "
            f"[{100 * ch['relative_change_low']:+.1f}, {100 * ch['relative_change_high']:+.1f}] %, {ch['verdict']}")


__all__ = ["MetricNotFoundError", "default_metrics", "plot_training", "run_group"]
