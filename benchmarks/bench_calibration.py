"""Are lidscope's intervals calibrated? Replicate and bootstrap intervals on the bundled MiniLM.

    python benchmarks/bench_calibration.py --threads 1 --out runs/calibration      # ~1 h on a shared 2-core CPU
    python benchmarks/bench_calibration.py --quick                                 # a minute: mechanics only

Parts (``--parts``, default all):

* ``nochange``: MiniLM against itself with different seeds. One `measure` call with K independent
  replicates (each its own M sequences and N tokens) gives K independent means and K bootstrap
  intervals. Replicate intervals: trials of R replicates per side, Welch interval of the difference;
  bootstrap: pairs of single replicates, interval of the difference from the two bootstrap standard
  errors. The bootstrap's correction factor (replicate spread / bootstrap se) is chosen on the first
  half of the replicates and its coverage reported on the second half.
* ``change``: a real change, MiniLM after a few masked-LM steps on chit-chat train (seeded, in this
  script). Both models measured with the same K replicates (paired). The true shift at this M and N
  is estimated from the last third of the replicates; coverage and verdicts of the paired replicate
  interval (R per trial) and of the paired bootstrap (one replicate) are counted on the rest.
* ``cost``: wall time of ``compare`` (base vs changed model, no cache) with R = 1 and with
  R = ``--cost-replicates``, in one run, at the CLI's default size (``--cost-size quick``, the default)
  or M = 1,000, N = 6,000 (``small``); then one ``measure`` at the sweep preset's size with both R
  (a sweep's cost per checkpoint). Load averages and stage times are recorded with every timing.
* ``costdefault``: in one run, ``compare`` with R = 1 at the quick M and N against R = 3 at half the
  M (same N), and a sweep checkpoint's ``measure`` with R = 1 against R = 3 at half the sweep
  preset's M: how much a smaller M saves (and, in the replicate means, how much it moves the value).
* ``smollm2``: the real change of docs/reproductions.md, SmolLM2-135M before and after 300 steps of
  full causal-LM fine-tuning on chit-chat train, compared with ``compare``'s default replicates
  (paired, R = ``COMPARE_N_REPLICATES``) on chit-chat, Wikipedia and BBC validation at that page's
  sizes (N = 10,000, max_length 64, M = 600 / 250 / 250). The checkpoints come from
  ``examples/finetune_shift.py ... --save-every 300 --train-only --out RUN`` (``--smollm2-run RUN``).

* ``pairednull``: the paired ``compare`` interval when nothing changed. Each trial is one `compare`
  call with its default R (paired replicates) and its own seeds (trial t: ``seed = data_seed = t + 1``),
  no embedding cache (each model extracted on its own), two nulls: the same bundled model under two
  names, and the model against a copy saved with ``save_pretrained`` and loaded back from the folder.
  Counts how often the interval contains 0 (Wilson interval of that coverage) and how often the
  verdict is "no detectable change", and records the per-replicate differences; one JSON line per
  trial in ``--pairednull-out`` (default ``benchmarks/data/calibration/paired-null.jsonl``).

Results are printed and written to ``OUT/calibration.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rawdata import run_meta, write_rows  # noqa: E402
from lidscope.stats import Interval, paired_cluster_bootstrap, paired_difference, welch_difference  # noqa: E402
from lidscope.stats.bootstrap import scaled  # noqa: E402
from lidscope.stats.intervals import t_quantile  # noqa: E402
from lidscope.stats.verdict import SAME, verdict  # noqa: E402

SOURCE = "chitchat:validation"
DATA = SOURCE  # replaced in main() by the pool file
#: Utterances in the pool the replicates draw from (a fixed seeded sample of chit-chat validation):
#: the pool is extracted once per model, so it bounds the cost of the forward passes.
POOL = 3000
LAYER = "-1"


def _sizes(quick: bool) -> dict:
    if quick:
        return dict(M=40, N=400, L=16, trials=3, R=2, change_trials=3, steps=2, cost_M=60, cost_N=500,
                    planning=[(80, 800, 3)])
    return dict(M=200, N=2000, L=128, trials=40, R=3, change_trials=15, steps=20, cost_M=1000, cost_N=6000,
                planning=[(100, 1000, 20), (400, 4000, 12)])


def _measure(model, k: int, s: dict, cache: Path, tokenizer=None, name=None):
    from lidscope.measure import measure

    t = time.perf_counter()
    r = measure(model, DATA, tokenizer=tokenizer, model_name=name, n_sequences=s["M"], n_points=s["N"],
                n_neighbors=s["L"], n_replicates=k, figures=False, cache_dir=cache)
    return r, time.perf_counter() - t


def _raw_boot(rec: dict) -> Interval:
    return Interval.from_dict(rec["bootstrap"][LAYER])  # stored uncorrected


def _coverage(hits: list[bool]) -> dict:
    n = len(hits)
    k = int(sum(hits))
    # Wilson 95 % interval of the coverage itself
    p, z = k / n, 1.959964
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return {"trials": n, "contains": k, "coverage": p, "coverage_ci95": [c - h, c + h]}


def part_nochange(s: dict, cache: Path) -> dict:
    k = 2 * s["trials"] * s["R"]
    r, secs = _measure("minilm", k, s, cache)
    recs = r.summary["replicates"]
    means = np.array([x["means"][LAYER] for x in recs])
    boots = [_raw_boot(x) for x in recs]
    se_b = np.array([b.se for b in boots])
    half = k // 2
    factor = float(np.std(means[:half], ddof=1) / np.sqrt(np.mean(se_b[:half] ** 2)))
    rep_hits, raw = [], []
    for t in range(s["trials"]):
        a = means[2 * s["R"] * t: 2 * s["R"] * t + s["R"]]
        b = means[2 * s["R"] * t + s["R"]: 2 * s["R"] * (t + 1)]
        iv = welch_difference(a, b)[0]
        rep_hits.append(iv.contains(0.0))
        raw.append({"kind": "welch-trial", "trial": t, "replicates": list(range(2 * s["R"] * t, 2 * s["R"] * (t + 1))),
                    "low": iv.low, "high": iv.high, "contains_0": bool(rep_hits[-1])})
    raw = [{"kind": "replicate", "index": i, "mean": float(means[i]), "bootstrap_se": float(se_b[i]),
            "data_seed": recs[i]["data_seed"], "seed": recs[i]["seed"], "points": recs[i].get("points")} for i in range(k)] + raw
    z = t_quantile(0.975, math.inf)

    def boot_hits(idx: range, f: float) -> list[bool]:
        out = []
        for i in idx[::2]:
            d = means[i + 1] - means[i]
            out.append(abs(d) <= z * f * math.hypot(se_b[i], se_b[i + 1]))
        return out

    out = {
        "M": s["M"], "N": s["N"], "L": s["L"], "replicates": k, "seconds": secs,
        "mean_over_replicates": float(means.mean()), "sd_of_replicate_means": float(np.std(means, ddof=1)),
        "relative_sd": float(np.std(means, ddof=1) / means.mean()),
        "bootstrap_se_rms": float(np.sqrt(np.mean(se_b**2))),
        "factor_first_half": factor,
        "factor_second_half": float(np.std(means[half:], ddof=1) / np.sqrt(np.mean(se_b[half:] ** 2))),
        "replicate_interval": {"R_per_side": s["R"], **_coverage(rep_hits)},
        "bootstrap_raw_all": _coverage(boot_hits(range(0, k - 1), 1.0)),
        "bootstrap_corrected_second_half": _coverage(boot_hits(range(half, k - 1), factor)),
        "points": [x["points"] for x in recs][:3], "sequences": recs[0]["sequences"],
    }
    return out, raw


def _finetuned(steps: int, out: Path) -> Path:
    """MiniLM after ``steps`` masked-LM steps (batch 16, lr 5e-5, seed 0) on chit-chat train; saved."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer, DataCollatorForLanguageModeling

    from lidscope.extract.models import resolve_model_spec
    from lidscope.extract.texts import load_texts

    folder = out / f"minilm-mlm-{steps}"
    if (folder / "config.json").is_file():
        return folder
    src, _, _ = resolve_model_spec("minilm")
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(str(src))
    model = AutoModelForMaskedLM.from_pretrained(str(src))
    texts = load_texts("chitchat:train", n_sequences=16 * steps, seed=0).texts
    collate = DataCollatorForLanguageModeling(tok, mlm=True, mlm_probability=0.15)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01)
    model.train()
    for i in range(steps):
        enc = tok(texts[16 * i: 16 * (i + 1)], truncation=True, max_length=48)
        batch = collate([{"input_ids": ids} for ids in enc["input_ids"]])
        loss = model(**batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def part_change(s: dict, cache: Path, out: Path) -> dict:
    t = time.perf_counter()
    folder = _finetuned(s["steps"], out)
    train_s = time.perf_counter() - t
    n_cov = s["change_trials"] * s["R"]
    k = n_cov + max(n_cov // 3, 15)
    base, base_s = _measure("minilm", k, s, cache)
    other, other_s = _measure(str(folder), k, s, cache, name="minilm-mlm")
    mb = np.array([x["means"][LAYER] for x in base.summary["replicates"]])
    mo = np.array([x["means"][LAYER] for x in other.summary["replicates"]])
    rel = (mo - mb) / mb
    truth = float(rel[n_cov:].mean())
    truth_se = float(rel[n_cov:].std(ddof=1) / math.sqrt(k - n_cov))
    rep_hits, rep_verdicts = [], []
    raw = [{"kind": "replicate", "index": i, "base_mean": float(mb[i]), "other_mean": float(mo[i]),
            "held_out": i >= n_cov} for i in range(k)]
    for i in range(s["change_trials"]):
        sl = slice(s["R"] * i, s["R"] * (i + 1))
        d, rl = paired_difference(mb[sl], mo[sl])
        rep_hits.append(rl.contains(truth))
        rep_verdicts.append(verdict(d))
        raw.append({"kind": "replicate-trial", "trial": i, "replicates": list(range(k))[sl], "relative_low": rl.low,
                    "relative_high": rl.high, "contains_truth": bool(rep_hits[-1]), "verdict": rep_verdicts[-1]})
    boot_hits, boot_hits_raw, boot_verdicts, boot_se = [], [], [], []
    boot_rel = []
    for r in range(n_cov):
        va, ca = base.replicate_points[r][LAYER]
        vb, cb = other.replicate_points[r][LAYER]
        _, _, d, rl = paired_cluster_bootstrap(va, ca, vb, cb, seed=r)
        boot_rel.append(rl.to_dict())
        boot_hits_raw.append(rl.contains(truth))
        raw.append({"kind": "bootstrap", "index": r, "relative_se": rl.se, "relative_low": rl.low,
                    "relative_high": rl.high, "contains_truth": bool(boot_hits_raw[-1])})
    # the paired correction is chosen on the first half of the trials and judged on the second half
    half = n_cov // 2
    se_half = np.array([b["se"] for b in boot_rel[:half]])
    factor = float(rel[:half].std(ddof=1) / np.sqrt(np.mean(se_half**2)))
    for r in range(half, n_cov):
        va, ca = base.replicate_points[r][LAYER]
        vb, cb = other.replicate_points[r][LAYER]
        _, _, d, rl = paired_cluster_bootstrap(va, ca, vb, cb, seed=r)
        d2, rl2 = scaled(d, factor), scaled(rl, factor)
        boot_hits.append(rl2.contains(truth))
        boot_verdicts.append(verdict(d2))
        boot_se.append(rl.se)
        raw.append({"kind": "bootstrap-widened", "index": r, "factor": factor, "contains_truth": bool(boot_hits[-1]),
                    "verdict": boot_verdicts[-1]})
    rel_cov = rel[:n_cov]
    return {
        "steps": s["steps"], "train_seconds": train_s, "measure_seconds": [base_s, other_s], "replicates": k,
        "true_relative_shift": truth, "true_relative_shift_se": truth_se,
        "sd_of_paired_relative_shift": float(rel.std(ddof=1)),
        "bootstrap_paired_relative_se_rms": float(np.sqrt(np.mean(np.square(boot_se)))),
        "paired_factor": float(rel_cov.std(ddof=1) / np.sqrt(np.mean(np.square(boot_se)))),
        "base_mean": float(mb.mean()), "other_mean": float(mo.mean()),
        "replicate_interval": {"R": s["R"], **_coverage(rep_hits),
                               "verdicts": {v: rep_verdicts.count(v) for v in set(rep_verdicts)}},
        "bootstrap_raw": _coverage(boot_hits_raw),
        "bootstrap_corrected_second_half": {"factor_first_half": factor, **_coverage(boot_hits),
                                "verdicts": {v: boot_verdicts.count(v) for v in set(boot_verdicts)}},
        "detect_rate_replicates": 1 - rep_verdicts.count(SAME) / len(rep_verdicts),
        "detect_rate_bootstrap_corrected": 1 - boot_verdicts.count(SAME) / len(boot_verdicts),
        "per_replicate": {"base_means": mb.tolist(), "other_means": mo.tolist(), "bootstrap_relative": boot_rel},
    }, raw


def part_planning(s: dict, cache: Path, out: Path) -> dict:
    """Replicate spread of the mean and of the paired shift at larger M and N (the planning table)."""
    folder = _finetuned(s["steps"], out)
    rows, raw = [], []
    for m, n, k in s["planning"]:
        sz = {**s, "M": m, "N": n}
        base, bs = _measure("minilm", k, sz, cache)
        other, os_ = _measure(str(folder), k, sz, cache, name="minilm-mlm")
        mb = np.array([x["means"][LAYER] for x in base.summary["replicates"]])
        mo = np.array([x["means"][LAYER] for x in other.summary["replicates"]])
        se_b = [_raw_boot(x).se for x in base.summary["replicates"]]
        rows.append({"M": m, "N": n, "replicates": k, "seconds": [bs, os_], "load": os.getloadavg(),
                     "mean": float(mb.mean()),
                     "relative_sd_mean": float(mb.std(ddof=1) / mb.mean()),
                     "relative_sd_paired_shift": float(((mo - mb) / mb).std(ddof=1)),
                     "relative_shift": float(((mo - mb) / mb).mean()),
                     "bootstrap_relative_se_rms": float(np.sqrt(np.mean(np.square(se_b))) / mb.mean())})
        print(json.dumps(rows[-1]), flush=True)
        raw += [{"M": m, "N": n, "replicate": i, "base_mean": float(mb[i]), "other_mean": float(mo[i]),
                 "bootstrap_se": float(se_b[i]), "seconds": [bs, os_]} for i in range(k)]
    return {"rows": rows}, raw


def part_cost_default(s: dict, out: Path) -> dict:
    """compare with R = 1 at the quick size against R = 3 at half its M (same N), and a sweep
    checkpoint's measure with R = 1 (sweep preset) against R = 3 at half its M; in one run."""
    from lidscope.measure import compare, measure
    from lidscope.settings import COMPARE_N_REPLICATES, QUICK_SIZES, SWEEP_SIZES

    folder = _finetuned(s["steps"], out)
    full = s["L"] >= 128
    small = {"n_sequences": s["cost_M"], "n_points": s["cost_N"]}
    runs = [("compare_R1_quick", 1, dict(QUICK_SIZES) if full else small),
            (f"compare_R{COMPARE_N_REPLICATES}_half_M", COMPARE_N_REPLICATES,
             ({**QUICK_SIZES, "n_sequences": QUICK_SIZES["n_sequences"] // 2} if full
              else {**small, "n_sequences": small["n_sequences"] // 2})),
            ("sweep_R1", 1, dict(SWEEP_SIZES) if full else small),
            ("sweep_R3_half_M", 3, ({**SWEEP_SIZES, "n_sequences": SWEEP_SIZES["n_sequences"] // 2} if full
                                    else {**small, "n_sequences": small["n_sequences"] // 2}))]
    res: dict = {"models": ["minilm", str(folder)], "data": SOURCE, "cache": "none"}
    for name, r, sizes in runs:
        load0, t = os.getloadavg(), time.perf_counter()
        if name.startswith("compare"):
            got = compare(["minilm", str(folder)], [SOURCE], out=out / name, use_cache=False, n_replicates=r,
                          n_neighbors=s["L"], **sizes)
            verdict = {d: {m: c.sentence() for m, c in ms.items()} for d, ms in got.comparisons.items()}
        else:
            got = measure("minilm", SOURCE, use_cache=False, n_replicates=r, n_neighbors=s["L"], figures=False, **sizes)
            verdict = None
        res[name] = {"R": r, "sizes": sizes, "seconds": time.perf_counter() - t, "load": [load0, os.getloadavg()],
                     "stages": _stages(got), "verdict": verdict}
        print(json.dumps({name: res[name]}), flush=True)
    res["compare_ratio"] = res[runs[1][0]]["seconds"] / res[runs[0][0]]["seconds"]
    res["sweep_ratio"] = res[runs[3][0]]["seconds"] / res[runs[2][0]]["seconds"]
    return res


#: docs/reproductions.md's SmolLM2 sizes: M per dataset, N = 10,000, max_length 64.
SMOLLM2_DATA = {"chitchat:validation": 600, "wikipedia:validation": 250, "bbc:validation": 250}
SMOLLM2_SIZES = {"n_points": 10_000, "max_length": 64, "n_neighbors": 128}


def part_smollm2(run: Path, out: Path, cache: Path, replicates: int) -> dict:
    """Base vs step-300 SmolLM2 with ``compare`` (paired replicates), one dataset at a time (own M)."""
    from lidscope.measure import compare

    base, tuned = run / "train" / "checkpoint-0", run / "train" / "checkpoint-300"
    for f in (base, tuned):
        if not (f / "config.json").is_file():
            raise SystemExit(f"{f} is missing: train first with examples/finetune_shift.py --model smollm2 --steps 300 "
                             f"--batch-size 16 --lr 5e-5 --max-length 64 --group-by-length --save-every 300 "
                             f"--train-only --out {run}")
    rows = {}
    for spec, m in SMOLLM2_DATA.items():
        t = time.perf_counter()
        cr = compare([str(base), str(tuned)], [spec], model_names=["base", "step-300"],
                     out=out / "smollm2" / spec.split(":")[0], cache_dir=cache, n_sequences=m,
                     n_replicates=replicates, **SMOLLM2_SIZES)
        secs = time.perf_counter() - t
        (label, ms), = cr.results.items()
        c = cr.comparisons[label]["step-300"]
        rb, rt = ms["base"].summary["replicates"], ms["step-300"].summary["replicates"]
        mb = np.array([x["means"][LAYER] for x in rb])
        mt = np.array([x["means"][LAYER] for x in rt])
        rows[spec] = {
            "M": m, **SMOLLM2_SIZES, "replicates": replicates, "seconds": secs,
            "sequences_per_replicate": [x["sequences"] for x in rb], "points_per_replicate": [x["points"] for x in rb],
            "sequences_extracted": ms["base"].summary["counts"].get("sequences_extracted"),
            "base": c.base.to_dict(), "step300": c.other.to_dict(), "comparison": c.to_dict(),
            "sentence": c.sentence(), "replicate_relative_shifts": ((mt - mb) / mb).tolist(),
        }
        print(json.dumps({spec: {k: rows[spec][k] for k in ("seconds", "sentence", "replicate_relative_shifts")}}),
              flush=True)
    return rows


def _stages(cr_or_result) -> dict:
    """Stage times (s) of every measurement: extraction, first neighbour search, other replicates."""
    results = ([r for ms in cr_or_result.results.values() for r in ms.values()]
               if hasattr(cr_or_result, "results") else [cr_or_result])
    keys = ("load_data", "extract", "neighbors", "estimates", "replicates", "total")
    out = {k: round(sum(r.summary["timings_s"].get(k, 0.0) for r in results), 1) for k in keys}
    out["sequences_extracted"] = [r.summary["counts"]["sequences_extracted"] for r in results]
    out["tokens_extracted"] = [r.summary["counts"]["tokens"] for r in results]
    return out


def part_cost(s: dict, out: Path, replicates: int, size: str) -> dict:
    """Wall time of ``compare`` (CLI defaults but R) with R = 1 and R = ``replicates``, in one run;
    ``size`` ``quick``: the CLI's default M and N; else the benchmark's smaller ``cost_M``/``cost_N``.
    Also one model's ``measure`` at the sweep preset's M and N (a sweep's cost per checkpoint)."""
    from lidscope.measure import compare, measure
    from lidscope.settings import QUICK_SIZES, SWEEP_SIZES

    folder = _finetuned(s["steps"], out)
    full = s["L"] >= 128  # --quick (mechanics check): the small sizes throughout
    sizes = dict(QUICK_SIZES) if size == "quick" and full else {"n_sequences": s["cost_M"], "n_points": s["cost_N"]}
    res: dict = {"sizes": sizes, "models": ["minilm", str(folder)], "data": SOURCE, "cache": "none"}
    for r in (1, replicates):
        load0, t = os.getloadavg(), time.perf_counter()
        cr = compare(["minilm", str(folder)], [SOURCE], out=out / f"cost-R{r}", use_cache=False, n_replicates=r,
                     n_neighbors=s["L"], **sizes)
        res[f"R{r}_seconds"] = time.perf_counter() - t
        res[f"R{r}_load"] = [load0, os.getloadavg()]
        res[f"R{r}_stages"] = _stages(cr)
        res[f"R{r}_verdict"] = {d: {m: c.sentence() for m, c in ms.items()} for d, ms in cr.comparisons.items()}
        print(json.dumps({f"R{r}": [res[f"R{r}_seconds"], res[f"R{r}_load"], res[f"R{r}_stages"]]}), flush=True)
    res["ratio"] = res[f"R{replicates}_seconds"] / res["R1_seconds"]
    sweep_sizes = dict(SWEEP_SIZES) if full else sizes
    for r in (1, replicates):
        load0, t = os.getloadavg(), time.perf_counter()
        m = measure("minilm", SOURCE, use_cache=False, n_replicates=r, n_neighbors=s["L"], figures=False, **sweep_sizes)
        res[f"sweep_R{r}_seconds"] = time.perf_counter() - t
        res[f"sweep_R{r}_load"] = [load0, os.getloadavg()]
        res[f"sweep_R{r}_stages"] = _stages(m)
        print(json.dumps({f"sweep R{r}": [res[f"sweep_R{r}_seconds"], res[f"sweep_R{r}_load"]]}), flush=True)
    res["sweep_sizes"] = sweep_sizes
    res["sweep_ratio"] = res[f"sweep_R{replicates}_seconds"] / res["sweep_R1_seconds"]
    return res


def _save_copy(out: Path) -> Path:
    """The bundled MiniLM saved with ``save_pretrained`` (weights and tokenizer) into ``out``."""
    from lidscope.extract.models import load_model

    lm = load_model("minilm")
    out.mkdir(parents=True, exist_ok=True)
    lm.model.save_pretrained(out)
    lm.tokenizer.save_pretrained(out)
    return out


def part_pairednull(s: dict, out: Path, trials: int, jsonl: Path, command: str) -> dict:
    """``trials`` compare calls per null pair (same model under two names; model vs saved-and-reloaded copy)."""
    from lidscope.measure import compare
    from lidscope.settings import COMPARE_N_REPLICATES

    copy = _save_copy(out / "minilm-copy")
    pairs = {"two names": (["minilm", "minilm"], ["minilm-a", "minilm-b"]),
             "saved and reloaded": (["minilm", str(copy)], ["minilm", "minilm-copy"])}
    meta = run_meta(command, data=DATA, M=s["M"], N=s["N"], L=s["L"], replicates=COMPARE_N_REPLICATES, pool=POOL)
    rows, summary = [], {}
    # rows are rewritten (atomically, strict JSON: rawdata.write_rows) after every trial, so a stopped run keeps them
    for null, (models, names) in pairs.items():
        hits, same = [], []
        for t in range(trials):
            t0 = time.perf_counter()
            load0 = os.getloadavg()[0]
            cr = compare(models, [DATA], model_names=names, n_sequences=s["M"], n_points=s["N"],
                         n_neighbors=s["L"], seed=t + 1, data_seed=t + 1, figures=False, use_cache=False)
            (label, res), = cr.results.items()
            a, b = (res[n] for n in names)
            c = cr.comparisons[label][names[1]]
            ra = [x["means"][LAYER] for x in a.summary["replicates"]]
            rb = [x["means"][LAYER] for x in b.summary["replicates"]]
            diffs = [y - x for x, y in zip(ra, rb)]
            row = {"null": null, "trial": t, "seed": t + 1, "base_means": ra, "other_means": rb,
                   "differences": diffs, "max_abs_difference": max(abs(d) for d in diffs),
                   "change": c.difference.estimate, "low": c.difference.low, "high": c.difference.high,
                   "method": c.method, "contains_0": bool(c.difference.low <= 0.0 <= c.difference.high),
                   "verdict": c.verdict, "seconds": time.perf_counter() - t0,
                   "load": [load0, os.getloadavg()[0]]}
            rows.append(row)
            write_rows(jsonl.resolve(), rows, meta=meta)  # a path as given (rawdata reads names under its data folder)
            print(f"{null} trial {t}: change {row['change']:+.3g} [{row['low']:+.3g}, {row['high']:+.3g}] "
                  f"{row['verdict']}; max |d| {row['max_abs_difference']:.3g}; {row['seconds']:.1f} s", flush=True)
            hits.append(row["contains_0"])
            same.append(row["max_abs_difference"] == 0.0)
        summary[null] = {**_coverage(hits), "identical_clouds": int(sum(same)),
                         "verdicts": {v: sum(r["verdict"] == v for r in rows if r["null"] == null)
                                      for v in {r["verdict"] for r in rows}}}
    summary["all"] = _coverage([r["contains_0"] for r in rows])
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes: checks the mechanics in about a minute")
    ap.add_argument("--parts", default="nochange,change,planning,cost")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cost-replicates", type=int, default=3)
    ap.add_argument("--cost-size", default="quick", choices=["quick", "small"],
                    help="cost part: the CLI's default (quick) M and N, or the benchmark's M = 1,000, N = 6,000")
    ap.add_argument("--replicates", type=int, help="R of the smollm2 part (default: compare's default)")
    ap.add_argument("--planning-sizes", help="planning part: MxNxK rows, comma separated (e.g. 400x4000x12; "
                                             "default 100x1000x20,400x4000x12)")
    ap.add_argument("--smollm2-run", type=Path, default=Path("runs/smollm2-full"),
                    help="output folder of examples/finetune_shift.py holding train/checkpoint-0 and -300")
    ap.add_argument("--out", type=Path, default=Path("runs/calibration"))
    ap.add_argument("--trials", type=int, default=30, help="pairednull part: trials per null pair")
    ap.add_argument("--pairednull-out", type=Path, default=Path("benchmarks/data/calibration/paired-null.jsonl"))
    args = ap.parse_args()
    from lidscope.threads import limit_threads

    limit_threads(args.threads)
    s = _sizes(args.quick)
    if args.planning_sizes:
        s["planning"] = [tuple(int(v) for v in row.split("x")) for row in args.planning_sizes.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    global DATA
    from lidscope.extract.texts import load_texts

    pool = args.out / "pool.txt"
    if not pool.is_file():
        texts = load_texts(SOURCE, n_sequences=POOL if not args.quick else 300, seed=1234).texts
        pool.write_text("".join(t.replace("\n", " ").strip() + "\n" for t in texts), encoding="utf-8")
    DATA = str(pool)
    cache = args.out / "cache"
    path = args.out / ("calibration-quick.json" if args.quick else "calibration.json")
    results = json.loads(path.read_text()) if path.is_file() else {}
    results["sizes"] = s
    parts = args.parts.split(",")
    if "nochange" in parts:
        results["nochange"], raw = part_nochange(s, cache)
        if not args.quick:  # raw rows of docs/statistics.md's no-change table (benchmarks/rescore.py)
            write_rows("calibration/nochange", raw, meta=run_meta(M=s["M"], N=s["N"], L=s["L"], pool=POOL,
                                                                 seconds=results["nochange"]["seconds"]))
        print(json.dumps({"nochange": results["nochange"]}, indent=1), flush=True)
        path.write_text(json.dumps(results, indent=1))
    if "change" in parts:
        results["change"], raw = part_change(s, cache, args.out)
        if not args.quick:
            ch = results["change"]
            write_rows("calibration/change", raw, meta=run_meta(M=s["M"], N=s["N"], L=s["L"], steps=s["steps"],
                                                               train_seconds=ch["train_seconds"],
                                                               measure_seconds=ch["measure_seconds"]))
        print(json.dumps({"change": results["change"]}, indent=1), flush=True)
        path.write_text(json.dumps(results, indent=1))
    if "planning" in parts:
        results["planning"], raw = part_planning(s, cache, args.out)
        if not args.quick:
            write_rows("calibration/planning", raw, meta=run_meta(L=s["L"], steps=s["steps"]))
        path.write_text(json.dumps(results, indent=1))
    if "smollm2" in parts:
        from lidscope.settings import COMPARE_N_REPLICATES

        results["smollm2"] = part_smollm2(args.smollm2_run, args.out, cache, args.replicates or COMPARE_N_REPLICATES)
        path.write_text(json.dumps(results, indent=1))
    if "pairednull" in parts:
        import shlex
        import sys

        results["paired_null"] = part_pairednull(s, args.out, args.trials, args.pairednull_out,
                                                 "python " + shlex.join(sys.argv))
        print(json.dumps({"paired_null": results["paired_null"]}, indent=1), flush=True)
        path.write_text(json.dumps(results, indent=1))
    if "costdefault" in parts:
        results["cost_default"] = part_cost_default(s, args.out)
        print(json.dumps({"cost_default": results["cost_default"]}, indent=1), flush=True)
        path.write_text(json.dumps(results, indent=1))
    if "cost" in parts:
        results["cost"] = part_cost(s, args.out, args.cost_replicates, args.cost_size)
        print(json.dumps({"cost": results["cost"]}, indent=1), flush=True)
        path.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
