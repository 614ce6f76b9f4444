"""Re-scoring of docs/signals.md (see benchmarks/rescore.py for the convention)."""

CHECKS = {}

#: Tables whose raw per-run data was never kept (reviewed; printed by every rescore run).
HISTORICAL = {
    'study-cost': 'raw per-run data not kept; re-run with python benchmarks/bench_signals.py --out runs/signals (about 21 CPU-minutes, resumable), then --analyse-only',
    'run-cost': 'raw per-run data not kept; re-run with python benchmarks/bench_signals.py --out runs/signals (about 21 CPU-minutes, resumable), then --analyse-only',
    'grokking-runs': 'raw per-run data not kept; re-run with python benchmarks/bench_signals.py --out runs/signals (about 21 CPU-minutes, resumable), then --analyse-only',
    'grokking-rules': 'raw per-run data not kept; re-run with python benchmarks/bench_signals.py --out runs/signals (about 21 CPU-minutes, resumable), then --analyse-only',
    'grokking-extended': 'raw per-run data not kept; re-run with python benchmarks/bench_signals.py --out runs/signals --extend-p97 2400 --extend-out runs/signals-extended',
    'overfit-seeds': 'raw per-run data not kept; re-run with nice -n 10 python benchmarks/bench_signals.py --only classifiers --out runs/signals',
    'plateau-runs': 'raw per-run data not kept; re-run with nice -n 10 python benchmarks/bench_signals.py --only classifiers --out runs/signals',
    'plateau-rules': 'raw per-run data not kept; re-run with nice -n 10 python benchmarks/bench_signals.py --only classifiers --out runs/signals',
}

FIGURES = {}

HISTORICAL_FIGURES = {
    'figures/signals-classifiers.png': "data not kept; redraw with python benchmarks/bench_signals.py --analyse-only on the study's runs",
    'figures/signals-grokking-extended.png': "data not kept; redraw with python benchmarks/bench_signals.py --analyse-only on the study's runs",
    'figures/signals-grokking.png': "data not kept; redraw with python benchmarks/bench_signals.py --analyse-only on the study's runs",
}
