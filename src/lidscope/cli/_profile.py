"""Terminal tables of layer profiles (``--layer all``; `lidscope.profile`)."""

from __future__ import annotations

import math
from typing import Any

from rich.markup import escape

#: Width in characters of the bar drawn beside each layer's mean.
BAR_WIDTH = 24


def _bar(value: float, low: float, high: float) -> str:
    if not (math.isfinite(value) and math.isfinite(low) and math.isfinite(high)) or high <= low:
        return ""
    n = int(round(BAR_WIDTH * (value - low) / (high - low)))
    return "█" * max(1, n)


def _ci(low: float, high: float) -> str:
    return f"{low:.3f} to {high:.3f}" if math.isfinite(low) and math.isfinite(high) else "none (one replicate)"


def peak_text(peak: Any) -> str:
    """``interior peak at layer 3 (separated): ...`` or ``no interior peak: ...``."""
    if not peak.interior:
        return f"no interior peak: {peak.reason}"
    verdict = {True: "separated from both neighbours", False: "overlaps a neighbour", None: "no interval"}[peak.separated]
    return f"interior peak at layer {peak.layer} ({verdict}): {peak.reason}"


def profile_table(profile: Any, title: str, summary: dict[str, Any] | None = None) -> Any:
    """A rich Table: layer, depth, mean with its 95 % interval, median and std (replicate 0), points,
    a bar of the mean (scaled between the smallest and largest mean), the peak marked."""
    from rich.table import Table

    layers = (summary or {}).get("layers", {})
    means = [r.mean for r in profile.layers if math.isfinite(r.mean)]
    lo = min(means) if means else math.nan
    hi = max(means) if means else math.nan
    base = lo - 0.1 * (hi - lo) if hi > lo else lo - 1.0
    t = Table(title=title, title_justify="left")
    for col, just in (("layer", "right"), ("depth", "right"), ("mean LID", "right"), ("95 % interval", "right"),
                      ("median", "right"), ("std", "right"), ("points", "right"), ("", "left"), ("peak", "left")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    top = max(profile.depths) or 1
    for r in profile.layers:
        ls = layers.get(r.label, {})
        is_peak = profile.peak.layer == r.layer
        mark = ("[bold]peak[/]" if profile.peak.interior else "max (at an end)") if is_peak else ""
        t.add_row(str(r.layer) + (" (emb)" if r.layer == 0 else ""), f"{r.layer / top:.2f}",
                  f"[bold green]{r.mean:.3f}[/]" if is_peak else f"{r.mean:.3f}", _ci(r.low, r.high),
                  f"{ls['median']:.3f}" if "median" in ls else "", f"{ls['std']:.3f}" if "std" in ls else "",
                  f"{r.points:,}", _bar(r.mean, base, hi), mark)
    return t


def print_profile(console: Any, profile: Any, title: str, summary: dict[str, Any] | None = None,
                  figure: Any = None) -> None:
    """The profile table, the peak sentence, the interval note and the figure's path."""
    console.print(profile_table(profile, title, summary))
    console.print(escape(peak_text(profile.peak)))
    colour = "green" if profile.has_intervals else "yellow"
    console.print(f"[{colour}]intervals:[/] {escape(profile.interval_note())}")
    if profile.shared_points is not None and profile.layers:
        n = max(r.points for r in profile.layers)
        console.print(f"same tokens: {profile.shared_points:,} of {n:,} points are measured at every layer (one "
                      "token draw and one context dedup for all layers; bit-identical vectors, e.g. at the "
                      "embedding output, are removed per layer).")
    if figure:
        console.print(f"figure: {escape(str(figure))}")


def change_table(rows: list[dict[str, Any]], title: str) -> Any:
    """Per-layer change of one model against the base (`lidscope.profile.profile_change` rows)."""
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for col in ("layer", "base mean", "change", "95 % interval", "relative", "verdict"):
        t.add_column(col, justify="left" if col == "verdict" else "right")
    for r in rows:
        known = math.isfinite(r["change_low"]) and math.isfinite(r["change_high"])
        t.add_row(str(r["layer"]), f"{r['base_mean']:.3f}", f"{r['change']:+.3f}",
                  f"{r['change_low']:+.3f} to {r['change_high']:+.3f}" if known else "none (one replicate)",
                  f"{100 * r['relative_change']:+.1f} %", escape(str(r["verdict"])))
    return t


def side_by_side_table(profiles: dict[str, Any], title: str) -> Any:
    """One row per layer, one column per model (or checkpoint): mean [95 % interval], the peak starred."""
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    t.add_column("layer", justify="right")
    for name in profiles:
        t.add_column(escape(str(name)), justify="right")
    layers = sorted({r.layer for p in profiles.values() for r in p.layers})
    for layer in layers:
        cells = []
        for p in profiles.values():
            r = next((x for x in p.layers if x.layer == layer), None)
            if r is None:
                cells.append("")
                continue
            text = f"{r.mean:.3f}"
            if math.isfinite(r.low) and math.isfinite(r.high):
                text += f" [{r.low:.2f}, {r.high:.2f}]"
            if p.peak.layer == layer:
                text = f"[bold green]{text} *[/]" if p.peak.interior else f"{text} (max, at an end)"
            cells.append(text)
        t.add_row(str(layer), *cells)
    return t
