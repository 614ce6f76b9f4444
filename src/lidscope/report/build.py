"""The report's sections: one run, a comparison of runs, a sweep (results store), and grokking.

`write_report` picks the sections from what it is given: measurement folders (or `Run` objects
made from in-memory results), a ``compare`` folder, a results store, a grokking output folder, or a
`lidscope detect` run folder (or a folder holding several, e.g. a benchmark's output).
The mean of a run, and the change between two runs, carry the replicate interval recorded with them
(``summary["layers"][layer]["interval"]``, `lidscope.replicates.paired_comparison`); with one
replicate they say that there is none. Token-group tables carry 95 % intervals over sequences
(`lidscope.drilldown.group_means`): those hold the point cloud fixed, so they compare groups within
a run and are labelled as such, never as the interval of a run's mean (docs/statistics.md).
"""

from __future__ import annotations

import html as _html
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lidscope.drilldown import MIN_COUNT, Drilldown, compare_runs, group_means
from lidscope.errors import LIDInputError
from lidscope.report.detect_sections import detect_sections, find_detect_folders
from lidscope.report.geometry_sections import geometry_run_sections, geometry_sweep_figure, grokking_geometry_figure
from lidscope.report.page import Page, to_json
from lidscope.report.profile_sections import profile_sections
from lidscope.runs import Run, is_run_folder, load_run

#: Most points drawn on a run's maps (all layers together); larger runs show a seeded random sample.
MAP_MAX_POINTS = 8_000
#: Characters of text shown each side of a hovered token.
CONTEXT_CHARS = 60
#: Neighbours listed under a hovered point.
HOVER_NEIGHBORS = 5
COLORS = ("#1f5fb4", "#d9722b", "#2e9b5c", "#8e44ad", "#c0392b", "#7f8c8d")
BINS = 60


def _fmt_ci(m: float, lo: float, hi: float) -> str:
    if not np.isfinite(lo):
        return f"{m:.2f}"
    return f"{m:.2f} [{lo:.2f}, {hi:.2f}]"


def mean_kpi(summary: dict[str, Any], layer: str, points_mean: float) -> tuple[str, str]:
    """The run's mean with its replicate interval (labelled with what it covers), or the mean and why it
    has no interval."""
    ls = (summary.get("layers", {}) or {}).get(layer, {}) or {}
    rec = ls.get("interval") or summary.get("interval")
    if isinstance(rec, dict) and np.isfinite(rec.get("low", np.nan)):
        label = ls.get("interval_label") or summary.get("interval_label") or \
            f"95 % interval, {rec.get('method', '')}, n = {rec.get('n')}"
        return (f"mean LID, layer {layer} ({label})", _fmt_ci(rec["estimate"], rec["low"], rec["high"]))
    mean = ls.get("mean", points_mean)
    return (f"mean LID, layer {layer} (one replicate: no interval; --replicates 3 gives one)", f"{mean:.2f}")


def statistics_of(summary: dict[str, Any], layer: str) -> str:
    """Which sample a run's statistics describe (``mean over 3 replicates``, ``one replicate``)."""
    ls = (summary.get("layers", {}) or {}).get(layer, {}) or {}
    n = int(ls.get("n_replicates") or len(summary.get("replicates") or []) or 1)
    return str(ls.get("statistics") or ("mean over %d replicates" % n if n > 1 else "one replicate"))


def fixed_cloud_details(page: Page, label: str, value: str, why: str) -> None:
    """The interval that holds the point cloud fixed, folded away below the first screen and labelled as not
    covering sampling (docs/statistics.md: 15x too narrow for a run's mean, 7x for a change)."""
    page.raw(f"<details><summary>Details: {_html.escape(label)} (does not cover sampling)</summary>"
             f'<div class="kpi"><div><b>{_html.escape(value)}</b><span>{_html.escape(label)}</span></div></div>'
             f'<p class="note">{_html.escape(why)}</p></details>')


def warnings_of(page: Page, summary: dict[str, Any]) -> None:
    """Replicates that share their texts, and texts cut at the maximum length, stated on the first screen."""
    info = summary.get("independence") or {}
    if info.get("warning"):
        page.raw(f'<p class="warn"><b>Replicates not independent:</b> {_html.escape(str(info["warning"]))}</p>')
    c = summary.get("counts") or {}
    k = c.get("sequences_truncated")
    if k:
        n = c.get("sequences_extracted") or c.get("sequences")
        ml = (summary.get("params") or {}).get("extraction.max_length")
        page.note(f"{k:,} of {n:,} texts ({c.get('sequences_truncated_fraction') or 0:.0%}) were cut at the maximum "
                  f"length{f' ({ml:,} tokens)' if isinstance(ml, int) else ''}: their later tokens are not measured.")


def run_change(a: Run, b: Run, layer: str | None) -> Any:
    """`lidscope.replicates.paired_comparison` of two runs' recorded replicates, or None (runs
    written before replicates were recorded)."""
    from lidscope.replicates import paired_comparison

    try:
        return paired_comparison(a, b, layer)
    except (KeyError, TypeError, IndexError, StopIteration):
        return None


def overall(points: Any) -> Any:
    """Mean LID of a layer's points with its interval over sequences (one-row Series)."""
    return group_means(points["lid"].to_numpy(), np.zeros(len(points)), points["seq_index"].to_numpy()).iloc[0]


def histogram(values: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Shared bin edges (1st-99.5th percentile of all values) and the density of each series."""
    allv = np.concatenate([v[np.isfinite(v)] for v in values.values()])
    lo, hi = np.quantile(allv, [0.005, 0.995]) if allv.size else (0.0, 1.0)
    edges = np.linspace(lo, hi if hi > lo else lo + 1, BINS + 1)
    return edges, {k: np.histogram(v[np.isfinite(v)], edges, density=True)[0] for k, v in values.items()}


def _hist_fig(page: Page, fid: str, values: dict[str, np.ndarray], means: dict[str, float]) -> None:
    edges, dens = histogram(values)
    mids = (edges[:-1] + edges[1:]) / 2
    data = []
    for i, (k, d) in enumerate(dens.items()):
        c = COLORS[i % len(COLORS)]
        data.append({"type": "bar", "x": mids, "y": d, "name": k, "marker": {"color": c}, "opacity": 0.55,
                     "width": float(edges[1] - edges[0]), "hovertemplate": "LID %{x:.2f}: %{y:.3f}<extra>" + k
                     + "</extra>"})
    shapes = [{"type": "line", "x0": m, "x1": m, "yref": "paper", "y0": 0, "y1": 1,
               "line": {"color": COLORS[i % len(COLORS)], "dash": "dash", "width": 2}}
              for i, m in enumerate(means.values())]
    page.figure(fid, data, {"barmode": "overlay", "xaxis": {"title": {"text": "local dimension"}},
                            "yaxis": {"title": {"text": "density"}}, "shapes": shapes,
                            "legend": {"orientation": "h", "y": 1.12}})


def _dot_fig(page: Page, fid: str, tables: dict[str, Any], key: str, title: str, height: int = 300) -> None:
    """Means with 95 % intervals, one colour per series (e.g. layer)."""
    data = []
    for i, (name, t) in enumerate(tables.items()):
        data.append({"type": "scatter", "mode": "markers", "name": name, "x": t["mean"], "y": t[key].astype(str),
                     "marker": {"color": COLORS[i % len(COLORS)], "size": 8},
                     "error_x": {"type": "data", "symmetric": False, "array": t["hi"] - t["mean"],
                                 "arrayminus": t["mean"] - t["lo"], "thickness": 1.5, "width": 3},
                     "hovertemplate": "%{y}: %{x:.2f}<extra>" + name + "</extra>"})
    order = list(next(iter(tables.values()))[key].astype(str))
    page.figure(fid, data, {"xaxis": {"title": {"text": "mean local dimension (95 % interval)"}},
                            "yaxis": {"title": {"text": title}, "type": "category", "categoryorder": "array",
                                      "categoryarray": order[::-1], "automargin": True},
                            "legend": {"orientation": "h", "y": 1.12}}, height=height)


STAT_COLUMNS = {"count": "points", "sequences": "sequences", "mean": "mean LID", "lo": "95 % low", "hi": "95 % high"}


def contexts(run: Run, pts: Any, rows: np.ndarray) -> list[list[Any]]:
    """[before, token text, after, token, lid, neighbours] of the given points of one layer."""
    texts = dict(zip(run.texts["seq_index"], run.texts["text"])) if run.texts is not None else {}
    has_span = "char_start" in pts.columns
    shown = pts["shown"].to_numpy()
    lid = pts["lid"].to_numpy()
    seq = pts["seq_index"].to_numpy()
    pos_ = pts["position"].to_numpy()
    a_ = pts["char_start"].to_numpy() if has_span else None
    b_ = pts["char_end"].to_numpy() if has_span else None
    nbs = pts["neighbors"].to_numpy() if "neighbors" in pts.columns else None
    pos_of = {p: i for i, p in enumerate(pts.index.to_numpy())}
    w = CONTEXT_CHARS
    out = []
    for r in rows:
        text = texts.get(int(seq[r]))
        before = after = ""
        tok = shown[r]
        if text is not None and has_span and 0 <= a_[r] < b_[r] <= len(text):
            a, b = int(a_[r]), int(b_[r])
            before = ("…" if a > w else "") + text[max(0, a - w):a]
            tok = text[a:b]
            after = text[b:b + w] + ("…" if b + w < len(text) else "")
        elif text is not None:   # no span (a special token): its text beside it
            if int(pos_[r]) == 0:
                after = " " + text[:w] + ("…" if w < len(text) else "")
            else:
                before = ("…" if len(text) > w else "") + text[-w:] + " "
        near = ""
        if nbs is not None and nbs[r] is not None:
            near = " · ".join(f"{shown[pos_of[int(j)]]} ({lid[pos_of[int(j)]]:.1f})"
                              for j in list(nbs[r])[:HOVER_NEIGHBORS] if int(j) in pos_of)
        out.append([before, tok, after, shown[r], float(lid[r]), near])
    return out


def _map(page: Page, run: Run, d: Drilldown, fid: str, budget: int) -> None:
    pts = d.points
    if "map_x" not in pts.columns or pts["map_x"].isna().all():
        page.note(f"Layer {d.layer}: no map (this run folder was written before maps were kept; measure again).")
        return
    n = len(pts)
    rows = np.arange(n) if n <= budget else np.sort(np.random.default_rng(0).choice(n, budget, replace=False))
    lid = pts["lid"].to_numpy()
    lo, hi = np.nanquantile(lid, [0.02, 0.98])
    share = run.points_meta.get("map_variance_share", {}).get(str(d.layer)) or \
        run.summary.get("map", {}).get("variance_share", {}).get(str(d.layer))
    var = f" (they explain {share[0]:.0%} and {share[1]:.0%} of the variance)" if share else ""
    thin = (f"Showing {len(rows):,} of {n:,} points, a random sample (seed 0), so that the page stays fast. "
            if len(rows) < n else f"All {n:,} points. ")
    page.note(f"Layer {d.layer}: each point's first two principal components{var}, coloured by its local "
              f"dimension (colour scale clipped at the 2nd and 98th percentiles). {thin}"
              "Hover a point to read its token in context and its nearest neighbours.")
    ctx_id = f"{fid}-ctx"
    page.raw(f'<div class="grid2"><div>')
    x = pts["map_x"].to_numpy()[rows]
    y = pts["map_y"].to_numpy()[rows]
    data = [{"type": "scatter", "mode": "markers", "x": x, "y": y, "text": pts["shown"].to_numpy()[rows],
             "marker": {"color": lid[rows], "colorscale": "Viridis", "cmin": float(lo), "cmax": float(hi),
                        "size": 4, "opacity": 0.8, "colorbar": {"title": {"text": "LID"}, "thickness": 12}},
             "hovertemplate": "%{text}  LID %{marker.color:.2f}<extra></extra>"}]
    var_name = "CTX_" + fid.replace("-", "_")
    page.script(f"const {var_name}={to_json(contexts(run, pts, rows))};")
    page.figure(fid, data, {"xaxis": {"title": {"text": "PC 1"}}, "yaxis": {"title": {"text": "PC 2"}},
                            "hovermode": "closest", "margin": {"l": 50, "r": 10, "t": 10, "b": 40}}, height=460,
                on_hover=f"ev=>showContext('{ctx_id}',{var_name}[ev.points[0].pointIndex])")
    page.raw(f'</div><div><h3>Token in context</h3><div class="ctx" id="{ctx_id}">'
             "Hover a point of the map.</div></div></div>")


def run_sections(page: Page, run: Run, prefix: str = "run", min_count: int = MIN_COUNT,
                 map_budget: int = MAP_MAX_POINTS) -> None:
    """Distribution, class/position/frequency/type tables with intervals, and the map of every layer."""
    drills = {lab: Drilldown(run, lab) for lab in run.layers}
    s = run.summary
    page.section(f"{run.name}", sid=f"{prefix}-summary")
    first = next(iter(drills.values()))
    o = overall(first.points)
    params = s.get("params", {})
    ls = (s.get("layers", {}) or {}).get(str(first.layer), {}) or {}
    stats = statistics_of(s, str(first.layer))
    several = stats != "one replicate"
    median = (ls["median"] if several and isinstance(ls.get("median"), (int, float)) else
              float(np.nanmedian(first.points["lid"])))
    c = s.get("counts") or {}
    kpis = [mean_kpi(s, str(first.layer), o["mean"]),
            (f"median ({stats})" if several else "median", f"{median:.2f}"),
            ("points N" + (" (replicate 0)" if several else ""), f"{len(first.points):,}"),
            ("sequences" + (" (replicate 0)" if several else ""), f"{first.points['seq_index'].nunique():,}"),
            ("neighbours L", str(params.get("n_neighbors", "?")))]
    if c.get("sequences_truncated") is not None:
        kpis.append(("texts cut at max length", f"{c['sequences_truncated']:,} "
                     f"({c.get('sequences_truncated_fraction') or 0:.0%})"))
    page.kpis(kpis)
    warnings_of(page, s)
    page.note(f"Model {s.get('model', {}).get('name', '?')}, data {s.get('data', {}).get('name', '?')}, "
              f"estimator {params.get('estimator', '?')}, token convention {first.convention}. "
              + ("The mean and median are means over the replicates (each its own sample of sequences and "
                 "tokens); the distribution, tables and map below show replicate 0's points. " if several else
                 "The distribution, tables and map below show this run's points. ")
              + "The intervals of the tables treat this run's sequences as the sampling unit (tokens of one text "
              "are not independent: cluster-robust standard error, Student's t with sequences - 1 degrees of "
              "freedom) and hold the point cloud fixed: they compare token groups within this run. A new sample "
              "moves the whole mean by far more (15x on MiniLM, docs/statistics.md).")
    for note in s.get("notes", []) or []:
        if not str(note).startswith("replicates not independent:"):   # stated above as a warning
            page.note(str(note))
    fixed_cloud_details(page, ("replicate 0's " if several else "") + "points: mean with its 95 % interval over "
                        "their sequences, cloud held fixed", _fmt_ci(o["mean"], o["lo"], o["hi"]),
                        "This interval treats one point cloud as given: it does not cover another sample of "
                        "texts or tokens, and was measured 15x too narrow for a run's mean (docs/statistics.md). "
                        "Use the replicate interval above for the run's uncertainty.")
    sample = " (replicate 0)" if several else ""
    page.h3("Distribution of the local dimension" + (": replicate 0's points, dashed line at their mean"
                                                     if several else ", dashed line at the mean"))
    _hist_fig(page, f"{prefix}-dist", {f"layer {k}{sample}": d.points["lid"].to_numpy() for k, d in drills.items()},
              {k: overall(d.points)["mean"] for k, d in drills.items()})
    profile_sections(page, s, prefix)
    page.section("Which tokens sit in high- or low-dimensional regions", sid=f"{prefix}-tokens",
                 note="Mean local dimension by token class, by position in the sequence and by how often the "
                      "token type occurs among the measured points" + (" of replicate 0" if several else "")
                      + "; every layer of the run in its own colour.")
    cls = {f"layer {k}": d.by_class() for k, d in drills.items()}
    pos = {f"layer {k}": d.by_position() for k, d in drills.items()}
    freq = {f"layer {k}": d.by_frequency() for k, d in drills.items()}
    page.raw('<div class="grid2"><div>')
    _dot_fig(page, f"{prefix}-class-fig", cls, "class", "token class")
    page.raw("</div><div>")
    _dot_fig(page, f"{prefix}-position-fig", pos, "position", "position in sequence", height=340)
    page.raw("</div></div>")
    for lab, d in drills.items():
        page.h3(f"Layer {lab}: by class")
        page.table(f"{prefix}-class-{lab}", d.by_class(), {"class": "class", **STAT_COLUMNS}, scroll=False)
        page.h3(f"Layer {lab}: by position and by frequency band")
        page.raw('<div class="grid2"><div>')
        page.table(f"{prefix}-position-{lab}", pos[f"layer {lab}"], {"position": "position", **STAT_COLUMNS},
                   scroll=False)
        page.raw("</div><div>")
        page.table(f"{prefix}-frequency-{lab}", freq[f"layer {lab}"],
                   {"frequency": "occurrences of the type", **STAT_COLUMNS}, scroll=False)
        page.raw("</div></div>")
        page.h3(f"Layer {lab}: token types with at least {min_count} points (click a column to sort)")
        page.table(f"{prefix}-type-{lab}", d.by_type(min_count),
                   {"token": "token", "class": "class", **STAT_COLUMNS})
    geometry_run_sections(page, s, prefix)
    page.section("Map of the point cloud", sid=f"{prefix}-map")
    budget = max(100, map_budget // max(1, len(drills)))
    for lab, d in drills.items():
        _map(page, run, d, f"{prefix}-map-{lab}".replace("(", "").replace(")", "").replace(",", "_"), budget)


def comparison_sections(page: Page, a: Run, b: Run, names: tuple[str, str], prefix: str = "cmp",
                        min_count: int = MIN_COUNT, top: int = 15, layer: str | None = None) -> Any:
    """Two runs: distributions, the overall change, the token types with the largest and smallest changes."""
    mv = compare_runs(a, b, layer, layer, min_count=min_count)
    o = mv.overall
    page.section(f"{names[0]} → {names[1]}" + (f", layer {layer}" if layer else ""),
                 sid=f"{prefix}-summary")
    da, db = Drilldown(a, layer), Drilldown(b, layer)
    c = run_change(a, b, layer)
    if c is not None and c.difference.known:
        change = (f"change (95 % interval, {c.method}, {c.difference.n} replicates)",
                  f"{c.difference.estimate:+.2f} [{c.difference.low:+.2f}, {c.difference.high:+.2f}] "
                  f"({c.relative.estimate:+.1%})")
        verdict = c.verdict
    else:
        d = c.difference.estimate if c is not None else o["diff"]
        change = ("change (one replicate: no interval)", f"{d:+.2f}")
        verdict = "no verdict (one replicate: --replicates 3 gives one)"
    page.kpis([mean_kpi(a.summary, str(da.layer), overall(da.points)["mean"]),
               mean_kpi(b.summary, str(db.layer), overall(db.points)["mean"]), change, ("verdict", verdict)])
    for run in (a, b):
        warnings_of(page, run.summary)
    fixed_cloud_details(page, "change of the paired points of replicate 0, 95 % interval over sequences (clouds "
                        "held fixed)", f"{o['diff']:+.2f} [{o['lo']:+.2f}, {o['hi']:+.2f}] ({o['rel']:+.1%})",
                        "This interval treats both point clouds as given: it ranks the token types below, not the "
                        "runs; it does not cover another sample of texts or tokens (measured 7x too narrow for a "
                        "change of the mean, docs/statistics.md).")
    page.note(f"Left to right: {names[0]}, {names[1]}. The verdict comes from the replicate interval of the "
              "change (each replicate a new sample of sequences and tokens, paired between the runs). The "
              "interval over sequences holds both point clouds fixed: it ranks the token types below, not the "
              "runs (measured 7x too narrow for a change of the mean, docs/statistics.md).")
    page.note(("Points are paired by (sequence, position, token): both runs measured the same token positions, "
               f"{mv.n_matched:,} of them; each change is a mean of paired differences.") if mv.paired else
              "The runs measured different positions: each token type's means are compared as independent samples "
              "(wider intervals).")
    _hist_fig(page, f"{prefix}-dist", {names[0]: da.points["lid"].to_numpy(), names[1]: db.points["lid"].to_numpy()},
              {names[0]: overall(da.points)["mean"], names[1]: overall(db.points)["mean"]})
    page.section("Token types with the largest changes", sid=f"{prefix}-movers",
                 note=f"Change of mean LID ({names[1]} − {names[0]}) per token type with at least {min_count} "
                      "points, largest |change| first, with the 95 % interval over sequences (both clouds held "
                      f"fixed). The overall change is {o['diff']:+.2f}: a type changing by about that much changed "
                      f"with everything else. {mv.note[0].upper()}{mv.note[1:]}.")
    largest = mv.largest(top)
    if len(largest):
        t = largest.iloc[::-1]
        page.figure(f"{prefix}-movers-fig", [{
            "type": "scatter", "mode": "markers", "x": t["diff"], "y": t["group"],
            "marker": {"color": np.where(t["diff"] < 0, COLORS[0], COLORS[4]), "size": 9},
            "error_x": {"type": "data", "symmetric": False, "array": t["hi"] - t["diff"],
                        "arrayminus": t["diff"] - t["lo"], "thickness": 1.5},
            "hovertemplate": "%{y}: %{x:+.2f}<extra></extra>"}],
            {"xaxis": {"title": {"text": "change of mean LID (95 % over sequences, clouds held fixed)"},
                       "zeroline": True},
             "yaxis": {"automargin": True, "type": "category"},
             "shapes": [{"type": "line", "x0": o["diff"], "x1": o["diff"], "yref": "paper", "y0": 0, "y1": 1,
                         "line": {"dash": "dot", "color": "#5b6475"}}]}, height=max(260, 26 * len(t) + 80))
    else:
        page.note(f"No token type has {min_count} points in both runs.")
    cols = {"group": "token", "count": "points", "mean_a": f"mean {names[0]}", "mean_b": f"mean {names[1]}",
            "diff": "change", "lo": "95 % low (cloud fixed)", "hi": "95 % high (cloud fixed)", "rel": "relative"}
    page.table(f"{prefix}-movers", mv.table, cols)
    page.h3("Smallest changes")
    page.table(f"{prefix}-steady", mv.smallest(top), cols, scroll=False)
    page.h3("By token class")
    page.table(f"{prefix}-class", compare_runs(a, b, layer, layer, by="class", min_count=1).table,
               {**cols, "group": "class"},
               scroll=False)
    return mv


# ---------------------------------------------------------------------------------------------
def sweep_sections(page: Page, store_path: Path) -> None:
    """LID against step (band: the stored 95 % replicate interval; none with one replicate), the
    trainer's task metrics below it, and the plateau and drop signals marked."""
    from lidscope.training.signals import drop, plateau
    from lidscope.training.store import ResultsStore

    store = ResultsStore(store_path)
    rows = store.read(require=True)
    try:
        metrics = store.read_metrics()
    except Exception:  # noqa: BLE001 - a store without metrics still gets its LID curve
        metrics = None
    page.section(f"Sweep: {store_path}", sid="sweep",
                 note="Mean LID per checkpoint with its 95 % interval over replicates (band; a sweep with one "
                      "replicate has none: lidscope sweep --replicates 3); dotted: plateau confirmed; triangles: "
                      "drops (lidscope.training.signals, their default thresholds).")
    fig_i = 0
    ends: list[tuple[Any, Any, str]] = []
    for (run_name, data_name, layer), g in rows.groupby(["run", "data_name", "layer"], sort=False):
        g = g.sort_values("step")
        steps = g["step"].to_numpy()
        means = g["mean"].to_numpy(dtype=float)
        lo = g["mean_low"].to_numpy(dtype=float) if "mean_low" in g else np.full(len(g), np.nan)
        hi = g["mean_high"].to_numpy(dtype=float) if "mean_high" in g else np.full(len(g), np.nan)
        data = [{"type": "scatter", "mode": "lines+markers", "x": steps, "y": means, "name": "mean LID",
                 "line": {"color": COLORS[0]}}]
        if np.isfinite(lo).all() and np.isfinite(hi).all():
            data.insert(0, {"type": "scatter", "x": np.r_[steps, steps[::-1]], "y": np.r_[hi, lo[::-1]],
                            "fill": "toself", "fillcolor": "rgba(31,95,180,0.18)", "line": {"width": 0},
                            "name": "95 % interval (replicates)", "hoverinfo": "skip"})
        else:
            data[0]["name"] = "mean LID (one replicate: no interval)"
        shapes = []
        if len(means) >= 2 and np.isfinite(means).all():
            p = plateau(means, steps)
            if p:
                shapes.append({"type": "line", "x0": p.step, "x1": p.step, "yref": "paper", "y0": 0, "y1": 1,
                               "line": {"dash": "dot", "color": "#2e9b5c"}})
                data.append({"type": "scatter", "mode": "markers", "x": [p.step], "y": [means[p.index]],
                             "name": "plateau", "marker": {"symbol": "line-ns-open", "size": 16,
                                                           "color": "#2e9b5c"}})
            dr = drop(means, steps)
            if dr:
                data.append({"type": "scatter", "mode": "markers", "x": [e.step for e in dr],
                             "y": [e.to_value for e in dr], "name": "drop",
                             "marker": {"symbol": "triangle-down", "size": 12, "color": COLORS[4]}})
        layout: dict[str, Any] = {"xaxis": {"title": {"text": "step"}, "anchor": "y2"},
                                  "yaxis": {"title": {"text": "mean LID"}, "domain": [0.42, 1]},
                                  "shapes": shapes, "legend": {"orientation": "h", "y": 1.1}}
        if metrics is not None and len(metrics):
            m = metrics[metrics["run"] == run_name] if "run" in metrics else metrics
            layout["yaxis2"] = {"title": {"text": "task metrics"}, "domain": [0, 0.34]}
            layout["xaxis"]["matches"] = "x"
            for j, (name, mg) in enumerate(m.groupby("name")):
                if name in ("epoch", "learning_rate", "grad_norm", "total_flos") or name.startswith("lid"):
                    continue
                data.append({"type": "scatter", "mode": "lines", "x": mg["step"], "y": mg["value"], "name": name,
                             "yaxis": "y2", "line": {"color": COLORS[(j + 1) % len(COLORS)]}})
        page.h3(f"{run_name}: {data_name}, layer {layer}")
        page.figure(f"sweep-{fig_i}", data, layout, height=460)
        geometry_sweep_figure(page, f"sweep-geometry-{fig_i}", g)
        fig_i += 1
        ends.append((g.iloc[0], g.iloc[-1], str(layer)))
    for k, (first, last, layer) in enumerate(ends):
        a, b = (_store_run(store_path, r) for r in (first, last))
        if a is None or b is None or first["step"] == last["step"]:
            continue
        try:
            comparison_sections(page, a, b, (f"step {first['step']}", f"step {last['step']}"), prefix=f"sweepcmp{k}",
                                layer=layer)
        except LIDInputError as e:   # e.g. a layer missing from one of the folders
            page.note(f"No token comparison for {first['run']}, {first['data_name']}: {e}")


def _store_run(store_path: Path, row: Any) -> Run | None:
    """The measurement folder of a store row (its per-token file's folder), if it is complete."""
    f = Path(str(row.get("tokens_file") or ""))
    if not str(row.get("tokens_file") or ""):
        return None
    f = f if f.is_absolute() else store_path / f
    return load_run(f.parent) if is_run_folder(f.parent) else None


def grokking_sections(page: Page, folder: Path) -> None:
    """Mean LID (train and validation points) and accuracies against step, from ``metrics.parquet``."""
    import pyarrow.parquet as pq

    m = pq.read_table(folder / "metrics.parquet").to_pandas().sort_values("step")
    page.section(f"Grokking: {folder.name}", sid="grokking",
                 note="Mean LID of the model's representations (left axis) and train/validation accuracy (right "
                      "axis) against the optimisation step (log scale). The run records no per-sequence values, so "
                      "no interval is drawn for these means.")
    lid_cols = [c for c in m.columns if c.startswith("lid_") and c.endswith("_mean")]
    acc_cols = [c for c in m.columns if c.endswith("_acc")]
    data = [{"type": "scatter", "mode": "lines", "x": m["step"], "y": m[c], "name": c[4:-5] + " LID",
             "line": {"color": COLORS[j % len(COLORS)], "width": 2}} for j, c in enumerate(lid_cols)]
    data += [{"type": "scatter", "mode": "lines", "x": m["step"], "y": m[c], "name": c.replace("_", " "),
              "yaxis": "y2", "line": {"color": COLORS[(j + 2) % len(COLORS)], "dash": "dot"}}
             for j, c in enumerate(acc_cols)]
    page.figure("grokking-fig", data, {"xaxis": {"title": {"text": "step"}, "type": "log"},
                                       "yaxis": {"title": {"text": "mean LID"}},
                                       "yaxis2": {"title": {"text": "accuracy"}, "overlaying": "y", "side": "right",
                                                  "range": [0, 1.02], "showgrid": False},
                                       "legend": {"orientation": "h", "y": 1.12}}, height=420)
    grokking_geometry_figure(page, "grokking-geometry", m)


# ---------------------------------------------------------------------------------------------
def _label(run: Run, taken: set[str]) -> str:
    base = run.summary.get("model", {}).get("name") or run.path.name
    label, k = str(base), 2
    while label in taken:
        label = f"{base} ({k})"
        k += 1
    taken.add(label)
    return label


def build_report(inputs: Sequence[str | os.PathLike[str] | Run], title: str | None = None,
                 min_count: int = MIN_COUNT, map_budget: int = MAP_MAX_POINTS) -> Page:
    """The page for the given inputs (see the module docstring)."""
    runs: list[Run] = []
    stores: list[Path] = []
    groks: list[Path] = []
    detects: list[Path] = []
    for x in inputs:
        if isinstance(x, Run):
            runs.append(x)
            continue
        p = Path(x)
        if (p / "store.json").is_file():
            stores.append(p)
        elif is_run_folder(p):
            runs.append(load_run(p))
            detects.extend(find_detect_folders(p))   # e.g. RUN/detect written by `lidscope detect --out RUN/detect`
        elif (p / "compare.json").is_file():
            runs.extend(load_run(f.parent) for f in sorted(p.rglob("summary.json")) if is_run_folder(f.parent))
        elif (p / "metrics.parquet").is_file() and (p / "config.json").is_file():
            groks.append(p)
        elif p.is_dir() and find_detect_folders(p):
            detects.extend(find_detect_folders(p))
        else:
            raise LIDInputError(f"{p}: not a measurement folder, compare folder, results store, grokking run or "
                                "detect folder.")
    if not (runs or stores or groks or detects):
        raise LIDInputError("nothing to report: give at least one result folder.")
    sub = ", ".join([r.name for r in runs[:3]] + [str(s) for s in stores + groks + detects[:3]])
    page = Page(title or ("lidscope report: " + (runs[0].name if len(runs) == 1 else
                                                 "training-data detection" if detects and not runs else
                                                 f"{len(runs) + len(stores) + len(detects)} results")), sub)
    taken: set[str] = set()
    labels = [_label(r, taken) for r in runs]
    by_data: dict[str, list[int]] = {}
    for i, r in enumerate(runs):
        by_data.setdefault(str(r.summary.get("data", {}).get("fingerprint") or r.summary.get("data", {}).get("name")),
                           []).append(i)
    k = 0
    for idx in by_data.values():
        for j in idx[1:]:
            comparison_sections(page, runs[idx[0]], runs[j], (labels[idx[0]], labels[j]), prefix=f"cmp{k}",
                                min_count=min_count)
            k += 1
    for i, r in enumerate(runs):
        run_sections(page, r, prefix=f"run{i}", min_count=min_count,
                     map_budget=map_budget if len(runs) == 1 else max(1000, map_budget // len(runs)))
    for s in stores:
        sweep_sections(page, s)
    for g in groks:
        grokking_sections(page, g)
    for i, f in enumerate(detects):
        detect_sections(page, f, prefix=f"detect{i}")
    return page


def write_report(inputs: Sequence[str | os.PathLike[str] | Run], out: str | os.PathLike[str],
                 title: str | None = None, min_count: int = MIN_COUNT) -> Path:
    """Write the self-contained HTML report (atomically) and return its path."""
    html = build_report(inputs, title, min_count).render()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, out)
    return out
