"""Re-scoring of docs/reproductions.md (see benchmarks/rescore.py for the convention)."""

from rescore_checks.common import group, mean, sd


def noise_of_the_mean(block, data):
    _, rows = data("noise/token-seeds")
    for (m, n), rs in group(rows, "M", "N").items():
        x = [r["mean"] for r in rs]
        row = f"{m:,}"
        block.cell(row, "N").numbers(n)
        block.cell(row, "mean over seeds").numbers(mean(x))
        block.cell(row, "sd over seeds").numbers(sd(x))
        block.cell(row, "relative").numbers(100 * sd(x) / mean(x))


CHECKS = {"noise-of-the-mean": noise_of_the_mean}

#: Tables whose raw per-run data was never kept (reviewed; printed by every rescore run).
HISTORICAL = {
    'findings-summary': 'raw per-run data not kept; re-run with the runs of the sections below',
    'overfit-50ep': 'raw per-run data not kept; re-run with the classifier_lid.py --mode overfit command above',
    'exhausted-12ep': 'raw per-run data not kept; re-run with python examples/classifier_lid.py --mode exhausted --epochs 12 --threads 1 --out runs/exhausted-12ep (15 min)',
    'smollm2-full': 'raw per-run data not kept; re-run with the finetune_shift.py and sweep commands above (about 1 h)',
    'smollm2-five-seeds': 'raw per-run data not kept; re-run with the finetune_shift.py and sweep commands above',
    'smollm2-lora': 'raw per-run data not kept; re-run with the finetune_shift.py --lora command above',
    'minilm-mlm': 'raw per-run data not kept; re-run with the finetune_shift.py --model minilm command above',
    'plateau-rules': 'raw per-run data not kept; re-run with the sweeps above',
}

FIGURES = {}

HISTORICAL_FIGURES = {
    'figures/training-exhausted-12ep.png': 'data not kept; redraw with the examples/classifier_lid.py / finetune_shift.py runs and lidscope plot of the page',
    'figures/training-exhausted.png': 'data not kept; redraw with the examples/classifier_lid.py / finetune_shift.py runs and lidscope plot of the page',
    'figures/training-minilm-mlm-violins.png': 'data not kept; redraw with the examples/classifier_lid.py / finetune_shift.py runs and lidscope plot of the page',
    'figures/training-minilm-mlm.png': 'data not kept; redraw with the examples/classifier_lid.py / finetune_shift.py runs and lidscope plot of the page',
    'figures/training-overfit-4pc.png': 'data not kept; redraw with the examples/classifier_lid.py / finetune_shift.py runs and lidscope plot of the page',
    'figures/training-overfit-50ep.png': 'data not kept; redraw with the examples/classifier_lid.py / finetune_shift.py runs and lidscope plot of the page',
    'figures/training-overfit.png': 'data not kept; redraw with the examples/classifier_lid.py / finetune_shift.py runs and lidscope plot of the page',
    'figures/training-smollm2-full-violins.png': 'data not kept; redraw with the examples/classifier_lid.py / finetune_shift.py runs and lidscope plot of the page',
    'figures/training-smollm2-full.png': 'data not kept; redraw with the examples/classifier_lid.py / finetune_shift.py runs and lidscope plot of the page',
    'figures/training-smollm2-lora-violins.png': 'data not kept; redraw with the examples/classifier_lid.py / finetune_shift.py runs and lidscope plot of the page',
    'figures/training-smollm2-lora.png': 'data not kept; redraw with the examples/classifier_lid.py / finetune_shift.py runs and lidscope plot of the page',
}
