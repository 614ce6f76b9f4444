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


CHECKS = {"calibration-nochange": calibration_nochange,
          "calibration-nochange-coverage": calibration_nochange_coverage, "paired-null": paired_null, "token-noise-nochange": token_noise_nochange, "token-noise-planning": token_noise_planning}

#: Tables whose raw per-run data was never kept (reviewed; printed by every rescore run).
HISTORICAL = {
    'calibration-smollm2': 'raw per-run data not kept; re-run with the finetune_shift.py and bench_calibration.py --parts smollm2 commands above (about 1 h)',
    'calibration-change': 'raw per-run data not kept; re-run with python benchmarks/bench_calibration.py --parts change --threads 1 --out runs/calibration',
    'cost': 'raw per-run data not kept; re-run with python benchmarks/bench_calibration.py --parts cost (twice) and --parts costdefault',
    'noise-table': 'raw per-run data not kept; re-run with python benchmarks/bench_calibration.py --parts planning --planning-sizes 400x4000x12 --threads 1 --out runs/calibration',
}
