"""Size a run before paying for it: expected noise of a mean and of a paired shift.

The table holds replicate spreads measured on the bundled models (``benchmarks/bench_calibration.py``,
``docs/statistics.md``): the relative standard deviation of one replicate's mean LID, and of one
replicate's paired relative shift between a model and a changed copy (MiniLM after 20 masked-LM
steps; SmolLM2 after 300 fine-tuning steps). Between and beyond the measured sizes the noise is
interpolated as a power law in N fitted per model over its rows (rows of several datasets at one N
are averaged on a log scale; with a single N the slope is taken as -1/2, an assumption). The paired
shift's noise hardly fell from N = 2,000 to 4,000 on MiniLM (4.5 % to 4.3 %): part of it is real
variation of the shift between samples of sequences. The noise of R replicates is the table's
divided by sqrt(R).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from lidscope.stats.intervals import LEVEL
from lidscope.stats.verdict import POWER, smallest_detectable_change


@dataclass(frozen=True)
class NoiseRow:
    """One measured size: relative sd of one replicate's mean and of one paired relative shift."""

    model: str
    data: str
    n_sequences: int
    n_points: int
    replicates: int
    relative_sd_mean: float
    relative_sd_paired: float
    source: str


#: Measured on this project's machine; see docs/statistics.md for the commands.
NOISE_TABLE: tuple[NoiseRow, ...] = (
    NoiseRow("minilm", "chitchat:validation (pool of 3,000)", 200, 2000, 240, 0.1194, 0.0446,
             "benchmarks/bench_calibration.py --parts nochange,change (paired: 60 replicates against "
             "MiniLM after 20 masked-LM steps)"),
    NoiseRow("minilm", "chitchat:validation (pool of 3,000)", 400, 4000, 12, 0.0893, 0.0432,
             "benchmarks/bench_calibration.py --parts planning --planning-sizes 400x4000x12 (paired against "
             "MiniLM after 20 masked-LM steps)"),
    # three replicates each (2 degrees of freedom: each sd known to within a factor of about 2)
    NoiseRow("smollm2", "chitchat:validation", 600, 10000, 3, 0.0410, 0.0100,
             "benchmarks/bench_calibration.py --parts smollm2 (paired against step 300 of the "
             "reproductions.md full fine-tuning; max_length 64)"),
    NoiseRow("smollm2", "wikipedia:validation", 250, 10000, 3, 0.0120, 0.0229,
             "benchmarks/bench_calibration.py --parts smollm2 (as above)"),
    NoiseRow("smollm2", "bbc:validation (all 203 articles: token samples only)", 250, 10000, 3, 0.0096, 0.0066,
             "benchmarks/bench_calibration.py --parts smollm2 (as above)"),
)


def _fit(rows: list[NoiseRow], attr: str, n_points: int) -> float:
    n = np.array([r.n_points for r in rows], dtype=float)
    y = np.array([getattr(r, attr) for r in rows], dtype=float)
    if len(set(n)) < 2:
        slope = -0.5
        icept = float(np.mean(np.log(y) - slope * np.log(n)))
    else:
        slope, icept = np.polyfit(np.log(n), np.log(y), 1)
    return float(math.exp(icept + slope * math.log(n_points)))


def expected_noise(
    n_points: int, n_replicates: int = 1, *, model: str = "minilm", n_sequences: int | None = None,
    level: float = LEVEL, table: tuple[NoiseRow, ...] | None = None,
) -> dict[str, object]:
    """Expected relative standard error of the mean and of a paired shift, and the smallest paired
    shift a comparison would detect (``power`` 0.8, two-sided ``level``), for N points and R replicates.

    Args:
        n_points: N per replicate.
        n_replicates: R (the interval is then a t-interval with R - 1 degrees of freedom). With
            R = 1 a run reports no interval and no verdict (the bootstrap was withdrawn), so the
            smallest detectable shift is NaN; the standard errors still say how far one run may be off.
        model: a model of the table (``minilm``, ``smollm2``).
        n_sequences: M, recorded only (the table's M grows with N).

    Raises:
        ValueError: a model the table does not hold, or N / R below 1.
    """
    table = NOISE_TABLE if table is None else table
    rows = [r for r in table if r.model == model]
    if not rows:
        raise ValueError(f"no measured noise for model {model!r}; the table holds "
                         f"{sorted({r.model for r in table})}.")
    if n_points < 1 or n_replicates < 1:
        raise ValueError("n_points and n_replicates must be >= 1.")
    sd_mean = _fit(rows, "relative_sd_mean", n_points)
    sd_pair = _fit(rows, "relative_sd_paired", n_points)
    se_mean, se_pair = sd_mean / math.sqrt(n_replicates), sd_pair / math.sqrt(n_replicates)
    sizes = sorted(r.n_points for r in rows)
    detectable = (smallest_detectable_change(se_pair, n_replicates - 1, level, POWER) if n_replicates > 1
                  else math.nan)  # one replicate: no interval, no verdict
    return {
        "model": model, "n_points": n_points, "n_sequences": n_sequences, "n_replicates": n_replicates,
        "relative_se_mean": se_mean, "relative_se_paired_shift": se_pair,
        "smallest_detectable_shift": detectable,
        "extrapolated": not sizes[0] <= n_points <= sizes[-1],
        "rows": [asdict(r) for r in rows],
    }
