"""The report's geometry sections (``--metrics``, docs/geometry.md): per run the scale profile (TwoNN
mean vs L and GRIDE vs rank), the persistence diagram and a table of every descriptor with its
interval over replicates; per sweep the descriptors' series over training steps."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from lidscope.report.page import Page

COLORS = ("#1f5fb4", "#d9722b", "#2e9b5c", "#8e44ad", "#c0392b", "#7f8c8d", "#b7950b")
#: Descriptors' per-scale lists and the list that names their scales.
SCALES = {"scale_profile": "n_neighbors", "gride": "n2"}


def _interval_text(iv: dict[str, Any] | None, digits: int = 4) -> str:
    if not iv or iv.get("low") is None or not np.isfinite([iv["low"], iv["high"]]).all():
        return "-"
    return f"{iv['low']:.{digits}f} to {iv['high']:.{digits}f}"


def descriptor_table(g: dict[str, Any]) -> pd.DataFrame:
    """One row per scalar descriptor value (and per scale of a per-scale one) with its interval. A row with an
    interval over replicates shows their mean as its estimate (never replicate 0's value beside the replicates'
    interval); ``sample`` names which it is."""
    rows = []
    intervals = g.get("intervals", {})
    over = f"mean over {g.get('n_replicates')} replicates" if g.get("n_replicates") else "mean over replicates"

    def row(name: str, value: str, x: Any, iv: dict[str, Any] | None) -> dict[str, Any]:
        known = bool(iv) and iv.get("estimate") is not None and np.isfinite(iv["estimate"])
        return {"descriptor": name, "value": value, "sample": over if known else "replicate 0" if intervals else
                "one replicate", "estimate": float(iv["estimate"]) if known else float(x),
                "interval": _interval_text(iv)}

    for name, vals in g.get("values", {}).items():
        scale_key = SCALES.get(name)
        for key, v in vals.items():
            iv = intervals.get(name, {}).get(key)
            if isinstance(v, list):
                if not scale_key or key in ("n1", "n2", "n_neighbors"):
                    continue
                for j, (sc, x) in enumerate(zip(vals[scale_key], v)):
                    rows.append(row(name, f"{key} at {scale_key} = {sc}", x, iv[j] if iv else None))
            elif not isinstance(v, bool):
                rows.append(row(name, key, v, iv))
    return pd.DataFrame(rows, columns=["descriptor", "value", "sample", "estimate", "interval"])


def geometry_run_sections(page: Page, summary: dict[str, Any], prefix: str) -> None:
    """Scale profile, persistence diagram and descriptor table of every layer that has descriptors."""
    layers = {k: ls["geometry"] for k, ls in summary.get("layers", {}).items() if ls.get("geometry")}
    if not layers:
        return
    page.section("Geometry beyond the mean LID", sid=f"{prefix}-geometry",
                 note="Descriptors of the same point cloud (lidscope measure --metrics; docs/geometry.md): the "
                      "mean local TwoNN at each neighbourhood size L and GRIDE at each neighbour rank (which L "
                      "the cloud's dimension settles at), Vietoris-Rips persistent homology of a subsample, "
                      "anisotropy, rank and isotropy. Intervals are over replicates (none with one replicate).")
    profile, diag = [], []
    for i, (lab, g) in enumerate(layers.items()):
        c = COLORS[i % len(COLORS)]
        v = g.get("values", {})
        r0 = " (replicate 0)" if g.get("intervals") else ""   # figures draw replicate 0's cloud
        if "scale_profile" in v:
            sp = v["scale_profile"]
            profile.append({"type": "scatter", "mode": "lines+markers", "x": sp["n_neighbors"], "y": sp["mean"],
                            "name": f"layer {lab}: mean local TwoNN (x = L){r0}", "line": {"color": c}})
        if "gride" in v:
            gr = v["gride"]
            err = gr.get("dimension_err")
            profile.append({"type": "scatter", "mode": "lines+markers", "x": gr["n2"], "y": gr["dimension"],
                            "name": f"layer {lab}: GRIDE (x = n2){r0}", "line": {"color": c, "dash": "dash"},
                            **({"error_y": {"type": "data", "array": err, "thickness": 1}} if err else {})})
        dg = g.get("persistence_diagrams")
        if dg:
            for dim, sym in (("h0", "circle"), ("h1", "diamond")):
                pts = np.asarray(dg[dim], dtype=float).reshape(-1, 2)
                pts = pts[np.isfinite(pts).all(axis=1)]
                diag.append({"type": "scatter", "mode": "markers", "x": pts[:, 0], "y": pts[:, 1],
                             "name": f"layer {lab}: {dim.upper()}{r0}", "marker": {"color": c, "symbol": sym, "size": 5,
                                                                             "opacity": 0.6}})
    if profile:
        page.h3("Scale profile: dimension against neighbourhood size")
        page.figure(f"{prefix}-scale-profile", profile,
                    {"xaxis": {"title": {"text": "neighbourhood size L / neighbour rank n2"}, "type": "log"},
                     "yaxis": {"title": {"text": "intrinsic dimension"}}, "legend": {"orientation": "h", "y": 1.15}})
    if diag:
        top = max(float(np.max(t["y"])) if len(t["y"]) else 0.0 for t in diag)
        page.h3("Persistence diagram (Vietoris-Rips, subsample)")
        page.figure(f"{prefix}-persistence", diag,
                    {"xaxis": {"title": {"text": "birth (distance)"}}, "yaxis": {"title": {"text": "death (distance)"}},
                     "shapes": [{"type": "line", "x0": 0, "y0": 0, "x1": top, "y1": top,
                                 "line": {"color": "#999", "dash": "dot"}}],
                     "legend": {"orientation": "h", "y": 1.12}})
    for lab, g in layers.items():
        page.h3(f"Layer {lab}: every descriptor")
        page.table(f"{prefix}-geometry-{lab}".replace("(", "").replace(")", "").replace(",", "_"),
                   descriptor_table(g), {"descriptor": "descriptor", "value": "value", "sample": "sample",
                                         "estimate": "estimate",
                                         "interval": "95 % interval (replicates)"}, digits=4, scroll=False)
        for name, reason in g.get("unavailable", {}).items():
            page.note(f"Layer {lab}: {name} not computed: {reason}")


def geometry_series(rows: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{descriptor/value: (steps, values)}`` from a store group's geometry column (scalars only)."""
    out: dict[str, tuple[list, list]] = {}
    for step, text in zip(rows["step"], rows["geometry"]):
        if not isinstance(text, str):
            continue
        for name, vals in json.loads(text).get("values", {}).items():
            for key, v in vals.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    s, y = out.setdefault(f"{name}/{key}", ([], []))
                    s.append(int(step))
                    y.append(float(v))
    return {k: (np.asarray(s), np.asarray(y)) for k, (s, y) in out.items()}


def geometry_sweep_figure(page: Page, fid: str, rows: pd.DataFrame) -> None:
    """The descriptors' series over steps (each scaled to its first value, so they share one axis)."""
    if "geometry" not in rows or not rows["geometry"].notna().any():
        return
    series = geometry_series(rows.sort_values("step"))
    data = []
    for i, (k, (s, y)) in enumerate(series.items()):
        base = y[0] if y.size and y[0] != 0 else 1.0
        data.append({"type": "scatter", "mode": "lines+markers", "x": s, "y": y / base, "name": k,
                     "customdata": y, "hovertemplate": k + ": %{customdata:.4g} (step %{x})<extra></extra>",
                     "line": {"color": COLORS[i % len(COLORS)]}})
    if data:
        page.h3("Geometry descriptors over training (relative to the first checkpoint)")
        page.figure(fid, data, {"xaxis": {"title": {"text": "step"}},
                                "yaxis": {"title": {"text": "value / value at the first step"}},
                                "legend": {"orientation": "h", "y": 1.2}}, height=420)


#: The grokking run's descriptors drawn over training (Tang et al.: H1 persistence of the embedding matrix).
GROKKING_SERIES = ("persistence_h1_total_persistence", "persistence_h1_max_persistence", "anisotropy_mean_cosine",
                   "spectrum_effective_rank", "gride_dimension_n2=2")


def grokking_geometry_figure(page: Page, fid: str, m: pd.DataFrame) -> None:
    """The ``geo_*`` columns of a grokking run (``--metrics``) over steps, each relative to its first value."""
    data = []
    for prefix, dash in (("geo_embedding", "solid"), ("geo_train", "dot"), ("geo_val", "dash")):
        for j, key in enumerate(GROKKING_SERIES):
            col = f"{prefix}_{key}"
            if col not in m or not m[col].notna().any():
                continue
            y = m[col].to_numpy(dtype=float)
            base = y[0] if np.isfinite(y[0]) and y[0] != 0 else 1.0
            data.append({"type": "scatter", "mode": "lines", "x": m["step"], "y": y / base, "customdata": y,
                         "name": f"{prefix[4:]}: {key}", "line": {"color": COLORS[j % len(COLORS)], "dash": dash},
                         "hovertemplate": f"{prefix[4:]} {key}: " + "%{customdata:.4g} (step %{x})<extra></extra>"})
    if data:
        page.h3("Geometry over training: embedding matrix (solid), train (dotted) and validation (dashed) clouds")
        page.figure(fid, data, {"xaxis": {"title": {"text": "step"}, "type": "log"},
                                "yaxis": {"title": {"text": "value / value at the first evaluation"}},
                                "legend": {"orientation": "h", "y": 1.25}}, height=440)
