"""Re-scoring of docs/statistics.md (see benchmarks/rescore.py for the convention)."""

import math

from rescore_checks.common import group, mean, sd, token_noise, wilson

Z95 = 1.959964  # the normal 97.5 % quantile (the bootstrap intervals are normal intervals)


def _nochange(data):
    meta, rows = data("calibration/nochange")
    reps = sorted((r for r in rows if r["kind"] == "replicate"), key=lambda r: r["index"])
    trials = [r for r in rows if r["kind"] == "welch-trial"]
    return meta, reps, trials


def _rms(xs):
    return math.sqrt(sum(x * x for x in xs) / len(xs))


def _boot_hits(reps, factor=1.0):
    """Pairs (0, 1), (2, 3), ... of single replicates: the bootstrap interval of the difference holds 0."""
    return [abs(b["mean"] - a["mean"]) <= Z95 * factor * math.hypot(a["bootstrap_se"], b["bootstrap_se"])
            for a, b in zip(reps[::2], reps[1::2])]


def calibration_nochange(block, data):
    meta, reps, _ = _nochange(data)
    m = [r["mean"] for r in reps]
    se = [r["bootstrap_se"] for r in reps]
    k, half = len(reps), len(reps) // 2
    block.cell("mean over", "quantity").numbers(k)
    block.cell("mean over", "value").numbers(mean(m))
    block.cell("sd of one replicate's mean", "value").numbers(sd(m), 100 * sd(m) / mean(m))
    block.cell("bootstrap se of one", "quantity").numbers(k)
    block.cell("bootstrap se of one", "value").numbers(_rms(se), 100 * _rms(se) / mean(m))
    block.cell("sd / bootstrap se", "value").numbers(sd(m[:half]) / _rms(se[:half]), half,
                                                    sd(m[half:]) / _rms(se[half:]), k - half)


def calibration_nochange_coverage(block, data):
    meta, reps, trials = _nochange(data)
    m, se = [r["mean"] for r in reps], [r["bootstrap_se"] for r in reps]
    half = len(reps) // 2
    n, hits = len(trials), sum(t["contains_0"] for t in trials)
    lo, hi = wilson(hits, n)
    block.expect("R = {} per side", len(trials[0]["replicates"]) // 2)
    block.expect("{} trials on disjoint replicates): contains 0 in {} of {} trials ({} %; Wilson 95 % "
                 "interval of the coverage {}-{} %)", n, hits, n, 100 * hits / n, 100 * lo, 100 * hi)
    raw = _boot_hits(reps)
    lo, hi = wilson(sum(raw), len(raw))
    block.expect("se's, {} trials): contains 0 in {} of {} ({} %, {}-{} %)", len(raw), sum(raw), len(raw),
                 100 * sum(raw) / len(raw), 100 * lo, 100 * hi)
    factor = sd(m[:half]) / _rms(se[:half])
    wide = _boot_hits(reps[half:], factor)
    block.expect("Widened by the factor chosen on the first {} replicates ({}), it covers {} of {} trials "
                 "on the other {} ({} %)", half, factor, sum(wide), len(wide), len(reps) - half,
                 100 * sum(wide) / len(wide))


def token_noise_nochange(block, data):
    block.expect("moved MiniLM's mean by {} % at M = {}, N = {} (sd over {} token seeds)",
                 token_noise(data)[500, 5000], 500, 5000, 5)


def token_noise_planning(block, data):
    rel = token_noise(data)
    block.expect("moved MiniLM's mean by {} % at M = {}, N = {} and {} % at M = {}, N = {}",
                 rel[500, 5000], 500, 5000, rel[1000, 10000], 1000, 10000)


def _change(data):
    _, rows = data("calibration/change")
    kinds = group(rows, "kind")
    return {k[0]: v for k, v in kinds.items()}


def _corr(x, y):
    mx, my = mean(x), mean(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    return sxy / math.sqrt(sum((a - mx) ** 2 for a in x) * sum((b - my) ** 2 for b in y))


def calibration_change(block, data):
    k = _change(data)
    reps = sorted(k["replicate"], key=lambda r: r["index"])
    mb, mo = [r["base_mean"] for r in reps], [r["other_mean"] for r in reps]
    rel = [100 * (o - b) / b for b, o in zip(mb, mo)]
    held = [x for x, r in zip(rel, reps) if r["held_out"]]
    used = [x for x, r in zip(rel, reps) if not r["held_out"]]
    truth = block.cell("true relative shift", "value")
    block.cell("true relative shift", "quantity").numbers(len(held))
    truth.numbers(mean(held), sd(held) / math.sqrt(len(held)))
    block.cell("sd of one replicate's paired", "value").numbers(
        sd(rel), 100 * sd(mb) / mean(mb), 100 * sd(mo) / mean(mo), _corr(mb, mo))
    second_half = {w["index"] for w in k["bootstrap-widened"]}  # the bootstrap se is judged there
    rms = _rms([100 * b["relative_se"] for b in k["bootstrap"] if b["index"] in second_half])
    block.cell("paired bootstrap se", "value").numbers(rms, sd(used) / rms)
    trials = k["replicate-trial"]
    hits = sum(t["contains_truth"] for t in trials)
    lo, hi = wilson(hits, len(trials))
    lower = sum(t["verdict"] == "lower than base" for t in trials)
    cell = block.cell("paired replicate interval", "value")
    cell.numbers(hits, len(trials), 100 * hits / len(trials), 100 * lo, 100 * hi, lower, len(trials),
                 100 * lower / len(trials))
    if any(t["verdict"] == "higher than base" for t in trials):
        block.report.fail(block.where, "a replicate trial said 'higher than base'")
    block.cell("paired replicate interval", "quantity").numbers(len(trials[0]["replicates"]))
    b = k["bootstrap"]
    h = sum(r["contains_truth"] for r in b)
    lo, hi = wilson(h, len(b))
    block.cell("paired bootstrap, one replicate", "value").numbers(h, len(b), 100 * h / len(b), 100 * lo, 100 * hi)
    w = k["bootstrap-widened"]
    h = sum(r["contains_truth"] for r in w)
    lo, hi = wilson(h, len(w))
    block.cell("paired bootstrap widened", "quantity").numbers(w[0]["factor"])
    block.cell("paired bootstrap widened", "value").numbers(h, len(w), 100 * h / len(w), 100 * lo, 100 * hi)


def noise_table(block, data):
    _, reps, _ = _nochange(data)
    m = [r["mean"] for r in reps]
    k = _change(data)
    ch = sorted(k["replicate"], key=lambda r: r["index"])
    rel = [(r["other_mean"] - r["base_mean"]) / r["base_mean"] for r in ch]
    row = block.rows.index(next(r for r in block.rows if r[2] == "200"))
    block.cell(row, "replicates").numbers(len(reps), len(ch))
    block.cell(row, "N").numbers(2000)
    block.cell(row, "of one replicate's mean").numbers(100 * sd(m) / mean(m))
    block.cell(row, "paired relative shift").numbers(100 * sd(rel), 20)
    _, plan = data("calibration/planning")
    for (mm, n), rs in group(plan, "M", "N").items():
        row = block.rows.index(next(r for r in block.rows if r[2] == f"{mm:,}" and r[0] == "MiniLM"))
        b, o = [r["base_mean"] for r in rs], [r["other_mean"] for r in rs]
        rel = [(y - x) / x for x, y in zip(b, o)]
        block.cell(row, "N").numbers(n)
        block.cell(row, "replicates").numbers(len(rs))
        block.cell(row, "of one replicate's mean").numbers(100 * sd(b) / mean(b))
        block.cell(row, "paired relative shift").numbers(100 * sd(rel), 20, 100 * mean(rel))
        block.cell(row, "load").expect("re-run {}, {} s + {} s", None, *rs[0]["seconds"])


def paired_null(block, data):
    _, rows = data("calibration/paired-null")
    nulls = group(rows, "null")
    for label, key in (("same model, two names", ("two names",)), ("saved and reloaded copy", ("saved and reloaded",)),
                       ("both", None)):
        rs = rows if key is None else nulls[key]
        n, k = len(rs), sum(r["contains_0"] for r in rs)
        lo, hi = wilson(k, n)
        block.cell(label, "trials").numbers(n)
        block.cell(label, "interval contains 0").numbers(k, 100 * k / n)
        block.cell(label, "Wilson").numbers(100 * lo, 100 * hi)
        block.cell(label, "identical").numbers(sum(r["base_means"] == r["other_means"] for r in rs), n)
        verdicts = {r["verdict"] for r in rs}
        if key is None:
            block.cell(label, "verdict").expect_text('never "lower" or "higher"')
            if verdicts & {"lower than base", "higher than base"}:
                block.report.fail(block.where, f"a verdict other than no change in the data: {verdicts}")
        else:
            block.cell(label, "verdict").expect('"no detectable change" in {}',
                                                sum(r["verdict"] == "no detectable change" for r in rs))


CHECKS = {"calibration-nochange": calibration_nochange, "calibration-change": calibration_change,
          "noise-table": noise_table,
          "calibration-nochange-coverage": calibration_nochange_coverage, "paired-null": paired_null, "token-noise-nochange": token_noise_nochange, "token-noise-planning": token_noise_planning}

#: Tables whose raw per-run data was never kept (reviewed; printed by every rescore run).
HISTORICAL = {
    'calibration-smollm2': 'raw per-run data not kept; re-run with the finetune_shift.py and bench_calibration.py --parts smollm2 commands above (about 1 h)',
    'cost': 'raw per-run data not kept; re-run with python benchmarks/bench_calibration.py --parts cost (twice) and --parts costdefault',
    'noise-table/SmolLM2 rows': 'raw per-run data not kept; re-run with the finetune_shift.py and bench_calibration.py --parts smollm2 commands of the page (about 1 h)',
}
