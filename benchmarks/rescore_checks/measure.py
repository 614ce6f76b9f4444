"""Re-scoring of docs/measure.md (see benchmarks/rescore.py for the convention)."""



def batch_invariance(block, data):
    _, rows = data("invariance/smollm2")
    r0 = {r["run"]: r for r in rows if r["replicate"] == 0}
    a, b, u = r0["bs1"], r0["bs64"], r0["r3"]
    block.expect("batch size 1 gives mean {} with {} duplicates removed ({} same context, {} same vector)",
                 a["mean"], a["duplicates_removed"], a["duplicates_same_context"], a["duplicates_same_vector"])
    block.expect("batch size 64 gives {} with {} removed: a relative difference of {}e-7",
                 b["mean"], b["duplicates_removed"], round(1e7 * abs(a["mean"] / b["mean"] - 1)))
    block.expect("gives {} with {} removed, {}e-8 from the standalone run", u["mean"], u["duplicates_removed"],
                 round(1e8 * abs(u["mean"] / b["mean"] - 1)))


CHECKS = {"batch-invariance": batch_invariance}

#: Tables whose raw per-run data was never kept (reviewed; printed by every rescore run).
HISTORICAL = {
    'quick-defaults-m-n': 'raw per-run data not kept; re-run with lidscope measure -M 4000 / 10000 with -N 24000, 40000, 60000 (MiniLM, chit-chat validation)',
    'extraction-speed': 'raw per-run data not kept; re-run with python benchmarks/bench_extraction.py',
    'end-to-end': 'raw per-run data not kept; re-run with python benchmarks/bench_extraction.py and lidscope measure --paper',
}
