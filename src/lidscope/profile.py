"""Layer profile: the mean local dimension of every hidden layer against depth (``--layer all``).

A measurement with ``layers="all"`` (`lidscope.measure.measure`, ``lidscope measure --layer all``)
measures every hidden state the model returns with ``output_hidden_states=True`` -- index 0 the
embedding output, 1..n the output of each block -- from one forward pass per batch. `layer_profile`
reads its summary into a `LayerProfile`: per layer the mean with its replicate interval (none with
one replicate: the project's rule is that a shift without an interval is not a finding), and the
mid-depth peak that the literature reports (`find_peak`). docs/layers.md describes the rule.

This module only reads summaries and numbers: it knows no models and no estimators.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

#: `Peak.status` values.
INTERIOR_PEAK = "interior peak"
NO_INTERIOR_PEAK = "no interior peak"

#: The peak rule in one sentence (stored with every profile, printed under the table).
PEAK_RULE = ("peak = the layer with the largest mean; it is an interior peak when that layer is neither the "
             "first (embedding output) nor the last, else 'no interior peak'. An interior peak is 'separated' "
             "when its 95 % interval lies above the intervals of both neighbouring layers (no overlap), "
             "'overlapping' when it touches either, and has no such verdict without intervals (one replicate).")


@dataclass
class Peak:
    """Where the profile peaks (`find_peak`).

    Attributes:
        status: `INTERIOR_PEAK` or `NO_INTERIOR_PEAK`.
        layer: hidden-state index of the largest mean (None when no mean is finite).
        depth: its relative depth, layer / (number of hidden states - 1).
        separated: for an interior peak, whether its interval lies above both neighbours' intervals;
            None without intervals or without an interior peak.
        overlaps: neighbouring layers whose interval overlaps the peak's.
        reason: one sentence saying why.
    """

    status: str
    layer: int | None
    depth: float | None
    separated: bool | None
    overlaps: list[int] = field(default_factory=list)
    reason: str = ""

    @property
    def interior(self) -> bool:
        return self.status == INTERIOR_PEAK

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rule": PEAK_RULE}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Peak:
        return cls(d["status"], d.get("layer"), d.get("depth"), d.get("separated"), list(d.get("overlaps") or []),
                   d.get("reason", ""))


def _finite(x: Any) -> bool:
    return x is not None and isinstance(x, (int, float, np.floating, np.integer)) and math.isfinite(float(x))


def find_peak(layers: Sequence[int], means: Sequence[float], lows: Sequence[float] | None = None,
              highs: Sequence[float] | None = None) -> Peak:
    """The mid-depth peak of a profile, by `PEAK_RULE`.

    ``layers`` are hidden-state indices in depth order (0 first); ``means`` their mean LID;
    ``lows``/``highs`` the bounds of each mean's 95 % interval (NaN or None: no interval). Ties for
    the largest mean go to the shallowest layer. Non-finite means are ignored.
    """
    layers = [int(x) for x in layers]
    m = np.asarray([float(v) if _finite(v) else np.nan for v in means], dtype=np.float64)
    n = len(layers)
    if n != len(m):
        raise ValueError(f"{n} layers but {len(m)} means")
    if not np.isfinite(m).any():
        return Peak(NO_INTERIOR_PEAK, None, None, None, reason="no layer has a finite mean")
    k = int(np.nanargmax(m))
    top = max(layers) if layers else 0
    depth = layers[k] / top if top else 0.0
    if n < 3:
        return Peak(NO_INTERIOR_PEAK, layers[k], depth, None,
                    reason=f"{n} layer{'s' if n != 1 else ''}: no interior layer to peak at")
    if k in (0, n - 1):
        where = "first layer (embedding output)" if k == 0 else "last layer"
        return Peak(NO_INTERIOR_PEAK, layers[k], depth, None,
                    reason=f"the largest mean ({m[k]:.3f}) is at the {where}, layer {layers[k]}")
    lo = [float(v) if _finite(v) else math.nan for v in (lows or [math.nan] * n)]
    hi = [float(v) if _finite(v) else math.nan for v in (highs or [math.nan] * n)]
    known = all(math.isfinite(lo[j]) and math.isfinite(hi[j]) for j in (k - 1, k, k + 1))
    if not known:
        return Peak(INTERIOR_PEAK, layers[k], depth, None,
                    reason=f"largest mean {m[k]:.3f} at layer {layers[k]} (depth {depth:.2f}); no interval "
                           "(one replicate), so no verdict on its neighbours: --replicates 3 gives one")
    overlaps = [layers[j] for j in (k - 1, k + 1) if lo[k] <= hi[j]]
    if overlaps:
        reason = (f"largest mean {m[k]:.3f} at layer {layers[k]} (depth {depth:.2f}), 95 % interval "
                  f"{lo[k]:.3f} to {hi[k]:.3f}, overlapping the interval of layer "
                  + " and ".join(str(x) for x in overlaps))
    else:
        reason = (f"largest mean {m[k]:.3f} at layer {layers[k]} (depth {depth:.2f}), 95 % interval "
                  f"{lo[k]:.3f} to {hi[k]:.3f}, above both neighbours' intervals (layers {layers[k - 1]} "
                  f"and {layers[k + 1]})")
    return Peak(INTERIOR_PEAK, layers[k], depth, not overlaps, overlaps, reason)


@dataclass
class ProfileLayer:
    """One layer of a `LayerProfile` (hidden-state index ``layer``, its label in the summary)."""

    layer: int
    label: str
    mean: float
    low: float
    high: float
    n_replicates: int
    points: int
    duplicates_same_vector: int | None = None


@dataclass
class LayerProfile:
    """Mean LID per hidden layer in depth order, with intervals and the peak (`layer_profile`).

    Attributes:
        layers: one `ProfileLayer` per hidden state, shallowest first.
        peak: `find_peak` of the means and intervals.
        n_replicates: R (1: no interval was computed; `has_intervals` is then False).
        shared_points: points measured at every layer (the same token positions in every cloud).
    """

    layers: list[ProfileLayer]
    peak: Peak
    n_replicates: int
    shared_points: int | None = None

    @property
    def has_intervals(self) -> bool:
        return all(math.isfinite(x.low) and math.isfinite(x.high) for x in self.layers)

    @property
    def means(self) -> np.ndarray:
        return np.asarray([x.mean for x in self.layers], dtype=np.float64)

    @property
    def depths(self) -> list[int]:
        return [x.layer for x in self.layers]

    def interval_note(self) -> str:
        if self.has_intervals:
            return f"95 % intervals over {self.n_replicates} replicates (t-interval of the replicate means)"
        return ("no interval was computed (one replicate): a shift between layers is not a finding without one; "
                "--replicates 3 (Python: n_replicates=3) gives calibrated intervals")

    def to_dict(self) -> dict[str, Any]:
        return {"layers": [asdict(x) for x in self.layers], "peak": self.peak.to_dict(),
                "n_replicates": self.n_replicates, "shared_points": self.shared_points,
                "intervals": self.has_intervals, "interval_note": self.interval_note()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LayerProfile:
        layers = [ProfileLayer(**{**x, "low": _nan(x.get("low")), "high": _nan(x.get("high")),
                                  "mean": _nan(x.get("mean"))}) for x in d["layers"]]
        return cls(layers, Peak.from_dict(d["peak"]), int(d.get("n_replicates", 1)), d.get("shared_points"))

    def rows(self) -> list[dict[str, Any]]:
        """One row per layer: layer, depth, mean, low, high, peak (bool)."""
        top = max(self.depths) or 1
        return [{"layer": x.layer, "depth": x.layer / top, "mean": x.mean, "low": x.low, "high": x.high,
                 "n_replicates": x.n_replicates, "points": x.points,
                 "peak": self.peak.layer == x.layer and self.peak.interior} for x in self.layers]


def _nan(v: Any) -> float:
    return float(v) if _finite(v) else math.nan


def layer_index(label: str, n_hidden_states: int | None = None) -> int | None:
    """Hidden-state index of a layer label (``"3"``; ``"-1"`` with ``n_hidden_states`` known), or None
    (an averaged label such as ``mean(-2,-1)``)."""
    try:
        i = int(label)
    except (TypeError, ValueError):
        return None
    if i < 0:
        return i + n_hidden_states if n_hidden_states else None
    return i


def layer_profile(result: Any) -> LayerProfile:
    """The `LayerProfile` of a `lidscope.measure.MeasureResult` (or its ``summary`` dict, or a
    `lidscope.runs.Run`) that measured several single layers (``layers="all"`` measures all).

    Raises:
        lidscope.LIDInputError: the result holds averaged layers only, or layers with unknown depth.
    """
    from lidscope.errors import LIDInputError

    summary = result if isinstance(result, Mapping) else result.summary
    n = (summary.get("model") or {}).get("n_hidden_states")
    by_layer: dict[int, tuple[str, dict[str, Any]]] = {}
    for label, ls in (summary.get("layers") or {}).items():
        i = layer_index(label, n)
        if i is not None:
            by_layer[i] = (str(label), ls)
    if not by_layer:
        raise LIDInputError("this result has no single-layer measurement to draw a layer profile of "
                            "(measure with layers='all', or --layer all).")
    rows = []
    for i in sorted(by_layer):
        label, ls = by_layer[i]
        iv = ls.get("interval") or {}
        reps = int(ls.get("n_replicates", 1) or 1)
        known = reps > 1 and _finite(iv.get("low")) and _finite(iv.get("high"))
        rows.append(ProfileLayer(i, label, _nan(ls.get("mean")), _nan(iv.get("low")) if known else math.nan,
                                 _nan(iv.get("high")) if known else math.nan, reps,
                                 int((ls.get("cloud_counts") or {}).get("points", ls.get("n_points", 0)) or 0),
                                 (ls.get("cloud_counts") or {}).get("duplicates_same_vector")))
    peak = find_peak([r.layer for r in rows], [r.mean for r in rows], [r.low for r in rows], [r.high for r in rows])
    shared = (summary.get("profile") or {}).get("shared_points")
    return LayerProfile(rows, peak, max(r.n_replicates for r in rows), shared)


def profile_change(base: Any, other: Any) -> list[dict[str, Any]]:
    """Per layer, ``other`` against ``base`` (two `MeasureResult` s of the same data, e.g. from
    `lidscope.measure.compare`): the paired change of the mean with its 95 % interval and verdict
    (`lidscope.replicates.paired_comparison` of that layer; no interval with one replicate)."""
    from lidscope.replicates import paired_comparison

    pa, pb = layer_profile(base), layer_profile(other)
    labels_b = {x.layer: x.label for x in pb.layers}
    out = []
    for x in pa.layers:
        if x.layer not in labels_b:
            continue
        c = paired_comparison(base, other, x.label) if labels_b[x.layer] == x.label else None
        if c is None:
            continue
        d, r = c.difference, c.relative
        out.append({"layer": x.layer, "base_mean": x.mean, "change": d.estimate, "change_low": d.low,
                    "change_high": d.high, "relative_change": r.estimate, "relative_change_low": r.low,
                    "relative_change_high": r.high, "verdict": c.verdict, "comparison_method": c.method})
    return out


def profile_from_rows(rows: Sequence[Mapping[str, Any]]) -> LayerProfile:
    """The `LayerProfile` of results-store rows of one checkpoint and dataset (one row per layer: ``layer``,
    ``mean``, ``mean_low``, ``mean_high``, ``n_replicates``, ``n_points``; `lidscope.training.store`)."""
    by_layer = {}
    for r in rows:
        i = layer_index(str(r["layer"]))
        if i is not None:
            by_layer[i] = r
    out = []
    for i in sorted(by_layer):
        r = by_layer[i]
        reps = int(r.get("n_replicates") or 1) if _finite(r.get("n_replicates")) else 1
        known = reps > 1
        out.append(ProfileLayer(i, str(r["layer"]), _nan(r.get("mean")),
                                _nan(r.get("mean_low")) if known else math.nan,
                                _nan(r.get("mean_high")) if known else math.nan, reps,
                                int(r.get("n_points") or 0) if _finite(r.get("n_points")) else 0))
    peak = find_peak([x.layer for x in out], [x.mean for x in out], [x.low for x in out], [x.high for x in out])
    return LayerProfile(out, peak, max((x.n_replicates for x in out), default=1))


def store_profiles(frame: Any) -> dict[tuple[str, str], dict[int, LayerProfile]]:
    """``{(run, data_name): {step: LayerProfile}}`` from a results-store DataFrame (`ResultsStore.read`)
    holding several integer layers per checkpoint (a sweep with ``--layer all``)."""
    out: dict[tuple[str, str], dict[int, LayerProfile]] = {}
    if frame is None or len(frame) == 0:
        return out
    for (run, data_name, step), g in frame.groupby(["run", "data_name", "step"], sort=True):
        recs = g.to_dict("records")
        if sum(layer_index(str(r["layer"])) is not None for r in recs) >= 2:
            out.setdefault((str(run), str(data_name)), {})[int(step)] = profile_from_rows(recs)
    return out
