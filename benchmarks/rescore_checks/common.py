"""Small statistics shared by the check modules (numbers as the docs compute them)."""

from __future__ import annotations

import math
import statistics


def mean(xs) -> float:
    return statistics.fmean(xs)


def sd(xs) -> float:
    """Sample standard deviation (n - 1)."""
    return statistics.stdev(xs)


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson 95 % interval of a proportion k / n."""
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return c - h, c + h


def group(rows, *keys) -> dict:
    """Rows grouped by the tuple of ``keys`` (insertion order kept)."""
    out: dict = {}
    for r in rows:
        out.setdefault(tuple(r[k] for k in keys), []).append(r)
    return out


def token_noise(data) -> dict:
    """{(M, N): relative sd (%) of the mean over token seeds} from benchmarks/bench_noise.py's rows."""
    _, rows = data("noise/token-seeds")
    out = {}
    for key, rs in group(rows, "M", "N").items():
        x = [r["mean"] for r in rs]
        out[key] = 100 * sd(x) / mean(x)
    return out
