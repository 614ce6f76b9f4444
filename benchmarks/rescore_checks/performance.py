"""Re-scoring of docs/performance.md (see benchmarks/rescore.py for the convention)."""

def readme_mean_content_order(block, data):
    _, rows = data("invariance/minilm-readme")
    new = next(r for r in rows if r["order"] == "content")
    old = next(r for r in rows if r["order"] == "text")
    block.expect("gives mean LID {} (fresh cache", new["mean"])
    block.expect("the same {} duplicates removed", new["duplicates_removed"])
    block.expect("another random draw of {} of the {} tokens", new["points"], new["tokens_kept"])
    block.expect("the current code gives {} again", old["mean"])


CHECKS = {"readme-mean-content-order": readme_mean_content_order, }

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
