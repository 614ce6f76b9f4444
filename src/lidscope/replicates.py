"""Replicates of one measurement: R sequence + token samples at the same M and N, extracted once.

Replicate r draws its own M sequences (``data_seed_r``) and its own token sample (``seed_r``),
the seeds of `lidscope.settings.replicate_seeds`; replicate 0 is exactly the single measurement
with the given seeds. The union of all replicates' sequences is extracted once (one embedding
cache entry); each replicate's cloud is then built from its own sequences' rows, renumbered in
its own sampled order, so it is the cloud a standalone measurement with its seeds would build.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lidscope.extract.texts import Texts, load_texts
from lidscope.settings import TWONN_FRACTION


@dataclass
class ReplicatePlan:
    """Which sequences each replicate measures, and the union that is extracted.

    Attributes:
        seeds: ``(data_seed, seed)`` per replicate.
        texts: the `Texts` sample of each replicate (``texts[0]`` is what a single measurement draws).
        union: the sequences to extract, each once.
        members: ``members[r][j]`` = index in ``union`` of replicate r's sequence j.
        fixed_sequences: True when the data came as a fixed sample (`Texts`): replicates then
            redraw only the token sample.
    """

    seeds: list[tuple[int, int]]
    texts: list[Texts]
    union: Texts
    members: list[np.ndarray]
    fixed_sequences: bool = False

    @property
    def n_replicates(self) -> int:
        return len(self.seeds)

    def rows(self, seq_index: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
        """Storage rows of replicate ``r`` in the union cache (``seq_index`` per row) and their
        sequence index in replicate r's own order."""
        member = self.members[r]
        if len(self.texts) == 1 or self.fixed_sequences:
            return np.arange(seq_index.size, dtype=np.int64), np.asarray(seq_index, dtype=np.int64)
        order = np.argsort(seq_index, kind="stable")
        sorted_seq = seq_index[order]
        lo = np.searchsorted(sorted_seq, member, "left")
        hi = np.searchsorted(sorted_seq, member, "right")
        counts = hi - lo
        starts = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
        rows = order[starts + np.arange(counts.sum())]
        return rows.astype(np.int64), np.repeat(np.arange(member.size, dtype=np.int64), counts)

    def source(
        self, gather: Callable[[np.ndarray], np.ndarray], meta: dict[str, np.ndarray], r: int
    ) -> tuple[Callable[[np.ndarray], np.ndarray], int, dict[str, np.ndarray]]:
        """``(gather_r, n_tokens_r, meta_r)`` for `lidscope.cloud.build_cloud` of replicate ``r``.

        ``meta_r["row"]`` keeps the union cache row of each token."""
        rows, seq = self.rows(np.asarray(meta["seq_index"]), r)
        meta_r = {k: np.asarray(v)[rows] for k, v in meta.items()}
        meta_r["seq_index"] = seq
        return (lambda rr: gather(rows[rr])), int(rows.size), meta_r


def plan_replicates(
    data: Any, seeds: list[tuple[int, int]], *, split: str | None = None, text_column: str | None = None,
    n_sequences: int | None = None,
) -> ReplicatePlan:
    """Draw each replicate's sequences (`load_texts` with its ``data_seed``) and their union.

    With one replicate the union is that replicate's sample (the single measurement, unchanged).
    """
    first = load_texts(data, split=split, text_column=text_column, n_sequences=n_sequences, seed=seeds[0][0])
    if len(seeds) == 1:
        return ReplicatePlan(seeds, [first], first, [np.arange(len(first), dtype=np.int64)])
    if isinstance(data, Texts):
        same = [np.arange(len(first), dtype=np.int64)] * len(seeds)
        return ReplicatePlan(seeds, [first] * len(seeds), first, same, fixed_sequences=True)
    if not isinstance(data, (str, bytes)) and not hasattr(data, "__fspath__"):
        data = list(data)  # an iterator can be read once only
    samples = [first] + [load_texts(data, split=split, text_column=text_column, n_sequences=n_sequences, seed=ds)
                         for ds, _ in seeds[1:]]
    unique = list(dict.fromkeys(t for s in samples for t in s.texts))
    union = load_texts(unique, n_sequences=None, seed=0)
    union.name, union.source = first.name, first.source
    pos = {t: i for i, t in enumerate(union.texts)}
    members = [np.asarray([pos[t] for t in s.texts], dtype=np.int64) for s in samples]
    return ReplicatePlan(seeds, samples, union, members)


def measure_replicates(
    plan: ReplicatePlan, clouds: list[dict[str, Any]], first: dict[str, Any], *, n_neighbors: int, estimator: str,
    discard_fraction: float, backend: str, progress: Any = None, n_boot: int | None = None,
    twonn_fraction: str = TWONN_FRACTION,
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Estimate replicates 1..R-1 (replicate 0 is ``first``: ``{layer: LayerResult}``) and summarise.

    Returns ``(per_layer, replicates)``: per layer the mean over replicates and its intervals
    (``interval`` is the one reported: replicates when R > 1, else the bootstrap), and one record
    per replicate (seeds, means, points, sequences).
    """
    from lidscope import local_dimensions
    from lidscope.stats import N_BOOT, cluster_bootstrap, replicate_interval
    from lidscope.stats.bootstrap import BOOTSTRAP_FACTOR, scaled

    means: dict[str, list[float]] = {label: [float(lr.lid.mean)] for label, lr in first.items()}
    records = []
    for r, rc in enumerate(clouds):
        if r > 0:
            for label, cloud in rc.items():
                if progress:
                    progress("replicates", r, plan.n_replicates)
                lid = local_dimensions(cloud.vectors, n_neighbors=n_neighbors, estimator=estimator,
                                       discard_fraction=discard_fraction, empirical_fraction=twonn_fraction,
                                       dedup=True, backend=backend)
                means[label].append(float(lid.mean))
        c0 = next(iter(rc.values()))
        records.append({"replicate": r, "data_seed": plan.seeds[r][0], "seed": plan.seeds[r][1],
                        "sequences": len(plan.texts[r]), "data_fingerprint": plan.texts[r].fingerprint,
                        "points": c0.counts["points"], "means": {label: m[r] for label, m in means.items()}})
    if progress and plan.n_replicates > 1:
        progress("replicates", plan.n_replicates, plan.n_replicates)
    per_layer: dict[str, dict[str, Any]] = {}
    for label, lr in first.items():
        boot = scaled(cluster_bootstrap(lr.values, lr.cloud.meta["seq_index"], n_boot=n_boot or N_BOOT,
                                        seed=plan.seeds[0][1]), BOOTSTRAP_FACTOR)
        reps = replicate_interval(means[label])
        chosen = reps if plan.n_replicates > 1 else boot
        per_layer[label] = {"mean": chosen.estimate, "mean_replicate_0": float(lr.lid.mean),
                            "interval": chosen.to_dict(), "interval_bootstrap": boot.to_dict(),
                            "interval_replicates": reps.to_dict() if plan.n_replicates > 1 else None,
                            "n_replicates": plan.n_replicates}
    return per_layer, records
