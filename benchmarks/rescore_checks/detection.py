"""Re-scoring of docs/detection.md (see benchmarks/rescore.py for the convention)."""

CHECKS = {}

#: Tables whose raw per-run data was never kept (reviewed; printed by every rescore run).
HISTORICAL = {
    'detect-timing': 'raw per-run data not kept; re-run with python benchmarks/bench_detect.py',
    'detect-auc': 'raw per-run data not kept; re-run with python benchmarks/bench_detect.py',
    'detect-sets': 'raw per-run data not kept; re-run with python benchmarks/bench_detect.py',
    'detect-shifts': 'raw per-run data not kept; re-run with python benchmarks/bench_detect.py',
}

FIGURES = {}

HISTORICAL_FIGURES = {
    'figures/detect-accuracy.png': 'data not kept; redraw with python benchmarks/bench_detect.py (about 70-80 min), which draws them',
    'figures/detect-roc-chitchat-epoch3.png': 'data not kept; redraw with python benchmarks/bench_detect.py (about 70-80 min), which draws them',
    'figures/detect-roc-lora-epoch3.png': 'data not kept; redraw with python benchmarks/bench_detect.py (about 70-80 min), which draws them',
    'figures/detect-roc-wikipedia-epoch3.png': 'data not kept; redraw with python benchmarks/bench_detect.py (about 70-80 min), which draws them',
}
