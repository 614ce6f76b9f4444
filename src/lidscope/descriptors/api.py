"""``lidscope.geometry``: every requested descriptor of one cloud, from one neighbour search."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from ..errors import LIDInputError
from ..neighbors import kneighbors
from ..settings import (GEOMETRY_METRICS, GRIDE_MAX_RANK, OVERLAP_NEIGHBORS, PH_LONG_LIVED_RATIO, PH_N_POINTS,
                        SCALE_PROFILE_NEIGHBORS, SEED)
from ..validation import as_cloud, deduplicate
from .overlap import neighborhood_overlap
from .scale import GRIDE, ScaleProfile, gride_ranks
from .spectrum import Anisotropy, Spectrum
from .topology import Persistence


@dataclass
class GeometryResult:
    """The descriptors of one cloud.

    ``values``: name -> dict of JSON-able numbers for every descriptor computed (see `summary`);
    ``unavailable``: name -> the reason, for every requested descriptor that could not be computed
    on this input (never a silent NaN); ``params``: the parameters used (per descriptor, and the
    cloud's n_input, n_points after deduplication, n_duplicates_removed, n_features);
    ``timings``: seconds per stage (``neighbors``: the one shared search). ``diagrams``: the
    persistence diagrams [H0 (a, 2), H1 (b, 2)] when computed; ``profile_pointwise``: (n, m) local
    TwoNN estimates of the scale profile when computed.
    """

    values: dict[str, dict[str, Any]]
    unavailable: dict[str, str]
    params: dict[str, Any]
    timings: dict[str, float]
    diagrams: list[np.ndarray] | None = None
    profile_pointwise: np.ndarray | None = field(default=None, repr=False)

    def __getitem__(self, name: str) -> dict[str, Any]:
        if name in self.values:
            return self.values[name]
        if name in self.unavailable:
            raise KeyError(f"{name} could not be computed: {self.unavailable[name]}")
        raise KeyError(f"{name} was not requested (metrics: {', '.join(self.params['metrics'])}).")

    def summary(self) -> dict[str, Any]:
        """A JSON-able dict: values, unavailable descriptors with reasons, parameters, timings."""
        return {"values": self.values, "unavailable": dict(self.unavailable), "params": self.params,
                "timings_s": dict(self.timings)}


def parse_metrics(metrics: str | Iterable[str] | None) -> tuple[str, ...]:
    """Descriptor names from ``"all"``, ``"gride,persistence"`` or a list; checked against `GEOMETRY_METRICS`."""
    if metrics is None:
        return ()
    names = [m.strip() for m in (metrics.split(",") if isinstance(metrics, str) else metrics)]
    names = [m for m in names if m]
    if "all" in names:
        names = [m for m in GEOMETRY_METRICS]
    unknown = [m for m in names if m not in GEOMETRY_METRICS]
    if unknown:
        raise LIDInputError(f"unknown metric(s) {', '.join(map(repr, unknown))}: use any of "
                            f"{', '.join(GEOMETRY_METRICS)}, or all.")
    return tuple(dict.fromkeys(names))


def geometry(
    X,
    metrics: str | Iterable[str] = "all",
    *,
    other=None,
    scale_neighbors: Iterable[int] = SCALE_PROFILE_NEIGHBORS,
    gride_max_rank: int = GRIDE_MAX_RANK,
    ph_n_points: int | None = PH_N_POINTS,
    long_lived_ratio: float = PH_LONG_LIVED_RATIO,
    overlap_neighbors: int = OVERLAP_NEIGHBORS,
    random_state: int | None = SEED,
    backend: str = "auto",
    device: str | None = None,
    strict: bool = False,
) -> GeometryResult:
    """Descriptors of the point cloud X (n, d) beyond one LID, each exact and validated (docs/geometry.md).

    metrics: any of ``settings.GEOMETRY_METRICS`` (or ``"all"``, or a comma-separated string):
        ``scale_profile`` mean local TwoNN at each L of ``scale_neighbors``; ``gride`` GRIDE at the
        doubling ranks up to ``gride_max_rank``; ``persistence`` Vietoris-Rips H0/H1 of a random
        subsample of ``ph_n_points`` points (seeded by ``random_state``); ``anisotropy`` mean
        pairwise cosine; ``spectrum`` effective rank, RankMe, participation ratio, IsoScore;
        ``overlap`` the mean fraction of shared ``overlap_neighbors`` nearest neighbours with
        ``other`` (n, d'), the same points in another representation (required for it; "all"
        includes it only when ``other`` is given).
    Exact duplicate rows are dropped first (counted in ``params``). Scale-profile sizes and GRIDE
    ranks that need more points than the cloud has are dropped and listed in ``params``. A
    descriptor that cannot be computed on this input goes to ``unavailable`` with the reason (and a
    RuntimeWarning); with ``strict=True`` it raises LIDInputError instead. The scale profile and
    GRIDE share one neighbour search at the largest rank either needs.
    """
    t0 = time.perf_counter()
    names = parse_metrics(metrics)
    if metrics == "all" and other is None:
        names = tuple(m for m in names if m != "overlap")
    X = as_cloud(X)
    dd = deduplicate(X)
    cloud = np.ascontiguousarray(X[dd.kept]) if dd.n_removed else X
    n = cloud.shape[0]
    params: dict[str, Any] = {"metrics": list(names), "n_input": int(X.shape[0]), "n_points": int(n),
                              "n_duplicates_removed": dd.n_removed, "n_features": int(X.shape[1]),
                              "input_dtype": str(X.dtype), "distance": "euclidean"}
    timings: dict[str, float] = {"validate_dedup": time.perf_counter() - t0}
    values: dict[str, dict[str, Any]] = {}
    unavailable: dict[str, str] = {}
    out = GeometryResult(values, unavailable, params, timings)

    def fail(name: str, reason: str) -> None:
        if strict:
            raise LIDInputError(f"{name}: {reason}")
        unavailable[name] = reason
        warnings.warn(f"geometry: {name} not computed: {reason}", RuntimeWarning, stacklevel=3)

    # ---- one neighbour search for the scale profile and GRIDE
    sizes = sorted({int(s) for s in scale_neighbors})
    ranks = [int(r) for r in gride_ranks(int(gride_max_rank))] if "gride" in names else []
    wanted = []
    if "scale_profile" in names:
        params["scale_profile"] = {"n_neighbors": [s for s in sizes if s < n],
                                   "dropped_n_neighbors": [s for s in sizes if s >= n],
                                   "estimator": "twonn", "self_excluded": True}
        wanted += [s for s in sizes if s < n]
    if "gride" in names:
        usable = [r for r in ranks if r < n]
        params["gride"] = {"max_rank": int(gride_max_rank), "ranks": usable,
                           "dropped_ranks": [r for r in ranks if r >= n], "reference": "DADApy 0.3.4"}
        wanted += usable if len(usable) >= 2 else []
    nb = None
    if wanted:
        t = time.perf_counter()
        try:
            nb = kneighbors(cloud, max(wanted), backend=backend, device=device)
        except ValueError as exc:
            for m in ("scale_profile", "gride"):
                if m in names:
                    fail(m, str(exc))
            names = tuple(m for m in names if m not in ("scale_profile", "gride"))
        timings["neighbors"] = time.perf_counter() - t

    for name in names:
        t = time.perf_counter()
        try:
            if name == "scale_profile":
                ls = params["scale_profile"]["n_neighbors"]
                if not ls:
                    raise LIDInputError(f"every size L of {sizes} needs more than L points; the cloud has {n}.")
                sp = ScaleProfile(ls, backend=backend, device=device).fit(cloud, neighbors=nb)
                values[name] = {"n_neighbors": ls, "mean": sp.mean_.tolist(), "median": sp.median_.tolist(),
                                "std": sp.std_.tolist()}
                out.profile_pointwise = sp.dimension_pw_
            elif name == "gride":
                if len(params["gride"]["ranks"]) < 2:
                    raise LIDInputError(f"GRIDE needs ranks 1 and 2 at least, i.e. 3 distinct points; the cloud has {n}.")
                g = GRIDE(params["gride"]["ranks"][-1], backend=backend, device=device).fit(cloud, neighbors=nb)
                values[name] = {"n1": g.n1_.tolist(), "n2": g.n2_.tolist(), "dimension": g.dimension_.tolist(),
                                "dimension_err": g.dimension_err_.tolist(), "scale": g.scale_.tolist()}
            elif name == "persistence":
                params[name] = {"n_points": ph_n_points, "random_state": random_state,
                                "long_lived_ratio": long_lived_ratio, "library": "giotto-ph", "maxdim": 1,
                                "complex": "Vietoris-Rips, full filtration"}
                ph = Persistence(ph_n_points, random_state, long_lived_ratio).fit(cloud)
                params[name]["n_points_used"] = int(ph.sample_index_.size)
                values[name] = {"h0_total_persistence": float(ph.total_persistence_[0]),
                                "h0_max_persistence": float(ph.max_persistence_[0]),
                                "h1_total_persistence": float(ph.total_persistence_[1]),
                                "h1_max_persistence": float(ph.max_persistence_[1]),
                                "n_h1_features": int(ph.n_features_[1]), "n_long_lived_h1": ph.n_long_lived_h1_}
                out.diagrams = ph.diagrams_
            elif name == "anisotropy":
                values[name] = {"mean_cosine": Anisotropy().fit(cloud).mean_cosine_}
            elif name == "spectrum":
                s = Spectrum().fit(cloud)
                values[name] = {"effective_rank": s.effective_rank_, "rankme": s.rankme_,
                                "participation_ratio": s.participation_ratio_, "isoscore": s.isoscore_}
            elif name == "overlap":
                if other is None:
                    raise LIDInputError("the neighbourhood overlap needs a second cloud of the same points (other=).")
                B = as_cloud(other, name="other")
                if B.shape[0] != X.shape[0]:
                    raise LIDInputError(f"other has {B.shape[0]} rows but X has {X.shape[0]}: they must hold the "
                                        "same points in the same order.")
                keep = dd.kept
                db = deduplicate(B[keep])
                if db.n_removed:
                    keep = keep[db.kept]  # rows distinct in both clouds
                params[name] = {"n_neighbors": int(overlap_neighbors), "n_points": int(keep.size)}
                ov = neighborhood_overlap(X[keep], B[keep], overlap_neighbors, backend=backend, device=device)
                values[name] = {"mean": ov.mean, "n_neighbors": ov.n_neighbors}
        except LIDInputError as exc:
            fail(name, str(exc))
        timings[name] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    return out
