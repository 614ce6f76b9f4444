"""Re-scoring of README.md (see benchmarks/rescore.py for the convention)."""

CHECKS = {}

#: Tables whose raw per-run data was never kept (reviewed; printed by every rescore run).
HISTORICAL = {
    'libraries': 'raw per-run data not kept; re-run with the benchmarks of docs/performance.md (the timings quoted here)',
}
