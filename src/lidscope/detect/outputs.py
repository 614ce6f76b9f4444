"""The detect run folder: ``detect.json`` (everything), ``texts.parquet`` (per-text scores),
``curves.parquet`` (P("member" verdict) vs n per set and method) and ``roc.png`` (ROC per set)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lidscope.detect import inference
from lidscope.outputs import write_json, write_parquet


def curves_table(sets: dict[str, dict[str, Any]]) -> dict[str, list[Any]]:
    cols: dict[str, list[Any]] = {"set": [], "method": [], "n": [], "p_member_verdict": []}
    for name, r in sets.items():
        for meth, m in r["methods"].items():
            for c in m["curve"]:
                cols["set"].append(name)
                cols["method"].append(meth)
                cols["n"].append(c["n"])
                cols["p_member_verdict"].append(np.nan if c["p_member_verdict"] is None else c["p_member_verdict"])
    return cols


def plot_roc(texts: dict[str, np.ndarray], methods: list[str], names: list[str], path: Path, title: str = "") -> Path:
    """One panel per candidate set: ROC of every method, candidate texts vs reference texts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 4.2), squeeze=False)
    ref = texts["set"] == "reference"
    for ax, name in zip(axes[0], names):
        mk = texts["set"] == name
        for meth in methods:
            sc = np.asarray(texts[f"score_{meth}"], dtype=float)
            fpr, tpr = inference.roc_curve(sc[mk], sc[ref])
            a = inference.roc_auc(sc[mk][np.isfinite(sc[mk])], sc[ref][np.isfinite(sc[ref])])
            ax.plot(fpr, tpr, lw=2.2 if meth == "lid" else 1.2, label=f"{meth} (AUC {a:.2f})")
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
        ax.set_title(name)
        ax.set_xlabel("false-positive rate (reference texts)")
        ax.set_ylabel("true-positive rate")
        ax.legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_detect(res: Any, out: str | Path) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_parquet(out / "texts.parquet", {k: np.asarray(v) for k, v in res.texts.items()},
                  metadata={"score_orientation": "higher = more member-like"})
    write_parquet(out / "curves.parquet", curves_table(res.sets))
    names = list(res.sets)
    figure = plot_roc(res.texts, res.methods, names, out / "roc.png",
                      title=f"{res.info['model']['name']}: candidate vs reference texts")
    write_json(out / "detect.json", {**res.to_dict(), "files": {"texts": "texts.parquet", "curves": "curves.parquet",
                                                                 "roc": figure.name}})
    return out
