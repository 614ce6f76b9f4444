"""Re-scoring of docs/tokens.md (see benchmarks/rescore.py for the convention)."""

def fine_tuning_movers_quick(block, data):
    """The class table of the quick SmolLM2 fine-tune: change [interval over sequences] per layer."""
    _, rows = data("tokens/smollm2-quick-movers")
    for r in rows:
        if r["by"] != "class":
            continue
        col = "layer 16" if r["layer"] == "16" else "last layer"
        block.cell(f"{r['group']} (", col).numbers(r["diff"], r["lo"], r["hi"])
        block.cell(f"{r['group']} (", "class").numbers(r["count"])


CHECKS = {"fine-tuning-movers-quick": fine_tuning_movers_quick}

#: Tables whose raw per-run data was never kept (reviewed; printed by every rescore run).
HISTORICAL = {
    'by-class': 'raw per-run data not kept; re-run with the lidscope measure / tokens commands above',
    'by-frequency': 'raw per-run data not kept; re-run with the lidscope measure / tokens commands above',
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
