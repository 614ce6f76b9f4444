"""Re-scoring of docs/statistics.md (see benchmarks/rescore.py for the convention)."""

from rescore_checks.common import group, token_noise, wilson


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


CHECKS = {"paired-null": paired_null, "token-noise-nochange": token_noise_nochange, "token-noise-planning": token_noise_planning}

#: Tables whose raw per-run data was never kept (reviewed; printed by every rescore run).
HISTORICAL = {
    'calibration-nochange': 'raw per-run data not kept; re-run with python benchmarks/bench_calibration.py --parts nochange --threads 1 --out runs/calibration',
    'calibration-smollm2': 'raw per-run data not kept; re-run with the finetune_shift.py and bench_calibration.py --parts smollm2 commands above (about 1 h)',
    'calibration-change': 'raw per-run data not kept; re-run with python benchmarks/bench_calibration.py --parts change --threads 1 --out runs/calibration',
    'cost': 'raw per-run data not kept; re-run with python benchmarks/bench_calibration.py --parts cost (twice) and --parts costdefault',
    'noise-table': 'raw per-run data not kept; re-run with python benchmarks/bench_calibration.py --parts planning --planning-sizes 400x4000x12 --threads 1 --out runs/calibration',
}
