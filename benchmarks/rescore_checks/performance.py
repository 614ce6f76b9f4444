"""Re-scoring of docs/performance.md (see benchmarks/rescore.py for the convention)."""

CHECKS = {}

#: Tables whose raw per-run data was never kept (reviewed; printed by every rescore run).
HISTORICAL = {
    'local-paths': 'raw per-run data not kept; re-run with python benchmarks/bench_local.py --n 50000 --paths search,search-sym,ours,skdim --repeat 2',
    'local-targets': 'raw per-run data not kept; re-run with python benchmarks/bench_local.py --n 50000 --paths search,search-sym,ours,skdim --repeat 2',
    'lpca-threads': 'raw per-run data not kept; re-run with nice -n 10 python benchmarks/bench_lpca.py',
    'contention-quiet': 'raw per-run data not kept; re-run with python benchmarks/bench_contention.py --quick',
    'contention-busy': 'raw per-run data not kept; re-run with python benchmarks/bench_contention.py --quick',
    'grokking-threads': 'raw per-run data not kept; re-run with the grokking timing above',
    'openblas-settings': 'raw per-run data not kept; re-run with the local-PCA timing above',
}
