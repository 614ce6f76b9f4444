"""Training-data detection benchmark: fine-tune the bundled SmolLM2 on a known member subset, then ask
`lidscope.detect` (LID and the score-based baselines) which texts / which sets were trained on.

    python benchmarks/bench_detect.py --quick              # tiny sizes, same code path (7 min measured, load 2-4)
    python benchmarks/bench_detect.py                      # full size (about 2 h at measured rates; estimate)
    python benchmarks/bench_detect.py --only chitchat-full # one training run (see RUNS) and its detection

Each run: members (trained on) and same-distribution non-members drawn from one shuffled pool of the
corpus's train split (so membership is the only difference); a reference set from the same pool, never
trained on; the other corpora as out-of-distribution controls. Texts are truncated to ``--max-length``
tokens for training and for detection alike. Results: OUT/<run>/<checkpoint>/detect/ (the detect run
folders) and OUT/summary.json (the table), OUT/roc.png (ROC curves of the main run).
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import resource
import signal
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@dataclass(frozen=True)
class Sizes:
    n_members: int = 300
    n_reference: int = 300
    n_ood: int = 150
    n_eval_nonmembers: int | None = None  # non-members / OOD texts scored per corpus (None: all drawn)
    n_eval_ood: int | None = None
    max_length: int = 64
    batch_size: int = 16
    n_points: int | None = 20_000      # LID cloud size (None: every token of the texts)
    n_neighbors: int = 128
    set_sizes: tuple[int, ...] = (10, 30, 100, 300)
    n_resamples: int = 1000


#: The design that ran (docs/detection.md: stage times measured, about 70-80 min on the 2-core CPU);
#: ``--members 300 --reference 300 --ood 150 --n-points 20000`` gives the larger one (about 2 h, not run).
FULL = Sizes(n_members=160, n_reference=160, n_ood=80, n_eval_ood=40, n_points=12_000)
QUICK = Sizes(n_members=48, n_reference=48, n_ood=24, max_length=32, batch_size=8, n_neighbors=32, n_points=None,
              set_sizes=(5, 10, 20, 40), n_resamples=200)


@dataclass(frozen=True)
class TrainRun:
    name: str
    corpus: str
    epochs: int
    lora: bool = False
    lr: float = 5e-5


#: in priority order (the script runs them in this order; --only picks some)
RUNS = (
    TrainRun("chitchat-full", "chitchat", epochs=3, lr=1e-4),    # checkpoints after epoch 1, 2 and 3
    TrainRun("chitchat-lora", "chitchat", epochs=3, lora=True, lr=5e-4),
    TrainRun("wikipedia-full", "wikipedia", epochs=3, lr=1e-4),
)
CORPORA = ("chitchat", "wikipedia", "bbc")


# ---------------------------------------------------------------------------------------------- data


def corpus_texts(corpus: str) -> list[str]:
    """Texts of a bundled corpus's train split (deterministic lidscope split), in source order.

    chit-chat: one conversation per text (its turns from the third on, one line per turn: the
    openings are near-identical greetings); Wikipedia: one summary; BBC: one article.
    """
    from lidscope.extract.texts import _chitchat, read_items

    if corpus == "chitchat":
        turns: dict[str, list[tuple[int, str]]] = {}
        for key, text in _chitchat("train"):
            conv, _, no = key.rpartition("/")
            turns.setdefault(conv, []).append((int(no), text))
        out = ["\n".join(t for _, t in sorted(v)[2:] if t) for v in turns.values()]
    else:
        items, _ = read_items(f"{corpus}:train")
        out = [t for _, t in items]
    return [t for t in out if len(t.split()) >= 20]


def pools(sizes: Sizes, seed: int = 0) -> dict[str, dict[str, list[str]]]:
    """Per corpus: ``members`` / ``nonmembers`` / ``reference`` (disjoint, one shuffled pool), ``ood``."""
    out: dict[str, dict[str, list[str]]] = {}
    for c in CORPORA:
        texts = corpus_texts(c)
        order = np.random.default_rng(seed).permutation(len(texts))
        k, r = sizes.n_members, sizes.n_reference
        picked = [texts[i] for i in order[: 2 * k + r]]
        out[c] = {"members": picked[:k], "nonmembers": picked[k:2 * k], "reference": picked[2 * k:2 * k + r],
                  "ood": [texts[i] for i in order[2 * k + r: 2 * k + r + sizes.n_ood]]}
    return out


# ------------------------------------------------------------------------------------------ training


def train(run: TrainRun, members: list[str], model: str, sizes: Sizes, out: Path, threads: int) -> dict[str, Any]:
    """Fine-tune with `lidscope.experiments.finetune.train`; a checkpoint after every epoch.

    LoRA checkpoints are merged into the base and saved as full models (what a user would audit).
    """
    import torch

    from lidscope.experiments.finetune import FinetuneConfig
    from lidscope.experiments.finetune import train as ft_train
    from lidscope.outputs import write_json

    torch.set_num_threads(threads)
    done = out / "train.json"
    data = out / "members.jsonl"
    lines = "".join(json.dumps({"text": t}) + "\n" for t in members)
    if done.is_file():   # a finished run is reused only for the same members and recipe
        prev = json.loads(done.read_text())
        if prev["run"] != run.__dict__ or not data.is_file() or data.read_text() != lines:
            raise SystemExit(f"{out} holds a run trained on other members or with another recipe ({prev['n_members']} "
                             f"members, {prev['run']}); this call asks for {len(members)} members, {run.__dict__}. "
                             "Pass another --out (or the sizes it was trained with).")
        return prev
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text(lines)
    per_epoch = -(-len(members) // sizes.batch_size)
    cfg = FinetuneConfig(model=model, lora=run.lora, train_data=str(data), n_train=None,
                         steps=per_epoch * run.epochs, batch_size=sizes.batch_size, lr=run.lr,
                         save_every=per_epoch, max_length=sizes.max_length, seed=0, threads=threads,
                         group_by_length=False, out=str(out))
    t = time.perf_counter()
    info = ft_train(cfg)
    ckpts = {}
    for e in range(1, run.epochs + 1):
        ck = out / "train" / f"checkpoint-{per_epoch * e}"
        if run.lora:
            ck = _merge_lora(Path(info["base_folder"]), ck)
        ckpts[f"epoch{e}"] = str(ck)
    res = {"run": run.__dict__, "n_members": len(members), "steps": per_epoch * run.epochs,
           "steps_per_epoch": per_epoch, "train_seconds": time.perf_counter() - t,
           "base_folder": info["base_folder"], "checkpoints": ckpts}
    write_json(done, res)
    return res


def _merge_lora(base: Path, adapter: Path) -> Path:
    import peft
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = adapter.with_name(adapter.name + "-merged")
    if (target / "config.json").is_file():
        return target
    model = AutoModelForCausalLM.from_pretrained(str(base), local_files_only=True)
    model = peft.PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    model.save_pretrained(target, safe_serialization=True)
    AutoTokenizer.from_pretrained(str(base), local_files_only=True).save_pretrained(target)
    return target


# ------------------------------------------------------------------------------------------ detection


def evaluate(run: TrainRun, label: str, ckpt: str, base: str, data: dict[str, dict[str, list[str]]], sizes: Sizes,
             out: Path, cache: dict[Any, Any]) -> list[dict[str, Any]]:
    """`detect` on one checkpoint: members, same-distribution non-members and the other corpora vs the reference."""
    from lidscope.detect import DetectSettings, detect

    pool = data[run.corpus]
    cands = {"members": pool["members"], "nonmembers": pool["nonmembers"][:sizes.n_eval_nonmembers],
             **{f"ood-{c}": data[c]["ood"][:sizes.n_eval_ood] for c in CORPORA if c != run.corpus}}
    settings = DetectSettings(max_length=sizes.max_length, n_points=sizes.n_points, n_neighbors=sizes.n_neighbors,
                              set_sizes=sizes.set_sizes, n_resamples=sizes.n_resamples, n_texts=None)
    started: set[str] = set()

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in started or done == total:   # a stage's start and end, with the peak memory so far
            started.add(stage)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
            print(f"  {time.strftime('%H:%M:%S')} {label}: {stage} {'done' if done == total else 'started'} "
                  f"({done}/{total}; peak RSS {peak:.1f} GB)", flush=True)

    res = detect(ckpt, cands, pool["reference"], base=base, settings=settings, out=out, cache=cache,
                 progress=progress)
    rows = []
    for meth in res.methods:
        m, n = res.sets["members"]["methods"][meth], res.sets["nonmembers"]["methods"][meth]
        acc = {}
        for cm, cn in zip(m["curve"], n["curve"]):
            if cm["p_member_verdict"] is not None and cn["p_member_verdict"] is not None:
                acc[cm["n"]] = 0.5 * (cm["p_member_verdict"] + 1 - cn["p_member_verdict"])
        rows.append({
            "run": run.name, "checkpoint": label, "method": meth,
            "auc": m["auc"]["auc"], "auc_low": m["auc"]["low"], "auc_high": m["auc"]["high"],
            "tpr_at_5pct_fpr": m["auc"]["tpr_at_0.05_fpr"],
            "nonmember_auc": n["auc"]["auc"], "nonmember_auc_low": n["auc"]["low"],
            "nonmember_auc_high": n["auc"]["high"],
            "ood_auc": {k: v["methods"][meth]["auc"]["auc"] for k, v in res.sets.items() if k.startswith("ood-")},
            "p_member_verdict_members": {c["n"]: c["p_member_verdict"] for c in m["curve"]},
            "p_member_verdict_nonmembers": {c["n"]: c["p_member_verdict"] for c in n["curve"]},
            "decision_accuracy": acc,
            "verdict_members": res.sets["members"]["verdict"] if meth == "lid" else None,
        })
    # LID without a base model (what a user without the base has): minus the model's own per-text LID
    from lidscope.detect import inference

    sets = np.asarray(res.texts["set"])
    raw = -np.asarray(res.texts["lid"], dtype=float)
    for which in ("members", "nonmembers"):
        a = inference.auc(raw[sets == which], raw[sets == "reference"], seed=1)
        rows[0][f"lid_nobase_auc_{which}"] = [a["auc"], a["low"], a["high"], a["tpr_at_0.05_fpr"]]
    lid_rows = {k: v["lid"] for k, v in res.sets.items()}
    rows[0]["lid_shift_vs_base"] = {k: v.get("vs_base", {}).get("relative") for k, v in lid_rows.items()}
    rows[0]["lid_minus_reference"] = {k: v["vs_reference"] for k, v in lid_rows.items()}
    rows[0]["timings"] = res.info["timings"]
    rows[0]["warnings"] = res.warnings
    return rows


def plot_accuracy(rows: list[dict[str, Any]], path: Path) -> Path:
    """Dataset-level decision accuracy vs n, one panel per (run, checkpoint), one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(dict.fromkeys((r["run"], r["checkpoint"]) for r in rows))
    fig, axes = plt.subplots(1, len(keys), figsize=(4.6 * len(keys), 4.0), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for r in rows:
            if (r["run"], r["checkpoint"]) != key or not r["decision_accuracy"]:
                continue
            ns = sorted(int(n) for n in r["decision_accuracy"])
            ax.plot(ns, [r["decision_accuracy"][n] for n in ns], marker="o", lw=2.2 if r["method"] == "lid" else 1.2,
                    label=r["method"])
        ax.axhline(0.5, color="grey", lw=0.8, ls=":")
        ax.set_xscale("log")
        ns_all = sorted({int(n) for r in rows for n in r["decision_accuracy"]})
        ax.set_xticks(ns_all, [str(n) for n in ns_all])
        ax.minorticks_off()
        ax.set_ylim(0.0, 1.02)
        ax.set_xlabel("texts per set (n)")
        ax.set_ylabel("P(correct decision)")
        ax.set_title(f"{key[0]}, {key[1]}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def markdown(rows: list[dict[str, Any]], sizes: Sizes) -> str:
    ns = [n for n in sizes.set_sizes]
    head = ("| run | ckpt | method | AUC members vs reference [95% CI] | TPR at 5% FPR | AUC non-members (control) | "
            + " | ".join(f"acc n={n}" for n in ns) + " |")
    lines = [head, "|" + "---|" * (6 + len(ns))]
    for r in rows:
        acc = [f"{r['decision_accuracy'][n]:.2f}" if n in r["decision_accuracy"] else "-" for n in ns]
        lines.append(f"| {r['run']} | {r['checkpoint']} | {r['method']} | {r['auc']:.3f} [{r['auc_low']:.3f}, "
                     f"{r['auc_high']:.3f}] | {r['tpr_at_5pct_fpr']:.2f} | {r['nonmember_auc']:.3f} | "
                     + " | ".join(acc) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- main


def eval_order(runs: list[TrainRun], trained: dict[str, Any], wanted: list[str] | None) -> list[tuple[TrainRun, str]]:
    """(run, checkpoint) pairs to evaluate: every run in order, strongest checkpoint first; with
    ``wanted`` (``epochK`` for every run, ``RUN:epochK`` for one) only those, in the order given."""
    pairs = [(r, lab) for r in runs for lab in sorted(trained[r.name]["checkpoints"], reverse=True)]
    if not wanted:
        return pairs

    def rank(p: tuple[TrainRun, str]) -> int:
        return min(i for i, w in enumerate(wanted) if w in (p[1], f"{p[0].name}:{p[1]}"))

    return sorted((p for p in pairs if p[1] in wanted or f"{p[0].name}:{p[1]}" in wanted), key=rank)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes (minutes), same code path")
    ap.add_argument("--model", default="smollm2", help="base model (bundled name or local folder)")
    ap.add_argument("--only", action="append", help="run only these training runs (names in RUNS)")
    ap.add_argument("--train-only", action="store_true", help="train, skip detection")
    ap.add_argument("--members", type=int, help="members (and same-distribution non-members) per run")
    ap.add_argument("--reference", type=int, help="reference texts per corpus")
    ap.add_argument("--ood", type=int, help="out-of-distribution control texts per other corpus")
    ap.add_argument("--n-points", type=int, help="most LID points per cloud (default: every token)")
    ap.add_argument("--eval-nonmembers", type=int, help="non-members scored (default: as many as members)")
    ap.add_argument("--eval-ood", type=int, help="OOD control texts scored per other corpus (default: --ood)")
    ap.add_argument("--checkpoints", action="append",
                    help="evaluate only these checkpoints: epoch1, epoch3, ... (every run) or RUN:epochK (one run)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", help="output folder (default runs/bench-detect, or runs/bench-detect-quick with --quick)")
    a = ap.parse_args(argv)
    if hasattr(signal, "SIGUSR1"):   # `kill -USR1 PID` prints every thread's stack: where a long run spends its time
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    sizes = QUICK if a.quick else FULL
    given = {"n_members": a.members, "n_reference": a.reference, "n_ood": a.ood,
             "n_eval_nonmembers": a.eval_nonmembers, "n_eval_ood": a.eval_ood, "n_points": a.n_points}
    sizes = replace(sizes, **{k: v for k, v in given.items() if v})
    # a separate default for --quick: a finished run's train.json is reused, so the two sizes must not share a folder
    out = Path(a.out or ("runs/bench-detect-quick" if a.quick else "runs/bench-detect"))
    runs = [r for r in RUNS if not a.only or r.name in a.only]
    if a.quick:
        runs = [replace(r, epochs=min(r.epochs, 2)) for r in runs]
    data = pools(sizes)
    timings: dict[str, float] = {}
    trained = {}
    for run in runs:
        t = time.perf_counter()
        trained[run.name] = train(run, data[run.corpus]["members"], a.model, sizes, out / run.name, a.threads)
        timings[f"train {run.name}"] = time.perf_counter() - t
        print(f"trained {run.name}: {trained[run.name]['train_seconds']:.0f} s", flush=True)
    summary: dict[str, Any] = {"sizes": sizes.__dict__, "trained": trained, "timings": timings}
    if a.train_only:
        return summary
    from lidscope.outputs import write_json

    t_all = time.perf_counter()
    rows: list[dict[str, Any]] = []
    cache: dict[Any, Any] = {}
    for run, label in eval_order(runs, trained, a.checkpoints):
        info = trained[run.name]
        t = time.perf_counter()
        rows += evaluate(run, label, info["checkpoints"][label], info["base_folder"], data, sizes,
                         out / run.name / label, cache)
        timings[f"detect {run.name} {label}"] = time.perf_counter() - t
        print(f"detected {run.name} {label}: {timings[f'detect {run.name} {label}']:.0f} s", flush=True)
        summary["table"] = rows
        write_json(out / "summary.json", summary)
    timings["detect all"] = time.perf_counter() - t_all
    summary["table"] = rows
    write_json(out / "summary.json", summary)
    if rows:
        plot_accuracy(rows, out / "accuracy.png")
    (out / "table.md").write_text(markdown(rows, sizes) + "\n")
    print(markdown(rows, sizes))
    return summary


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
