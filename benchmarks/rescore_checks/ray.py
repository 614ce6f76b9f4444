"""Re-scoring of docs/ray.md (see benchmarks/rescore.py for the convention)."""

CHECKS = {}

#: Tables whose raw per-run data was never kept (reviewed; printed by every rescore run).
HISTORICAL = {
    'ray-scaling': 'raw per-run data not kept; re-run with python benchmarks/bench_ray.py',
}
