"""Re-scoring of docs/measure.md (see benchmarks/rescore.py for the convention)."""

CHECKS = {}

#: Tables whose raw per-run data was never kept (reviewed; printed by every rescore run).
HISTORICAL = {
    'quick-defaults-m-n': 'raw per-run data not kept; re-run with lidscope measure -M 4000 / 10000 with -N 24000, 40000, 60000 (MiniLM, chit-chat validation)',
    'extraction-speed': 'raw per-run data not kept; re-run with python benchmarks/bench_extraction.py',
    'end-to-end': 'raw per-run data not kept; re-run with python benchmarks/bench_extraction.py and lidscope measure --paper',
}
