"""Re-scoring of docs/grokking.md (see benchmarks/rescore.py for the convention)."""

CHECKS = {}

#: Tables whose raw per-run data was never kept (reviewed; printed by every rescore run).
HISTORICAL = {
    'grokking-fractions': 'raw per-run data not kept; re-run with the `lidscope grokking` commands above',
    'grokking-f015-8000': 'raw per-run data not kept; re-run with the `lidscope grokking` commands above',
    'grokking-f03-accuracy': 'raw per-run data not kept; re-run with the `lidscope grokking` commands above',
    'grokking-cost': 'raw per-run data not kept; re-run with the `lidscope grokking` commands above',
}

FIGURES = {}

HISTORICAL_FIGURES = {
    'figures/grokking-p97-add-f0.15-4000.png': 'data not kept; redraw with the lidscope grokking / grokking-sweep commands of the page',
    'figures/grokking-p97-add-f0.15-8000.png': 'data not kept; redraw with the lidscope grokking / grokking-sweep commands of the page',
    'figures/grokking-p97-add-f0.3-seed1.png': 'data not kept; redraw with the lidscope grokking / grokking-sweep commands of the page',
    'figures/grokking-p97-add-f0.3-wd0.png': 'data not kept; redraw with the lidscope grokking / grokking-sweep commands of the page',
    'figures/grokking-p97-add-f0.3.png': 'data not kept; redraw with the lidscope grokking / grokking-sweep commands of the page',
    'figures/grokking-sweep-p97-add.png': 'data not kept; redraw with the lidscope grokking / grokking-sweep commands of the page',
}
