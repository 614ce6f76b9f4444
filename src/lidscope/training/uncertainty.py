"""Noise of LID over training: how sure is a change between two checkpoints of one run?

Every checkpoint of a sweep (and every round of the callback or monitor) is measured on the same
sequences and the same token sample, so two steps are a *paired* comparison: with R > 1 the
per-replicate differences are averaged (t-interval); with R = 1 there is no calibrated interval
(the paired bootstrap was measured 7x too narrow, docs/statistics.md): the change is given with no
interval and no verdict. `step_changes` gives every step
against a base step with its interval and verdict; `relative_noise` one relative noise level for a
whole series (times the series' level, it is the absolute ``noise=`` that `lidscope.training.signals`
takes).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from lidscope.training.store import ResultsStore, StoreError


def relative_noise(rows: Any) -> float:
    """Median relative standard error of the mean (``mean_se / mean``, dimensionless) over store rows;
    ``nan`` when the rows carry no interval (stored before lidscope recorded one). Not the same as
    `lidscope.training.signals.series_noise`, which is an absolute SD estimated from the values."""
    if "mean_se" not in rows or rows["mean_se"].isna().all():
        return float("nan")
    rel = (rows["mean_se"].astype(float) / rows["mean"].astype(float)).to_numpy()
    rel = rel[np.isfinite(rel)]
    return float(np.median(rel)) if rel.size else float("nan")


def compare_steps(store: str | Any, base_row: Any, row: Any) -> Any:
    """`lidscope.stats.Comparison` of two store rows (same run, data and layer): ``row`` against ``base_row``.

    Paired when both were measured on the same sequences (equal data fingerprint and settings);
    otherwise unpaired (Welch on replicates, or the two stored standard errors combined).
    """
    from lidscope.stats import compare_replicates
    from lidscope.stats.intervals import Interval
    from lidscope.stats.verdict import Comparison, smallest_detectable_change, verdict

    paired = (base_row.get("data_fingerprint") == row.get("data_fingerprint")
              and base_row.get("settings_id") == row.get("settings_id"))
    ra = json.loads(base_row["replicate_means"]) if isinstance(base_row.get("replicate_means"), str) else []
    rb = json.loads(row["replicate_means"]) if isinstance(row.get("replicate_means"), str) else []
    if len(ra) > 1 and len(rb) > 1:
        return compare_replicates(ra, rb, paired=paired and len(ra) == len(rb))
    if len(ra) <= 1 and len(rb) <= 1:  # one replicate each: no calibrated interval (docs/statistics.md)
        from lidscope.replicates import one_replicate_comparison

        return one_replicate_comparison(float(base_row["mean"]), float(row["mean"]), paired)
    a, b = float(base_row["mean"]), float(row["mean"])
    se = math.hypot(float(base_row.get("mean_se") or math.nan), float(row.get("mean_se") or math.nan))
    z = 1.959963984540054
    d = b - a
    nan = math.nan
    diff = Interval(d, se, d - z * se, d + z * se, method="unpaired", n=1, df=math.inf)
    rel = Interval(d / a, se / a, (d - z * se) / a, (d + z * se) / a, method="unpaired", n=1, df=math.inf)
    det = smallest_detectable_change(se)
    return Comparison(Interval(a, nan, nan, nan), Interval(b, nan, nan, nan), diff, rel, verdict(diff), det,
                      det / abs(a), "unpaired")


def step_changes(store: str | Any, *, data: str | None = None, run: str | None = None, layer: str = "-1",
                 base_step: int | None = None) -> Any:
    """Every step of one run and dataset against ``base_step`` (default: the first), as a DataFrame:
    ``step``, ``mean``, ``change``, ``relative_change`` with 95 % bounds, ``verdict``,
    ``smallest_detectable_change`` (relative) and ``method``.

    Raises:
        StoreError: empty store, or an ambiguous run / dataset (name it).
    """
    import pandas as pd

    st = store if isinstance(store, ResultsStore) else ResultsStore(store)
    df = st.read(require=True)
    df = df[df["layer"] == layer]
    for col, want in (("run", run), ("data", data)):
        vals = sorted(set(df[col]))
        if want is None:
            if len(vals) != 1:
                raise StoreError(f"the store holds several {col}s ({', '.join(map(str, vals))}): pass {col}=...")
            want = vals[0]
        df = df[df[col] == want]
        if df.empty:
            raise StoreError(f"no rows for {col} {want!r} (layer {layer}); the store holds {vals}.")
    df = df.sort_values("step")
    base = df.iloc[0] if base_step is None else df[df["step"] == base_step].iloc[0]
    out = []
    for _, row in df.iterrows():
        if row["step"] == base["step"]:
            continue
        c = compare_steps(st, base, row)
        out.append({"step": int(row["step"]), "base_step": int(base["step"]), "mean": float(row["mean"]),
                    "change": c.difference.estimate, "change_low": c.difference.low, "change_high": c.difference.high,
                    "relative_change": c.relative.estimate, "relative_change_low": c.relative.low,
                    "relative_change_high": c.relative.high, "verdict": c.verdict,
                    "smallest_detectable_change": c.detectable_relative, "method": c.method})
    return pd.DataFrame(out)
