"""Re-scoring of docs/statistics.md (see benchmarks/rescore.py for the convention)."""

from rescore_checks.common import token_noise


def token_noise_nochange(block, data):
    block.expect("moved MiniLM's mean by {} % at M = {}, N = {} (sd over {} token seeds)",
                 token_noise(data)[500, 5000], 500, 5000, 5)


def token_noise_planning(block, data):
    rel = token_noise(data)
    block.expect("moved MiniLM's mean by {} % at M = {}, N = {} and {} % at M = {}, N = {}",
                 rel[500, 5000], 500, 5000, rel[1000, 10000], 1000, 10000)


CHECKS = {"token-noise-nochange": token_noise_nochange, "token-noise-planning": token_noise_planning}

#: Tables whose raw per-run data was never kept (reviewed; printed by every rescore run).
HISTORICAL = {
    'calibration-nochange': 'raw per-run data not kept; re-run with python benchmarks/bench_calibration.py --parts nochange --threads 1 --out runs/calibration',
    'calibration-smollm2': 'raw per-run data not kept; re-run with the finetune_shift.py and bench_calibration.py --parts smollm2 commands above (about 1 h)',
    'calibration-change': 'raw per-run data not kept; re-run with python benchmarks/bench_calibration.py --parts change --threads 1 --out runs/calibration',
    'cost': 'raw per-run data not kept; re-run with python benchmarks/bench_calibration.py --parts cost (twice) and --parts costdefault',
    'noise-table': 'raw per-run data not kept; re-run with python benchmarks/bench_calibration.py --parts planning --planning-sizes 400x4000x12 --threads 1 --out runs/calibration',
}
