"""Re-scoring of docs/signals-preregistration-2.md (see benchmarks/rescore.py for the convention)."""


def _span(cell, values, decimals):
    """A cell written as 'lo-hi', or one number when both ends round alike."""
    lo, hi = min(values), max(values)
    if round(lo, decimals) == round(hi, decimals):
        cell.numbers(lo)
    else:
        cell.numbers(lo, hi)


def cost_2(block, data):
    """Training step, evaluation and persistent-homology CPU seconds per prime (study_signals_cost.py)."""
    _, rows = data("signals2/cost")
    for i, p in enumerate(sorted({r["prime"] for r in rows})):
        mine = [r for r in rows if r["prime"] == p]
        block.cell(i, 0).numbers(p)
        block.cell(i, 1).numbers(next(r["cpu_s"] for r in mine if r["kind"] == "train_step"))
        _span(block.cell(i, 2), [r["cpu_s"] for r in mine if r["kind"] == "eval_lid"], 2)
        _span(block.cell(i, 3), [r["cpu_s"] for r in mine if r["kind"] == "eval_all"], 1 if p != 97 else 2)
        ph = sorted((r["ph_points"], r["cpu_s"]) for r in mine if r.get("descriptor") == "persistence")
        block.cell(i, 4).numbers(*[v for k, v in ph])


CHECKS = {"cost-2": cost_2}
HISTORICAL = {}
FIGURES = {}
HISTORICAL_FIGURES = {}
