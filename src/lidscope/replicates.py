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

from lidscope.extract.errors import DataError
from lidscope.extract.texts import Texts, is_hf_dataset, load_texts, read_items, sample_items, texts_fingerprint
from lidscope.settings import REPLICATE_SHARED_WARNING, TWONN_FRACTION


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


#: Why a single measurement reports its mean without an interval.
ONE_REPLICATE_NOTE = (
    "one replicate: the mean has no interval. Another sample of sequences and tokens moves it by far more "
    "than a bootstrap over this sample's sequences shows (measured 15x more on MiniLM, docs/statistics.md); "
    "--replicates 3 (Python: n_replicates=3) gives a calibrated interval. `lidscope compare` measures "
    "3 replicates by default and gives paired differences between models with intervals."
)


def plan_replicates(
    data: Any, seeds: list[tuple[int, int]], *, split: str | None = None, text_column: str | None = None,
    n_sequences: int | None = None,
) -> ReplicatePlan:
    """Draw each replicate's sequences (the sample `load_texts` draws with its ``data_seed``) and
    their union. The source is read once. With one replicate the union is that replicate's sample
    (the single measurement, unchanged).
    """
    first = load_texts(data, split=split, text_column=text_column, n_sequences=n_sequences, seed=seeds[0][0])
    if len(seeds) == 1:
        return ReplicatePlan(seeds, [first], first, [np.arange(len(first), dtype=np.int64)])
    if isinstance(data, Texts):
        same = [np.arange(len(first), dtype=np.int64)] * len(seeds)
        return ReplicatePlan(seeds, [first] * len(seeds), first, same, fixed_sequences=True)
    if not isinstance(data, (str, bytes)) and not hasattr(data, "__fspath__") and not is_hf_dataset(data):
        data = list(data)  # an iterator can be read once only
    items, _ = read_items(data, split=split, text_column=text_column)
    samples = [first] + [_sample(items, first, n_sequences, ds) for ds, _ in seeds[1:]]
    # sorted: the union's identity (and embedding-cache key) is the set of sequences, not the draw order
    unique = sorted({t for s in samples for t in s.texts})
    union = Texts(unique, [str(i) for i in range(len(unique))], first.name, first.source, texts_fingerprint(unique),
                  {"selected": len(unique)}, {"union_of_replicates": len(seeds)})
    pos = {t: i for i, t in enumerate(unique)}
    members = [np.asarray([pos[t] for t in s.texts], dtype=np.int64) for s in samples]
    return ReplicatePlan(seeds, samples, union, members)


def _sample(items: list[tuple[str, str]], like: Texts, n_sequences: int | None, seed: int) -> Texts:
    """The sample `load_texts` draws from ``items`` with ``seed`` (seeded shuffle, first M, empty
    ones dropped), without reading the source again; ``tests/test_replicates.py`` checks equality."""
    picked, kept = sample_items(items, n_sequences, seed)
    if not kept:
        raise DataError(f"all {len(picked)} sequences sampled with seed {seed} from {like.source} are empty.")
    texts = [t for _, t in kept]
    return Texts(texts, [k for k, _ in kept], like.name, like.source, texts_fingerprint(texts),
                 {**like.counts, "sampled": len(picked), "empty_dropped": len(picked) - len(kept),
                  "selected": len(kept)}, {**like.params, "seed": seed})


class ReplicatesNotIndependent(UserWarning):
    """Warned (and noted in the result) when the replicates share their texts: their interval covers less
    than another sample of texts (`independence`)."""


#: The statistics of a run that are summarised over replicates (each replicate's own value, then their mean).
STATISTICS = ("mean", "median", "std", "quantiles", "min", "max", "global_estimate")


def point_statistics(lid: Any) -> dict[str, Any]:
    """The `STATISTICS` of one cloud's `lidscope.LocalDimensions` (all from the same points)."""
    s = lid.summary()
    return {k: s[k] for k in STATISTICS}


def statistics_label(n_replicates: int) -> str:
    """Which sample a run's statistics describe: ``mean over 3 replicates`` or ``one replicate``."""
    return f"mean over {n_replicates} replicates" if n_replicates > 1 else "one replicate"


def over_replicates(per_replicate: list[dict[str, Any]]) -> dict[str, Any]:
    """Each of `STATISTICS` as the mean over replicates of that replicate's own value (quantiles per level),
    so that every number describes the same thing; with one replicate, that replicate's values."""
    out: dict[str, Any] = {}
    for k in STATISTICS:
        if k == "quantiles":
            out[k] = {q: float(np.mean([p[k][q] for p in per_replicate])) for q in per_replicate[0][k]}
        else:
            out[k] = float(np.mean([p[k] for p in per_replicate]))
    return out


def independence(plan: ReplicatePlan, whole_cloud: bool = False) -> dict[str, Any]:
    """Whether the replicates' sequence samples can be independent draws of texts, and what their interval covers.

    Replicates that all hold the same sequences (M at least the texts available, or a fixed `Texts`
    sample) differ only in the token draw: their interval covers another token sample of these texts, not
    another choice of texts; when each of them also measured every distinct token vector
    (``whole_cloud``), they are the same cloud and the interval covers nothing. Replicates drawn from a
    pool barely larger than M share most of their texts: their interval covers another draw of M of
    these texts (a finite pool), not a larger source.
    """
    r = plan.n_replicates
    available = int(plan.texts[0].counts.get("available") or 0)
    sets = [frozenset(int(i) for i in m) for m in plan.members]
    pairs = [(a, b) for i, a in enumerate(sets) for b in sets[i + 1:]]
    shared = float(np.mean([len(a & b) / max(1, min(len(a), len(b))) for a, b in pairs])) if pairs else 0.0
    identical = r > 1 and (plan.fixed_sequences or all(s == sets[0] for s in sets[1:]))
    n = len(plan.texts[0])
    info: dict[str, Any] = {"n_replicates": r, "sequences_per_replicate": n, "sequences_available": available or None,
                            "shared_sequences_fraction": shared if r > 1 else None, "identical_sequences": identical}
    if r == 1:
        info["covers"] = "no interval (one replicate)"
        info["independent"] = None
    elif identical:
        info["independent"] = False
        why = ("the texts were given as a fixed sample" if plan.fixed_sequences else
               f"every one of the {available:,} texts of the source is in each replicate's sample" if available
               else "every replicate drew the same texts")
        info["covers"] = ("nothing: every replicate measured the same points (all the distinct token vectors of "
                          "the same texts)" if whole_cloud else
                          "another token sample of these same texts, not another choice of texts")
        info["warning"] = (f"the {r} replicates share all {n:,} sequences ({why}), so they are not independent "
                           f"samples of texts: their interval covers {info['covers']}. Use a larger text source "
                           "(or a smaller -M) for an interval that covers the choice of texts.")
        info["whole_cloud"] = whole_cloud
    elif shared > REPLICATE_SHARED_WARNING:
        info["independent"] = False
        info["covers"] = f"another draw of {n:,} of these {available:,} texts, not a larger source of texts"
        info["warning"] = (f"the {r} replicates share {shared:.0%} of their sequences (M = {n:,} of "
                           f"{available:,} texts available), so they are not independent samples of texts: their "
                           f"interval covers {info['covers']}, and is narrower than one from a larger source.")
    else:
        info["independent"] = True
        info["covers"] = "another sample of texts and tokens from this source"
    return info


def interval_label(n_replicates: int, info: dict[str, Any]) -> str:
    """What the interval of the mean covers, for tables, cards and the summary."""
    if n_replicates <= 1:
        return "no interval: one replicate"
    label = f"95 % interval over {n_replicates} replicates"
    if info.get("identical_sequences"):
        return f"{label} that share all their sequences: covers {info['covers']}"
    if info.get("independent") is False:
        return f"{label} sharing {info['shared_sequences_fraction']:.0%} of their sequences: covers {info['covers']}"
    return label


#: Label of the cluster bootstrap kept beside the replicate interval.
BOOTSTRAP_LABEL = ("replicate 0's points: 95 % interval over its sequences with the point cloud held fixed; it "
                   "does not cover another sample of texts or tokens (15x too narrow for the mean, "
                   "docs/statistics.md)")


def measure_replicates(
    plan: ReplicatePlan, clouds: list[dict[str, Any]], first: dict[str, Any], *, n_neighbors: int, estimator: str,
    discard_fraction: float, backend: str, progress: Any = None, n_boot: int | None = None,
    twonn_fraction: str = TWONN_FRACTION,
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]], list[dict[str, tuple[np.ndarray, np.ndarray]]]]:
    """Estimate replicates 1..R-1 (replicate 0 is ``first``: ``{layer: LayerResult}``) and summarise.

    Returns ``(per_layer, records, points)``: per layer every statistic of `STATISTICS` as the mean over
    replicates of each replicate's own value (``statistics`` says so), the t-interval of the mean
    (``interval``; none with R = 1: `ONE_REPLICATE_NOTE`) and of the other scalars (``intervals``),
    replicate 0's own statistics (``replicate_0``: the points of the tokens table and figures), and the
    cluster bootstrap of replicate 0 (``interval_bootstrap``, which holds the cloud fixed); one record per
    replicate (seeds, statistics, bootstrap intervals, points, sequences); and per replicate
    ``{layer: (pointwise estimates, sequence index of each point)}`` for paired comparisons.
    """
    from lidscope import local_dimensions
    from lidscope.stats import N_BOOT, Interval, cluster_bootstrap, replicate_interval

    means: dict[str, list[float]] = {label: [] for label in first}
    stats: dict[str, list[dict[str, Any]]] = {label: [] for label in first}
    records = []
    points: list[dict[str, tuple[np.ndarray, np.ndarray]]] = []
    boots: dict[str, Any] = {}
    for r, rc in enumerate(clouds):
        pr: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for label, cloud in rc.items():
            if r == 0:
                lid = first[label].lid
            else:
                if progress:
                    progress("replicates", r, plan.n_replicates)
                lid = local_dimensions(cloud.vectors, n_neighbors=n_neighbors, estimator=estimator,
                                       discard_fraction=discard_fraction, empirical_fraction=twonn_fraction,
                                       dedup=True, backend=backend)
            values = np.asarray(lid.estimates, dtype=np.float64)
            pr[label] = (values, np.asarray(cloud.meta["seq_index"]))
            means[label].append(float(np.mean(values)))
            stats[label].append(point_statistics(lid))
            boots[label] = cluster_bootstrap(values, pr[label][1], n_boot=n_boot or N_BOOT, seed=plan.seeds[r][1])
        points.append(pr)
        c0 = next(iter(rc.values()))
        records.append({"replicate": r, "data_seed": plan.seeds[r][0], "seed": plan.seeds[r][1],
                        "sequences": len(plan.texts[r]), "data_fingerprint": plan.texts[r].fingerprint,
                        "points": c0.counts["points"], "duplicates_removed": c0.counts["duplicates_removed"],
                        "means": {label: m[r] for label, m in means.items()},
                        "statistics": {label: st[r] for label, st in stats.items()},
                        "bootstrap": {label: b.to_dict() for label, b in boots.items()}})
    if progress and plan.n_replicates > 1:
        progress("replicates", plan.n_replicates, plan.n_replicates)
    info = independence(plan, whole_cloud=all(
        c.counts["points"] == c.counts["unique"] and c.counts["sampled"] == c.counts["tokens"]
        for rc in clouds for c in rc.values()))
    label_text = interval_label(plan.n_replicates, info)
    per_layer: dict[str, dict[str, Any]] = {}
    for label, lr in first.items():
        boot = Interval.from_dict(records[0]["bootstrap"][label])
        reps = replicate_interval(means[label])  # R = 1: the mean with no interval (se and bounds nan)
        summary = over_replicates(stats[label])
        summary["mean"] = reps.estimate
        others = {k: replicate_interval([st[k] for st in stats[label]]).to_dict()
                  for k in ("median", "std", "global_estimate")} if plan.n_replicates > 1 else {}
        per_layer[label] = {"statistics": statistics_label(plan.n_replicates), **summary,
                            "interval": reps.to_dict(), "interval_label": label_text, "intervals": others,
                            "replicate_0": {"statistics": "replicate 0", **stats[label][0]},
                            "mean_replicate_0": float(lr.lid.mean),
                            "interval_bootstrap": {**boot.to_dict(), "holds": BOOTSTRAP_LABEL},
                            "n_replicates": plan.n_replicates, "independence": info}
    return per_layer, records, points


def paired_comparison(base: Any, other: Any, layer: str | None = None) -> Any:
    """`lidscope.stats.Comparison` of two `MeasureResult` s of one dataset: ``other`` against ``base``.

    Paired when every replicate of both measured the same sequences with the same seeds (what
    equal settings give): with R > 1 the t-interval of the per-replicate differences (Welch when
    the samples differ; ``method`` says which). With R = 1 there is no calibrated interval (the
    paired bootstrap was measured 7x too narrow): the difference is given with no interval and the
    verdict `lidscope.stats.UNKNOWN`.
    """
    from lidscope.stats import compare_replicates
    from lidscope.stats.verdict import Comparison

    label = layer or next(iter(base.summary["layers"]))
    ra, rb = base.summary["replicates"], other.summary["replicates"]
    paired = len(ra) == len(rb) and all(
        (x["data_seed"], x["seed"], x["data_fingerprint"]) == (y["data_seed"], y["seed"], y["data_fingerprint"])
        for x, y in zip(ra, rb))
    if len(ra) > 1 and len(rb) > 1:
        return compare_replicates([x["means"][label] for x in ra], [y["means"][label] for y in rb], paired=paired)
    return one_replicate_comparison(ra[0]["means"][label], rb[0]["means"][label], paired)


def one_replicate_comparison(base: float, other: float, paired: bool) -> Any:
    """A `lidscope.stats.Comparison` of two single measurements: the difference, no interval."""
    from lidscope.stats import UNKNOWN, Interval, replicate_interval
    from lidscope.stats.verdict import Comparison

    a, b = replicate_interval([base]), replicate_interval([other])
    nan = float("nan")
    diff = Interval(other - base, nan, nan, nan, method="one replicate", n=1)
    rel = Interval(other / base - 1.0, nan, nan, nan, method="one replicate", n=1)
    return Comparison(a, b, diff, rel, UNKNOWN, nan, nan, "one replicate" + (" (paired)" if paired else ""))
