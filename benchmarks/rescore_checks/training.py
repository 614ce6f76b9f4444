"""Re-scoring of docs/training.md (see benchmarks/rescore.py for the convention)."""

from rescore_checks.common import token_noise


def noise(block, data):
    rel = token_noise(data)
    block.expect("by {} % (sd over {} seeds, M = {}, N = {}) and {} % (M = {}, N = {}",
                 rel[500, 5000], 5, 500, 5000, rel[1000, 10000], 1000, 10000)


CHECKS = {"token-noise": noise}
HISTORICAL = {}
