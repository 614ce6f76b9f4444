"""The report's section for a `lidscope detect` run folder: verdicts, LID shifts, every method's
text-level ROC (drawn from the per-text scores in ``texts.parquet``) and the dataset-level curve."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lidscope.jsonio import read_result_json
from lidscope.report.page import Page

COLORS = ("#1f5fb4", "#d9722b", "#2e9b5c", "#8e44ad", "#c0392b", "#7f8c8d", "#b7950b")


def is_detect_folder(p: Path) -> bool:
    return (p / "detect.json").is_file() and (p / "texts.parquet").is_file()


def find_detect_folders(p: Path) -> list[Path]:
    """Detect run folders at or below ``p`` (e.g. a benchmark's output), in path order."""
    return [p] if is_detect_folder(p) else sorted(f.parent for f in p.rglob("detect.json") if is_detect_folder(f.parent))


def _ci(iv: dict[str, Any] | None, key: str = "estimate", scale: float = 1.0, sign: bool = False,
        f: str = ".2f") -> str:
    if not iv or iv.get(key) is None:
        return "-"
    f = "+" + f if sign else f
    lo, hi = iv.get("low"), iv.get("high")
    s = format(scale * iv[key], f)
    if lo is None or hi is None or not np.isfinite([lo, hi]).all():
        return s
    return f"{s} [{format(scale * lo, f)}, {format(scale * hi, f)}]"


def _point(iv: dict[str, Any] | None) -> dict[str, Any] | None:
    """The estimate alone: LID means and shifts from one cloud carry no interval (folders written before
    that change hold the bootstrap's bounds here; they are not shown either)."""
    return None if not iv else {"estimate": iv.get("estimate")}


def verdict_table(d: dict[str, Any]) -> pd.DataFrame:
    """One row per candidate set: texts, verdict, p-value, trust, warnings, LID mean and shifts."""
    rows = []
    for name, r in d["sets"].items():
        L = r.get("lid", {})
        rows.append({"set": name, "texts": int(r["n_texts"]), "verdict": r["verdict"],
                     "p": float(r["p_value"]) if r.get("p_value") is not None else float("nan"),
                     "decided by": r.get("decided_by", "-"),
                     "trust": str(r["trust"]).split(":")[0],   # its reasons are in the warnings column
                     "mean LID": _ci(_point(L.get("mean"))),
                     "shift vs base %": _ci(_point((L.get("vs_base") or {}).get("relative")), scale=100, sign=True),
                     "minus reference": _ci(L.get("vs_reference"), sign=True),
                     "p (minus reference)": float((L.get("vs_reference") or {}).get("p_value", float("nan"))),
                     "warnings": " | ".join(map(str, r.get("warnings", []))) or "-"})
    return pd.DataFrame(rows)


def method_table(d: dict[str, Any]) -> pd.DataFrame:
    """One row per (set, method): AUC with interval, TPR at the set FPR, score difference, p, P("member") by n."""
    sizes = [int(n) for n in d["settings"]["set_sizes"]]
    rows = []
    for name, r in d["sets"].items():
        for meth, m in r["methods"].items():
            a, diff = m["auc"], m["difference"]
            row = {"set": name, "method": meth, "AUC": float(a["auc"]), "AUC low": float(a["low"]),
                   "AUC high": float(a["high"]), "TPR": float(a.get(f"tpr_at_{d['settings']['fpr']}_fpr", np.nan)),
                   "score minus reference": _ci(diff, sign=True, f=".3g"), "p": float(diff["p_value"])}
            curve = {int(c["n"]): c.get("p_member_verdict") for c in m["curve"]}
            for n in sizes:
                v = curve.get(n)
                row[f"n={n}"] = float("nan") if v is None else float(v)
            rows.append(row)
    return pd.DataFrame(rows)


def _roc(page: Page, fid: str, texts: pd.DataFrame, methods: list[str], name: str) -> None:
    from lidscope.detect import inference

    sets = texts["set"].to_numpy()
    data = []
    for i, meth in enumerate(methods):
        sc = texts[f"score_{meth}"].to_numpy(dtype=float)
        pos, neg = sc[(sets == name) & np.isfinite(sc)], sc[(sets == "reference") & np.isfinite(sc)]
        if not (pos.size and neg.size):
            continue
        fpr, tpr = inference.roc_curve(pos, neg)
        data.append({"type": "scatter", "mode": "lines", "x": fpr, "y": tpr,
                     "name": f"{meth} (AUC {inference.roc_auc(pos, neg):.2f})",
                     "line": {"color": COLORS[i % len(COLORS)], "width": 3 if meth == "lid" else 1.6},
                     "hovertemplate": "FPR %{x:.2f}, TPR %{y:.2f}<extra>" + meth + "</extra>"})
    data.append({"type": "scatter", "mode": "lines", "x": [0, 1], "y": [0, 1], "name": "chance",
                 "line": {"color": "#9aa1ad", "dash": "dot", "width": 1}, "hoverinfo": "skip"})
    page.figure(fid, data, {"title": {"text": f"{name} vs reference", "font": {"size": 13}},
                            "xaxis": {"title": {"text": "false-positive rate (reference texts)"}, "range": [0, 1]},
                            "yaxis": {"title": {"text": "true-positive rate"}, "range": [0, 1.02]},
                            "legend": {"x": 0.98, "xanchor": "right", "y": 0.02, "yanchor": "bottom",
                                       "font": {"size": 11}}}, height=380)


def _curve(page: Page, fid: str, table: pd.DataFrame, name: str, sizes: list[int]) -> None:
    t = table[table["set"] == name]
    data = []
    for i, (_, r) in enumerate(t.iterrows()):
        ns = [n for n in sizes if np.isfinite(r[f"n={n}"])]
        data.append({"type": "scatter", "mode": "lines+markers", "x": ns, "y": [r[f"n={n}"] for n in ns],
                     "name": r["method"], "line": {"color": COLORS[i % len(COLORS)],
                                                   "width": 3 if r["method"] == "lid" else 1.6},
                     "hovertemplate": "n %{x}: %{y:.2f}<extra>" + r["method"] + "</extra>"})
    page.figure(fid, data, {"title": {"text": f"{name}: P(\"member\" verdict) from n texts", "font": {"size": 13}},
                            "xaxis": {"title": {"text": "texts per set (n)"}, "type": "log", "tickvals": sizes},
                            "yaxis": {"title": {"text": "P(\"member\" verdict)"}, "range": [0, 1.02]}}, height=380)


def detect_sections(page: Page, folder: Path, prefix: str = "detect0") -> None:
    """Verdict and LID table, the per-method table, and per candidate set the ROC and the n-curve."""
    import pyarrow.parquet as pq

    d = read_result_json(folder / "detect.json")
    texts = pq.read_table(folder / "texts.parquet").to_pandas()
    st = d["settings"]
    # folders written before "auto" name the method in settings only
    dec = d.get("decided_by") or {"method": st["decide_by"], "reason": "chosen in the settings"}
    base = (d.get("base") or {}).get("name")
    page.section(f"Training-data detection: {d['model']['name']} ({folder})", sid=f"{prefix}-summary",
                 note=f"Candidate sets against the reference ({int((texts['set'] == 'reference').sum())} "
                      f"texts the model never saw){f', paired with the base model {base}' if base else ''}. "
                      f"Verdict by {dec['method']} ({dec['reason']}): one-sided permutation test at alpha "
                      f"{st['alpha']}; every method is in the table below; its "
                      "false-positive rate is at most alpha only if the reference is exchangeable with texts the "
                      "model never saw. Every score is oriented so that higher = more member-like.")
    for w in d.get("warnings", []):
        page.note(f"Warning: {w}")
    trust = {"ok": "flat", "questionable": "up"}
    page.raw('<div class="wrap">')   # long verdicts and warnings wrap inside the page width
    page.table(f"{prefix}-verdicts", verdict_table(d), scroll=False,
               classes={"trust": lambda v: trust.get(v, ""),
                        "verdict": lambda v: "down" if str(v).startswith("member-like") else ""})
    page.raw("</div>")
    page.note("LID mean and shift vs base: one cloud per model, so no interval and no verdict (the bootstrap over "
              "texts holds the cloud fixed and was measured 15x too narrow for a mean and 7x for a shift, "
              "docs/statistics.md). The calibrated LID test is the lid row below: its permutation p-value against "
              "the reference.")
    page.h3(f"Every method: text-level ROC AUC [95 % interval], TPR at {st['fpr']:.0%} FPR, and P(\"member\" "
            "verdict) from n candidate and n reference texts")
    table = method_table(d)
    page.table(f"{prefix}-methods", table, scroll=False)
    page.note("Empty n columns: the set or the reference has fewer than n texts (never resampled with replacement).")
    sizes = [int(n) for n in st["set_sizes"]]
    for i, name in enumerate(d["sets"]):
        page.h3(f"{name}: ROC against the reference, and the dataset-level curve")
        page.raw('<div class="grid2"><div>')
        _roc(page, f"{prefix}-roc-{i}", texts, list(d["methods"]), name)
        page.raw("</div><div>")
        _curve(page, f"{prefix}-curve-{i}", table, name, sizes)
        page.raw("</div></div>")
