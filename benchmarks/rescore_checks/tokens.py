"""Re-scoring of docs/tokens.md (see benchmarks/rescore.py for the convention)."""

CHECKS = {}

#: Tables whose raw per-run data was never kept (reviewed; printed by every rescore run).
HISTORICAL = {
    'by-class': 'raw per-run data not kept; re-run with the lidscope measure / tokens commands above',
    'by-frequency': 'raw per-run data not kept; re-run with the lidscope measure / tokens commands above',
    'fine-tuning-movers': 'raw per-run data not kept; re-run with the lidscope measure / tokens --compare commands above',
}

FIGURES = {}

HISTORICAL_FIGURES = {
    'figures/report-minilm-run0-map.png': 'data not kept; retake: they are screenshots of lidscope report pages of the runs on the page',
    'figures/report-minilm-run0-summary.png': 'data not kept; retake: they are screenshots of lidscope report pages of the runs on the page',
    'figures/report-minilm-run0-tokens.png': 'data not kept; retake: they are screenshots of lidscope report pages of the runs on the page',
    'figures/report-smollm2-ft-movers.png': 'data not kept; retake: they are screenshots of lidscope report pages of the runs on the page',
    'figures/report-smollm2-run0-map.png': 'data not kept; retake: they are screenshots of lidscope report pages of the runs on the page',
    'figures/report-smollm2-run0-tokens.png': 'data not kept; retake: they are screenshots of lidscope report pages of the runs on the page',
}
