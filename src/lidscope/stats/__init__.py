"""Uncertainty of mean local dimensions: replicate intervals, the cluster bootstrap over sequences,
paired differences, a plain verdict, and noise planning. Pure NumPy; knows nothing of models.

See ``docs/statistics.md`` for what each interval holds fixed and how calibrated it was measured to be.
"""

from lidscope.stats.bootstrap import N_BOOT, cluster_bootstrap, paired_cluster_bootstrap
from lidscope.stats.intervals import (LEVEL, Interval, paired_difference, replicate_interval, t_interval,
                                      t_quantile, welch_difference)
from lidscope.stats.verdict import (HIGHER, LOWER, SAME, UNKNOWN, Comparison, compare_bootstrap,
                                    compare_replicates, smallest_detectable_change, verdict)

__all__ = [
    "HIGHER", "LEVEL", "LOWER", "N_BOOT", "SAME", "UNKNOWN", "Comparison", "Interval", "cluster_bootstrap",
    "compare_bootstrap", "compare_replicates", "paired_cluster_bootstrap", "paired_difference",
    "replicate_interval", "smallest_detectable_change", "t_interval", "t_quantile", "verdict",
    "welch_difference",
]
