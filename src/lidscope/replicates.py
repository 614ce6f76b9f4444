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


def measure_replicates(
    plan: ReplicatePlan, clouds: list[dict[str, Any]], first: dict[str, Any], *, n_neighbors: int, estimator: str,
    discard_fraction: float, backend: str, progress: Any = None, n_boot: int | None = None,
    twonn_fraction: str = TWONN_FRACTION,
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]], list[dict[str, tuple[np.ndarray, np.ndarray]]]]:
    """Estimate replicates 1..R-1 (replicate 0 is ``first``: ``{layer: LayerResult}``) and summarise.

    Returns ``(per_layer, records, points)``: per layer the mean over replicates and its
    t-interval (``interval``; none with R = 1: `ONE_REPLICATE_NOTE`) next to the cluster bootstrap
    of replicate 0 (``interval_bootstrap``, which holds the cloud fixed); one record per
    replicate (seeds, means, bootstrap intervals, points, sequences); and per replicate
    ``{layer: (pointwise estimates, sequence index of each point)}`` for paired comparisons.
    """
    from lidscope import local_dimensions
    from lidscope.stats import N_BOOT, Interval, cluster_bootstrap, replicate_interval

    means: dict[str, list[float]] = {label: [] for label in first}
    records = []
    points: list[dict[str, tuple[np.ndarray, np.ndarray]]] = []
    boots: dict[str, Any] = {}
    for r, rc in enumerate(clouds):
        pr: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for label, cloud in rc.items():
            if r == 0:
                values = first[label].values
            else:
                if progress:
                    progress("replicates", r, plan.n_replicates)
                lid = local_dimensions(cloud.vectors, n_neighbors=n_neighbors, estimator=estimator,
                                       discard_fraction=discard_fraction, empirical_fraction=twonn_fraction,
                                       dedup=True, backend=backend)
                values = np.asarray(lid.estimates, dtype=np.float64)
            pr[label] = (values, np.asarray(cloud.meta["seq_index"]))
            means[label].append(float(np.mean(values)))
            boots[label] = cluster_bootstrap(values, pr[label][1], n_boot=n_boot or N_BOOT, seed=plan.seeds[r][1])
        points.append(pr)
        c0 = next(iter(rc.values()))
        records.append({"replicate": r, "data_seed": plan.seeds[r][0], "seed": plan.seeds[r][1],
                        "sequences": len(plan.texts[r]), "data_fingerprint": plan.texts[r].fingerprint,
                        "points": c0.counts["points"], "duplicates_removed": c0.counts["duplicates_removed"],
                        "means": {label: m[r] for label, m in means.items()},
                        "bootstrap": {label: b.to_dict() for label, b in boots.items()}})
    if progress and plan.n_replicates > 1:
        progress("replicates", plan.n_replicates, plan.n_replicates)
    per_layer: dict[str, dict[str, Any]] = {}
    for label, lr in first.items():
        boot = Interval.from_dict(records[0]["bootstrap"][label])
        reps = replicate_interval(means[label])  # R = 1: the mean with no interval (se and bounds nan)
        per_layer[label] = {"mean": reps.estimate, "mean_replicate_0": float(lr.lid.mean),
                            "interval": reps.to_dict(), "interval_bootstrap": boot.to_dict(),
                            "n_replicates": plan.n_replicates}
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
