"""The signal study of docs/signals.md: re-run (or resume) every run and print its tables.

    python benchmarks/bench_signals.py --quick --out /tmp/sig-quick    # about a minute: mechanics only
    nice -n 10 python benchmarks/bench_signals.py --out runs/signals    # the study (CPU time: docs/signals.md)

1. Grokking: the 16 runs of `lidscope.experiments.grokking.study.STUDY_PLAN` (the same runs as
   ``lidscope grokking-sweep --plan study``), each resumable. The LID fall rule is chosen on the ``tune``
   half and scored on the ``test`` half only; the shipped default `FALL_RULE` is scored on both.
2. Overfitting and exhaustion: the classifier runs of `lidscope.experiments.classify_study.study_plan`
   (a run with a ``summary.json`` is not re-run). Plateau parameters are chosen on the ``fit`` runs and
   reported on the ``report`` runs.

3. ``--extend-p97 STEPS`` (post hoc, alone): continue the plan's p = 97 runs, censored at the study's budget,
   to STEPS in copies under ``--extend-out`` (the study's folders are read, never written) and score the
   shipped FALL_RULE on them, unchanged (docs/signals.md, "Censored runs, extended").

Everything runs single-threaded (``--threads``, default 1). Figures go to ``OUT/figures``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return "nan" if math.isnan(x) else f"{x:.3g}"
    return str(x)


def _with_ci(x: float, ci: tuple[float, float]) -> str:
    """``0.5 [0.01, 0.99]``: an estimate with its 95 % interval (``-`` when undefined)."""
    return "-" if math.isnan(x) else f"{x:.2g} [{ci[0]:.2f}, {ci[1]:.2f}]"


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(x) for x in r) + " |" for r in rows]
    return "\n".join(lines)


def _score_rows(label: str, runs: dict[str, tuple[str, Any]], groups: dict[str, list[str]], rule: Any,
                source: str, report: dict[str, Any]) -> list[list[Any]]:
    from lidscope.experiments.grokking.study import outcome, score

    out = []
    for group, names in groups.items():
        if not names:
            continue
        s = score([outcome(n, runs[n][0], runs[n][1], rule, source) for n in names])
        report[f"{label}/{group}"] = s.as_dict()
        out.append([label, source, group, s.runs, s.grokked, s.alarms, s.hits, s.early, s.late, s.missed,
                    s.false_alarms, _with_ci(s.precision, s.precision_ci), _with_ci(s.recall, s.recall_ci),
                    s.median_lead_050, s.median_lead_090])
    return out


def grokking(out: Path, quick: bool, n_runs: int | None = None, analyse_only: bool = False) -> dict[str, Any]:
    from lidscope.experiments.grokking.plots import plot_small_multiples
    from lidscope.experiments.grokking.study import (FALL_RULE_RUNS_1_8, FALL_SOURCE, GRID, GRID_PLANNED,
                                                     blind_runs, choose_rule, outcome, plan_configs, run_name,
                                                     study_plan)
    from lidscope.experiments.grokking.sweep import run_sweep
    from lidscope.experiments.grokking.train import lid_cost
    from lidscope.training.signals import FALL_RULE

    plan, base = study_plan("quick-study" if quick else "study")
    pairs = plan_configs(plan[:n_runs], base)
    if analyse_only:  # finished runs only, cut at the plan's budget
        from lidscope.experiments.grokking.train import read_metrics

        results = {}
        for _, c in pairs:
            if (out / "grokking" / run_name(c) / "metrics.parquet").exists():
                rows = [r for r in read_metrics(out / "grokking" / run_name(c)) if r["step"] <= c.steps]
                if rows[-1]["step"] == c.steps:
                    results[run_name(c)] = rows
        pairs = [(p, c) for p, c in pairs if run_name(c) in results]
    else:
        results = run_sweep([c for _, c in pairs], out / "grokking", on_run=_log_load)
    runs = {run_name(c): (p.half, results[run_name(c)]) for p, c in pairs}
    blind = [n for n in blind_runs(plan, base) if n in runs]
    groups = {"tune": [n for n, (h, _) in runs.items() if h == "tune"],
              "test": [n for n, (h, _) in runs.items() if h == "test"], "test, blind": blind}
    source, rule, tune_score = choose_rule(runs)
    psource, prule, _ = choose_rule(runs, grid=GRID_PLANNED, prefer="lead")
    report: dict[str, Any] = {"chosen": {"source": source, "rule": rule.__dict__, "tune": tune_score.as_dict()},
                              "planned": {"source": psource, "rule": prule.__dict__}, "blind": blind}
    rows = []
    for name, (half, r) in runs.items():
        o = outcome(name, half, r, rule, source)
        d = outcome(name, half, r, FALL_RULE, FALL_SOURCE)
        cost = lid_cost(r)
        cpu = cost["train_cpu_seconds"] + cost["eval_cpu_seconds"] + cost["lid_cpu_seconds"]
        rows.append([name, half + (" (blind)" if name in blind else ""), round(o.final_val_acc, 3), o.val_050,
                     o.val_090, o.alarm, o.kind, o.lead_050, o.lead_090, d.alarm, d.kind, round(cpu, 1)])
    print(f"\n## Grokking runs (chosen rule on {source}; shipped FALL_RULE on {FALL_SOURCE})\n")
    print(table(["run", "half", "final val acc", "val>=0.5", "val>=0.9", "alarm (chosen)", "outcome",
                 "lead to 0.5", "lead to 0.9", "alarm (shipped)", "outcome (shipped)", "CPU s"], rows))
    scores = _score_rows("chosen", runs, groups, rule, source, report)
    scores += _score_rows("shipped FALL_RULE", runs, groups, FALL_RULE, FALL_SOURCE, report)
    for src in ("lid_train_mean", "lid_val_mean"):  # fixed before the blind runs existed
        scores += _score_rows("rule of runs 1-8", runs, {"test, blind": blind}, FALL_RULE_RUNS_1_8, src, report)
    scores += _score_rows("as planned", runs, groups, prule, psource, report)
    # the label-using reference: the same rule family on validation loss (chosen on the tune half too)
    lsource, lrule, _ = choose_rule(runs, sources=("val_loss",), grid=GRID)
    scores += _score_rows("val loss (labels)", runs, groups, lrule, lsource, report)
    report["val_loss_rule"] = lrule.__dict__
    print(f"\nchosen on the tune half: source {source}, {rule}; as planned: {psource}, {prule}; "
          f"val-loss reference: {lrule}\n")
    print(table(["rule", "series", "runs", "n", "reached 0.5", "alarms", "hits", "of which by 0.5", "late",
                 "missed", "false alarms", "precision [95 % CI]", "recall [95 % CI]", "median lead to 0.5",
                 "median lead to 0.9"],
                scores))
    cpu_total = sum(r[-1] for r in rows)
    print(f"\ngrokking CPU seconds, all runs: {cpu_total:.0f}")
    report["cpu_seconds"] = cpu_total
    report["runs"] = {r[0]: dict(zip(["run", "half", "final_val_acc", "val_050", "val_090", "alarm", "kind",
                                      "lead_050", "lead_090", "alarm_shipped", "kind_shipped", "cpu_seconds"], r))
                      for r in rows}
    (out / "figures").mkdir(parents=True, exist_ok=True)
    label = {n: f"{n} ({report['runs'][n]['half']})" for n in runs}
    marks = {label[n]: (report["runs"][n]["alarm"], report["runs"][n]["val_090"]) for n in runs}
    plot_small_multiples({label[n]: r for n, (_, r) in runs.items()}, out / "figures" / "signals-grokking.png",
                         lid_key=source, marks=marks, mark_labels=("LID fall alarm (chosen rule)", "val acc 0.9"))
    return report


#: Order in which `--extend-p97` extends the censored runs (the false alarm first).
EXTEND_ORDER = ("*", "+", "-", "/")


def extend_censored(out: Path, ext: Path, steps: int, quick: bool, analyse_only: bool = False) -> dict[str, Any]:
    """Continue the plan's runs of its largest prime (p = 97: none reached 0.5 in 600 steps) to ``steps``
    in copies under ``ext`` and score the shipped FALL_RULE (not re-chosen) at both budgets."""
    import os

    from lidscope.experiments.grokking.plots import plot_small_multiples
    from lidscope.experiments.grokking.study import (FALL_RULE_RUNS_1_8, FALL_SOURCE, blind_runs, outcome,
                                                     plan_configs, run_name, study_plan)
    from lidscope.experiments.grokking.sweep import extend_runs
    from lidscope.experiments.grokking.train import read_metrics
    from lidscope.training.signals import FALL_RULE

    plan, base = study_plan("quick-study" if quick else "study")
    top = max(p.prime for p in plan)
    pairs = sorted([(p, c) for p, c in plan_configs(plan, base) if p.prime == top],
                   key=lambda pc: EXTEND_ORDER.index(pc[0].op))
    load_log = ext / "load.jsonl"
    if not analyse_only:
        ext.mkdir(parents=True, exist_ok=True)

        def log_eval(row: dict[str, Any]) -> None:
            load = os.getloadavg()[0]
            with load_log.open("a") as f:
                f.write(json.dumps({"run": current[0], "step": row["step"], "load1": load}) + "\n")
            print(f"  step {row['step']}: val acc {row['val_acc']:.3f}, train LID {row['lid_train_mean']:.2f}, "
                  f"load {load:.2f}", file=sys.stderr, flush=True)

        current = [""]

        def on_run(c: Any) -> None:
            current[0] = run_name(c)
            _log_load(c)

        for p, c in pairs:  # one at a time, so a cut-short extension keeps the finished runs
            extend_runs([c], out / "grokking", ext / "grokking", steps, on_run=on_run, on_eval=log_eval)
    loads: dict[str, list[float]] = {}
    if load_log.exists():
        for line in load_log.read_text().splitlines():
            d = json.loads(line)
            loads.setdefault(d["run"], []).append(d["load1"])
    report: dict[str, Any] = {"steps": steps, "rule": FALL_RULE.__dict__, "source": FALL_SOURCE, "runs": {}}
    table_rows, curves, marks = [], {}, {}
    for p, c in pairs:
        name = run_name(c)
        if not (ext / "grokking" / name / "metrics.parquet").exists():
            continue
        rows = [r for r in read_metrics(ext / "grokking" / name) if r["step"] <= steps]
        short = [r for r in rows if r["step"] <= c.steps]
        o_short, o_ext = (outcome(name, p.half, r, FALL_RULE, FALL_SOURCE) for r in (short, rows))
        old = outcome(name, p.half, rows, FALL_RULE_RUNS_1_8, FALL_SOURCE)
        later = [r for r in rows if r["step"] > c.steps]
        cpu = sum(r["eval_cpu_seconds"] + r["lid_cpu_seconds"] for r in later)
        wall = sum(r["eval_seconds"] + r["lid_seconds"] for r in later)
        if later:
            cpu += later[-1]["train_cpu_seconds"] - short[-1]["train_cpu_seconds"]
            wall += later[-1]["train_seconds"] - short[-1]["train_seconds"]
        load = loads.get(name, [])
        load_range = f"{min(load):.1f}-{max(load):.1f}" if load else None
        report["runs"][name] = {"half": p.half, "steps_done": rows[-1]["step"], "final_val_acc": o_ext.final_val_acc,
                                "at_budget": o_short.as_dict(), "extended": o_ext.as_dict(),
                                "rule_of_runs_1_8": old.as_dict(), "extension_cpu_seconds": cpu,
                                "extension_wall_seconds": wall, "load1_range": load_range}
        table_rows.append([name, p.half, rows[-1]["step"], round(o_ext.final_val_acc, 3), o_ext.val_050,
                           o_ext.val_090, o_ext.alarm, o_short.kind, o_ext.kind, o_ext.lead_050, o_ext.lead_090,
                           old.alarm, old.kind, round(cpu, 1), round(wall), load_range])
        curves[name] = rows
        marks[name] = (o_ext.alarm, o_ext.val_050, o_ext.val_090, c.steps)
    # post hoc: the study's halves scored again with these runs at the longer budget, every other run at its own
    mixed: dict[str, tuple[str, Any]] = {}
    for p, c in plan_configs(plan, base):
        name = run_name(c)
        if name in curves and curves[name][-1]["step"] == steps:
            mixed[name] = (p.half, curves[name])
        elif (out / "grokking" / name / "metrics.parquet").exists():
            mixed[name] = (p.half, [r for r in read_metrics(out / "grokking" / name) if r["step"] <= c.steps])
    blind = [n for n in blind_runs(plan, base) if n in mixed]
    groups = {"tune": [n for n, (h, _) in mixed.items() if h == "tune"],
              "test": [n for n, (h, _) in mixed.items() if h == "test"], "test, blind": blind, "all": list(mixed)}
    scores = _score_rows("shipped FALL_RULE", mixed, groups, FALL_RULE, FALL_SOURCE, report.setdefault("rescored", {}))
    for name, r in curves.items():
        a = report["runs"][name]["extended"]["alarm"]
        report["runs"][name]["val_acc_at_alarm"] = next((x["val_acc"] for x in r if x["step"] == a), None)
    print(f"\n## Censored runs, extended to {steps} steps (shipped FALL_RULE on {FALL_SOURCE}, not re-chosen)\n")
    print(table(["run", "half", "steps done", "final val acc", "val>=0.5", "val>=0.9", "alarm", "outcome at the budget",
                 "outcome extended", "lead to 0.5", "lead to 0.9", "alarm, rule of runs 1-8", "outcome, rule of runs 1-8",
                 "extension CPU s", "extension wall s", "load average"], table_rows))
    print(f"\nval acc at the alarm: " + ", ".join(f"{n} {_fmt(d.get('val_acc_at_alarm'))}"
                                                 for n, d in report["runs"].items()))
    print(f"\n## The study's halves re-scored post hoc: these runs at {steps} steps, the others at their budget\n")
    print(table(["rule", "series", "runs", "n", "reached 0.5", "alarms", "hits", "of which by 0.5", "late", "missed",
                 "false alarms", "precision [95 % CI]", "recall [95 % CI]", "median lead to 0.5",
                 "median lead to 0.9"], scores))
    if curves:
        (ext / "figures").mkdir(parents=True, exist_ok=True)
        plot_small_multiples(curves, ext / "figures" / "signals-grokking-extended.png", lid_key=FALL_SOURCE,
                             marks=marks, columns=4,
                             mark_labels=("FALL_RULE alarm", "val acc 0.5", "val acc 0.9", "the study's budget"))
    (ext / "extended.json").write_text(json.dumps(report, indent=1, default=str))
    return report


def _log_load(what: Any) -> None:
    """Print the load average when a run starts (timings on a shared machine need it beside them)."""
    import os
    import time

    name = getattr(what, "name", None) or what
    if not isinstance(name, str):
        from lidscope.experiments.grokking.study import run_name

        name = run_name(what)
    print(f"{time.strftime('%H:%M:%S', time.gmtime())} start {name}: load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", file=sys.stderr, flush=True)


def classifiers(out: Path, quick: bool, analyse_only: bool = False) -> dict[str, Any]:
    from lidscope.experiments.classify import run
    from lidscope.experiments.classify_study import (choose_plateau, overfit_verdict, plateau_error,
                                                     study_plan)
    from lidscope.experiments.grokking.plots import plot_small_multiples

    plan = study_plan(str(out / "classify"), quick=quick)
    summaries = {}
    for p in plan:
        path = Path(p.config.out) / "summary.json"
        if not path.exists() and analyse_only:
            continue
        if not path.exists():
            _log_load(p.name)
        summaries[p.name] = json.loads(path.read_text()) if path.exists() else run(p.config)
        print(f"{p.name}: CPU {summaries[p.name].get('cpu_seconds', math.nan):.0f} s", file=sys.stderr, flush=True)
    report: dict[str, Any] = {}
    rows = []
    plan = [p for p in plan if p.name in summaries]
    for p in plan:
        if p.role != "overfit":
            continue
        v = overfit_verdict(summaries[p.name])
        report[p.name] = v.as_dict()
        rows.append([p.name, v.peak_step, v.peak_f1, v.final_f1, v.lid_at_peak, v.lid_final, v.lid_change,
                     v.threshold, v.direction, v.spearman, round(summaries[p.name].get("cpu_seconds", math.nan), 1)])
    print("\n## Overfitting runs\n")
    print(table(["run", "F1 peak step", "peak F1", "final F1", "LID at peak", "LID final", "LID change",
                 "noise threshold", "LID while F1 falls", "Spearman(LID, F1) after peak", "CPU s"], rows))
    fit = [summaries[p.name] for p in plan if p.role == "fit"]
    if not fit:
        print("\nno finished exhaustion runs of the fit half: no plateau rule chosen")
        return report
    from lidscope.experiments.classify_study import BLIND_REPORT
    from lidscope.training.signals import PLATEAU_RULE

    params, cost = choose_plateau(fit)
    report["plateau_rule"] = {**params, "fit_mean_abs_error_epochs": cost}
    rows = []
    errors: dict[str, dict[str, list[float | None]]] = {"chosen": {}, "shipped": {}, "old default": {}}
    rules = {"chosen": params, "shipped": PLATEAU_RULE.__dict__, "old default": {"window": 4, "rel_tolerance": 0.02,
                                                                                "noise_z": None}}
    for p in plan:
        if p.role not in ("fit", "report"):
            continue
        s = summaries[p.name]
        role = p.role + (" (blind)" if p.name in BLIND_REPORT else "")
        res = {k: plateau_error(s, r["window"], r["rel_tolerance"], noise_z=r["noise_z"]) for k, r in rules.items()}
        for k, (_, _, err) in res.items():
            for group in {p.role, role}:
                errors[k].setdefault(group, []).append(err)
        fired, f1_step, err = res["chosen"]
        report[p.name] = {"role": role, "fired": fired, "f1_step": f1_step, "error_epochs": err,
                          "fired_old_default": res["old default"][0], "error_old_default": res["old default"][2]}
        rows.append([p.name, role, s["best_f1"], f1_step, fired, err, res["old default"][0], res["old default"][2],
                     round(s.get("cpu_seconds", math.nan), 1)])
    print(f"\n## Exhaustion runs: plateau rule chosen on the fit runs: {params} (mean |error| {cost:.2f} epochs)\n")
    print(table(["run", "role", "best F1", "F1 plateau step", "LID plateau (chosen)", "error (epochs)",
                 "LID plateau (window 4, 2 %)", "error (epochs)", "CPU s"], rows))
    summ = []
    for k, by_group in errors.items():
        for group, errs in by_group.items():
            fired = [e for e in errs if e is not None]
            summ.append([k, group, len(errs), len(fired), float(np.mean(np.abs(fired))) if fired else None,
                         float(np.median(fired)) if fired else None,
                         sum(e < 0 for e in fired), sum(e > 0 for e in fired)])
            report[f"plateau/{k}/{group}"] = dict(zip(["runs", "fired", "mean_abs_error", "median_error", "early",
                                                       "late"], summ[-1][2:]))
    print("\n" + table(["rule", "runs", "n", "fired", "mean abs error (epochs)", "median error", "early", "late"],
                       summ))
    report["cpu_seconds"] = sum(s.get("cpu_seconds", 0.0) for s in summaries.values())
    print(f"\nclassifier CPU seconds, all runs: {report['cpu_seconds']:.0f}")
    curves, marks = {}, {}
    roles = {p.name: p.role for p in plan}
    for name, s in summaries.items():
        f1 = dict(zip(s["f1_steps"], s["val_f1"]))
        label = f"{name} ({report.get(name, {}).get('role', roles.get(name))})"
        curves[label] = [{"step": st, "val_f1": f1.get(st, math.nan), "lid": v}
                         for st, v in zip(s["lid_steps"], s["lid_mean"])]
        # exhaustion runs: where the chosen plateau rule fired and where F1 stopped improving; overfitting
        # runs: the F1 peak
        marks[label] = ((report[name]["fired"], report[name]["f1_step"]) if "fired" in report.get(name, {})
                        else (None, report.get(name, {}).get("peak_step")))
    (out / "figures").mkdir(parents=True, exist_ok=True)
    plot_small_multiples(curves, out / "figures" / "signals-classifiers.png", lid_key="lid", metric_key="val_f1",
                         metric_label="validation macro-F1", columns=3, marks=marks,
                         mark_labels=("LID plateau (chosen rule)", "F1 peak or F1 plateau"))
    return report


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes: mechanics only")
    ap.add_argument("--out", default="lidscope-out/signals")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", choices=("grokking", "classifiers"), help="run one part")
    ap.add_argument("--grok-runs", type=int, help="only the first N runs of the grokking plan (both halves)")
    ap.add_argument("--analyse-only", action="store_true", help="tables from the finished runs in OUT; run nothing")
    ap.add_argument("--extend-p97", type=int, metavar="STEPS",
                    help="continue the plan's p = 97 runs (censored at 600 steps) to STEPS in copies under "
                         "--extend-out and score the shipped FALL_RULE on them (resumable); nothing else runs")
    ap.add_argument("--extend-out", help="folder of the extended copies (default OUT/extended)")
    a = ap.parse_args(argv)
    from lidscope.threads import limit_threads

    limit_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {}
    if a.extend_p97:
        ext = Path(a.extend_out) if a.extend_out else out / "extended"
        return {"extended": extend_censored(out, ext, a.extend_p97, a.quick, a.analyse_only)}
    if a.only in (None, "grokking"):
        report["grokking"] = grokking(out, a.quick, a.grok_runs, a.analyse_only)
    if a.only in (None, "classifiers"):
        report["classifiers"] = classifiers(out, a.quick, a.analyse_only)
    (out / "signals.json").write_text(json.dumps(report, indent=1, default=str))
    return report


if __name__ == "__main__":
    main()
