"""The report's layer-profile section (``--layer all``, `lidscope.profile`, docs/layers.md): mean LID
against layer depth with its replicate interval, the mid-depth peak marked, and a table per layer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from lidscope.report.page import Page

COLORS = ("#1f5fb4", "#d9722b", "#2e9b5c", "#8e44ad", "#c0392b", "#7f8c8d", "#b7950b")


def peak_sentence(peak: Any) -> str:
    if not peak.interior:
        return f"No interior peak: {peak.reason}."
    verdict = {True: "separated from both neighbours", False: "overlapping a neighbour",
               None: "no interval, so no verdict"}[peak.separated]
    return f"Interior peak at layer {peak.layer} ({verdict}): {peak.reason}."


def profile_traces(profiles: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Plotly traces: per profile its means (with interval error bars when known) and its peak star."""
    data: list[dict[str, Any]] = []
    for i, (name, p) in enumerate(profiles.items()):
        c = COLORS[i % len(COLORS)]
        x = [r.layer for r in p.layers]
        y = [r.mean for r in p.layers]
        trace: dict[str, Any] = {"type": "scatter", "mode": "lines+markers", "x": x, "y": y, "name": name or "mean LID",
                                 "line": {"color": c}, "hovertemplate": "layer %{x}: %{y:.3f}<extra>" + (name or "")
                                 + "</extra>"}
        if p.has_intervals:
            trace["error_y"] = {"type": "data", "symmetric": False, "array": [r.high - r.mean for r in p.layers],
                                "arrayminus": [r.mean - r.low for r in p.layers], "thickness": 1.5, "width": 4}
        data.append(trace)
        if p.peak.interior:
            k = x.index(p.peak.layer)
            data.append({"type": "scatter", "mode": "markers", "x": [x[k]], "y": [y[k]],
                         "name": (f"{name}: " if name else "") + f"peak (layer {p.peak.layer})",
                         "marker": {"symbol": "star" if p.peak.separated is not False else "star-open", "size": 18,
                                    "color": c}})
    return data


def profile_frame(p: Any) -> pd.DataFrame:
    rows = []
    top = max(p.depths) or 1
    for r in p.layers:
        rows.append({"layer": int(r.layer), "depth": r.layer / top, "mean": r.mean, "lo": r.low, "hi": r.high,
                     "points": int(r.points), "peak": "peak" if (p.peak.layer == r.layer and p.peak.interior)
                     else ("max (at an end)" if p.peak.layer == r.layer else "")})
    return pd.DataFrame(rows, columns=["layer", "depth", "mean", "lo", "hi", "points", "peak"])


def profile_sections(page: Page, summary: dict[str, Any], prefix: str) -> None:
    """The layer profile of a run measured with ``--layer all`` (nothing for other runs)."""
    if not summary.get("profile"):
        return
    from lidscope.profile import LayerProfile

    p = LayerProfile.from_dict(summary["profile"])
    page.section("Layer profile: local dimension against depth", sid=f"{prefix}-profile",
                 note="Mean LID of every hidden layer (0 = the embedding output, then the output of each block, as "
                      "transformers' output_hidden_states gives them), all from one forward pass and the same token "
                      "draw. " + p.interval_note()[0].upper() + p.interval_note()[1:] + ". " + peak_sentence(p.peak))
    page.figure(f"{prefix}-profile-fig", profile_traces({"": p}),
                {"xaxis": {"title": {"text": "layer (0 = embedding output)"}, "dtick": 1},
                 "yaxis": {"title": {"text": "mean local dimension" + (" (95 % interval)" if p.has_intervals
                                                                      else " (no interval: one replicate)")}},
                 "legend": {"orientation": "h", "y": 1.12}})
    page.table(f"{prefix}-profile", profile_frame(p),
               {"layer": "layer", "depth": "depth", "mean": "mean LID", "lo": "95 % low (replicates)",
                "hi": "95 % high (replicates)", "points": "points", "peak": "peak"}, scroll=False)
    if p.shared_points is not None:
        page.note(f"{p.shared_points:,} points are measured at every layer; the others differ only where a layer "
                  "has bit-identical vectors for different inputs (typically the embedding output), which are "
                  "removed per layer (docs/layers.md).")
