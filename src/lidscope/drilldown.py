"""Token drill-down: which tokens sit in high- or low-dimensional regions, and what moved.

Works on a run folder's tables only (pandas; no model, no vectors). Every mean comes with a 95 %
interval that treats **sequences as the unit of sampling**: tokens of one text are not independent,
so the standard error of a group's mean is the cluster-robust (sandwich) one with sequences as
clusters, and the interval uses Student's t with (sequences - 1) degrees of freedom. With one
sequence in a group the interval is undefined (NaN). It is the analytic counterpart of a bootstrap
over sequences and costs one groupby; tests check its coverage on simulated clustered data.

Groupings: token type (``by_type``, ranked, with a minimum count so rare tokens don't dominate),
position in the sequence (``by_position``, log2 bands), token frequency in the measured sample
(``by_frequency``), simple classes (``by_class``, `lidscope.token_classes`), and part of speech
(``by_pos``) where spaCy with an English model is installed (optional).

Two runs (`compare_runs`): when they measured the same token positions (two checkpoints of one
model, same data and seeds) the points are paired by (sequence, position, token) and each group's
change is the mean of the paired differences; otherwise the two groups' means are compared as
independent samples. The intervals hold both clouds fixed (sequences resampled, every point's estimate
kept), which was measured 7x too narrow for a change between runs (docs/statistics.md), so no type is
called moved or steady: types are ranked by the size of their change (`Movers.largest`,
`Movers.smallest`), and the change of a run is judged from its replicates (`lidscope.report.build.run_change`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lidscope.errors import LIDInputError
from lidscope.runs import Run
from lidscope.stats.intervals import LEVEL, t_critical
from lidscope.token_classes import classify_all, convention, display

#: A token type is ranked only with at least this many points.
MIN_COUNT = 20
POSITION_EDGES = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
FREQUENCY_EDGES = (1, 2, 10, 100, 1000, 10_000)


def group_means(values: np.ndarray, groups: np.ndarray, clusters: np.ndarray, level: float = LEVEL) -> Any:
    """Mean of ``values`` per group with a sequence-clustered 95 % interval.

    Args:
        values: (n,) float, e.g. local dimensions or paired differences (NaN rows are dropped).
        groups: (n,) group keys. clusters: (n,) cluster (sequence) keys.

    Returns a DataFrame indexed by group: ``count``, ``sequences``, ``mean``, ``se``, ``lo``, ``hi``.
    """
    import pandas as pd

    df = pd.DataFrame({"g": groups, "s": clusters, "y": np.asarray(values, dtype=np.float64)})
    df = df[np.isfinite(df["y"])]
    by = df.groupby("g", sort=False)
    out = pd.DataFrame({"count": by["y"].size(), "mean": by["y"].mean()})
    df["r"] = df["y"] - df["g"].map(out["mean"])
    cs = df.groupby(["g", "s"], sort=False)["r"].sum()
    # reindex: groupby(level=0) sorts its keys, ``out`` keeps first-appearance order
    ss = (cs ** 2).groupby(level=0).sum().reindex(out.index)
    G = cs.groupby(level=0).size().reindex(out.index)
    out["sequences"] = G
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(G > 1, G / (G - 1) * ss / out["count"] ** 2, np.nan)
    out["se"] = np.sqrt(var)
    half = t_critical(G.to_numpy() - 1, level) * out["se"].to_numpy()
    out["lo"] = out["mean"] - half
    out["hi"] = out["mean"] + half
    return out[["count", "sequences", "mean", "se", "lo", "hi"]]


def position_band(position: np.ndarray) -> np.ndarray:
    """Label ``"0"``, ``"1"``, ``"2-3"``, ``"4-7"``, ... per position (log2 bands)."""
    e = np.asarray(POSITION_EDGES)
    i = np.searchsorted(e, position, side="right") - 1
    labels = [str(a) if b - a == 1 else f"{a}-{b - 1}" for a, b in zip(e[:-1], e[1:])] + [f"{e[-1]}+"]
    return np.asarray(labels, dtype=object)[i]


def frequency_band(token_ids: np.ndarray) -> np.ndarray:
    """Label per point: how often its token type occurs among the layer's points (``"1"``, ``"2-9"``, ...)."""
    _, inv, cnt = np.unique(token_ids, return_inverse=True, return_counts=True)
    c = cnt[inv]
    e = np.asarray(FREQUENCY_EDGES)
    i = np.searchsorted(e, c, side="right") - 1
    labels = [str(a) if b - a == 1 else f"{a:,}-{b - 1:,}" for a, b in zip(e[:-1], e[1:])] + [f"{e[-1]:,}+"]
    return np.asarray(labels, dtype=object)[i]


def _band_order(labels: Any) -> list[int]:
    return [int(str(x).split("-")[0].rstrip("+").replace(",", "")) for x in labels]


@dataclass
class Drilldown:
    """LID of one layer of a run, aggregated by token properties. ``Drilldown(run, layer)``."""

    run: Run
    layer: str | int | None = None

    def __post_init__(self) -> None:
        self.layer = self.run.layer(self.layer)
        self.points = self.run.layer_tokens(self.layer)
        if self.points.empty:
            raise LIDInputError(f"{self.run.path} has no points for layer {self.layer}.")
        self.convention = convention(self.points["token"].head(5000))
        self.points["class"] = classify_all(self.points["token"], self.points["position"], self.convention)
        self.points["shown"] = [display(t, self.convention) for t in self.points["token"]]

    def _table(self, keys: Any, name: str, min_count: int = 1, sort: str = "mean") -> Any:
        t = group_means(self.points["lid"].to_numpy(), np.asarray(keys, dtype=object),
                        self.points["seq_index"].to_numpy())
        t = t[t["count"] >= min_count]
        t.index.name = name
        if sort == "mean":
            t = t.sort_values("mean", ascending=False)
        else:
            t = t.iloc[np.argsort(_band_order(t.index))]
        return t.reset_index()

    def by_type(self, min_count: int = MIN_COUNT) -> Any:
        """Token types with at least ``min_count`` points, highest mean LID first."""
        t = self._table(self.points["shown"], "token", min_count)
        cls = self.points.drop_duplicates("shown").set_index("shown")["class"]
        t.insert(1, "class", t["token"].map(cls))
        return t

    def by_position(self) -> Any:
        return self._table(position_band(self.points["position"].to_numpy()), "position", sort="band")

    def by_frequency(self) -> Any:
        return self._table(frequency_band(self.points["token_id"].to_numpy()), "frequency", sort="band")

    def by_class(self) -> Any:
        return self._table(self.points["class"], "class")

    def by_pos(self) -> Any:
        """Part of speech (spaCy's universal tags) of each point's word; needs spaCy with an English
        model and the run's texts and token spans. Raises `OptionalDependencyMissing` otherwise."""
        self.run.require("texts")
        self.run.require("points")
        tags = pos_tags(self.run.texts, self.points)
        return self._table(tags, "pos")

    def all_tables(self, min_count: int = MIN_COUNT) -> dict[str, Any]:
        out = {"class": self.by_class(), "position": self.by_position(), "frequency": self.by_frequency(),
               "type": self.by_type(min_count)}
        try:
            out["pos"] = self.by_pos()
        except (OptionalDependencyMissing, LIDInputError):
            pass
        return out

    def context(self, point: int, width: int = 80, neighbors: int | None = None) -> dict[str, Any]:
        """A point's token in its text (``before``, ``token``, ``after``, clipped to ``width``
        characters each side), its LID, and the same for its nearest neighbours (when kept)."""
        if point not in self.points.index:
            raise LIDInputError(f"point {point} is not in layer {self.layer} of {self.run.path} "
                                f"(0..{len(self.points) - 1}).")
        out = self._one(point, width)
        if self.run.points is not None:
            nb = self.points.at[point, "neighbors"]
            dist = self.points.at[point, "distances"]
            k = len(nb) if neighbors is None else min(neighbors, len(nb))
            out["neighbors"] = [{**self._one(int(j), width), "distance": float(d)}
                                for j, d in zip(nb[:k], dist[:k])]
        return out

    def _one(self, point: int, width: int) -> dict[str, Any]:
        row = self.points.loc[point]
        rec: dict[str, Any] = {"point": int(point), "token": row["shown"], "class": row["class"],
                               "lid": float(row["lid"]), "position": int(row["position"]),
                               "sequence_id": str(row["sequence_id"]), "before": "", "after": ""}
        text = None
        if self.run.texts is not None:
            s = int(row["seq_index"])
            tx = self.run.texts
            hit = tx.loc[tx["seq_index"] == s, "text"]
            text = str(hit.iloc[0]) if len(hit) else None
        a = int(row["char_start"]) if "char_start" in row and row["char_start"] == row["char_start"] else -1
        b = int(row["char_end"]) if "char_end" in row and row["char_end"] == row["char_end"] else -1
        if text is not None and 0 <= a < b <= len(text):
            rec["before"] = ("…" if a > width else "") + text[max(0, a - width):a]
            rec["token_text"] = text[a:b]
            rec["after"] = text[b:b + width] + ("…" if b + width < len(text) else "")
        else:
            rec["token_text"] = row["shown"]
            if text is not None:
                rec["after"] = " | " + text[:2 * width] + ("…" if len(text) > 2 * width else "")
        return rec


class OptionalDependencyMissing(LIDInputError):
    """An optional extra (e.g. a part-of-speech tagger) is not installed."""


def pos_tags(texts: Any, points: Any) -> np.ndarray:
    """Universal POS tag of the word overlapping each point's span (``"?"`` where none)."""
    try:
        import spacy

        nlp = spacy.load("en_core_web_sm", disable=["parser", "ner", "lemmatizer"])
    except (ImportError, OSError) as e:
        raise OptionalDependencyMissing(
            "part-of-speech tables need spaCy with its English model: pip install spacy and the "
            f"en_core_web_sm package ({e.__class__.__name__}: {e}).") from e
    tags = np.full(len(points), "?", dtype=object)
    by_seq = texts.set_index("seq_index")["text"]
    for s, idx in points.groupby("seq_index").groups.items():
        doc = nlp(str(by_seq.get(s, "")))
        starts = np.asarray([t.idx for t in doc])
        for p in idx:
            a, b = int(points.at[p, "char_start"]), int(points.at[p, "char_end"])
            if a < 0 or not len(starts):
                continue
            j = int(np.searchsorted(starts, a, side="right") - 1)
            if j >= 0 and starts[j] < b:
                tags[points.index.get_loc(p)] = doc[j].pos_
    return tags


# ---------------------------------------------------------------------------------------------

#: Why `compare_runs` calls no token type moved (shown with every movers table).
NO_TYPE_VERDICT = (
    "no per-type verdict: each interval is over sequences with both point clouds held fixed, which was measured "
    "7x too narrow for a change between runs (docs/statistics.md), and the run folders keep replicate 0's points "
    "only, so no calibrated per-type interval exists; the types are ranked by the size of their change")


@dataclass
class Movers:
    """Per group change of mean LID from run ``a`` to run ``b`` (``b - a``).

    ``table``: group, ``count``, ``sequences``, ``mean_a``, ``mean_b``, ``diff``, ``lo``, ``hi``
    (95 % interval over sequences, clouds held fixed: it ranks, it decides nothing; `NO_TYPE_VERDICT`),
    ``rel`` (diff / mean_a), sorted by |diff|, largest first.
    ``paired``: whether points were paired by position; ``overall``: the same for all points.
    """

    table: Any
    paired: bool
    overall: dict[str, float]
    by: str
    n_matched: int
    note: str = NO_TYPE_VERDICT

    def largest(self, n: int = 10) -> Any:
        """The ``n`` groups with the largest |change|, largest first."""
        return self.table.head(n)

    def smallest(self, n: int = 10) -> Any:
        """The ``n`` groups with the smallest |change|, smallest first."""
        t = self.table
        return t.iloc[np.argsort(np.abs(t["diff"].to_numpy()), kind="stable")[:n]].reset_index(drop=True)


def compare_runs(a: Run, b: Run, layer_a: str | int | None = None, layer_b: str | int | None = None,
                 by: str = "type", min_count: int = MIN_COUNT) -> Movers:
    """How each token type (or class, position band, frequency band) moved from ``a`` to ``b``."""
    da, db = Drilldown(a, layer_a), Drilldown(b, layer_b)
    key = {"type": "shown", "class": "class"}.get(by)
    if key is None and by not in ("position", "frequency"):
        raise LIDInputError(f"by must be one of type, class, position, frequency; got {by!r}.")
    for d in (da, db):
        if by == "position":
            d.points["_g"] = position_band(d.points["position"].to_numpy())
        elif by == "frequency":
            d.points["_g"] = frequency_band(d.points["token_id"].to_numpy())
        else:
            d.points["_g"] = d.points[key]
    pa_, pb = da.points, db.points
    cols = ["sequence_id", "position", "token_id"]
    m = pa_[cols + ["lid", "_g", "seq_index"]].merge(pb[cols + ["lid"]], on=cols, suffixes=("_a", "_b"))
    paired = len(m) >= 0.5 * min(len(pa_), len(pb))
    if paired:
        d = (m["lid_b"] - m["lid_a"]).to_numpy()
        t = group_means(d, m["_g"].to_numpy(dtype=object), m["seq_index"].to_numpy())
        ga = group_means(m["lid_a"].to_numpy(), m["_g"].to_numpy(dtype=object), m["seq_index"].to_numpy())
        t = t.rename(columns={"mean": "diff"})
        t["mean_a"] = ga["mean"]
        t["mean_b"] = t["mean_a"] + t["diff"]
        ov = group_means(d, np.zeros(len(d)), m["seq_index"].to_numpy()).iloc[0]
        ova = float(np.nanmean(m["lid_a"]))
    else:
        ta = group_means(pa_["lid"].to_numpy(), pa_["_g"].to_numpy(dtype=object), pa_["seq_index"].to_numpy())
        tb = group_means(pb["lid"].to_numpy(), pb["_g"].to_numpy(dtype=object), pb["seq_index"].to_numpy())
        j = ta.join(tb, how="inner", lsuffix="_a", rsuffix="_b")
        t = j.assign(count=np.minimum(j["count_a"], j["count_b"]),
                     sequences=np.minimum(j["sequences_a"], j["sequences_b"]),
                     diff=j["mean_b"] - j["mean_a"], se=np.sqrt(j["se_a"] ** 2 + j["se_b"] ** 2))
        # Welch-like, conservative df: the smaller side's sequences - 1
        half = t_critical(t["sequences"].to_numpy() - 1) * t["se"].to_numpy()
        t["lo"], t["hi"] = t["diff"] - half, t["diff"] + half
        oa = group_means(pa_["lid"].to_numpy(), np.zeros(len(pa_)), pa_["seq_index"].to_numpy()).iloc[0]
        ob = group_means(pb["lid"].to_numpy(), np.zeros(len(pb)), pb["seq_index"].to_numpy()).iloc[0]
        se = float(np.hypot(oa["se"], ob["se"]))
        q = float(t_critical(np.asarray([min(oa["sequences"], ob["sequences"]) - 1]))[0])
        ov = {"mean": ob["mean"] - oa["mean"], "lo": ob["mean"] - oa["mean"] - q * se,
              "hi": ob["mean"] - oa["mean"] + q * se, "count": min(len(pa_), len(pb))}
        ova = float(oa["mean"])
    t = t[t["count"] >= min_count].copy()
    t["rel"] = t["diff"] / t["mean_a"]
    t.index.name = "group"
    t = t.reset_index()[["group", "count", "sequences", "mean_a", "mean_b", "diff", "lo", "hi", "rel"]]
    t = t.iloc[np.argsort(-np.abs(t["diff"].to_numpy()), kind="stable")].reset_index(drop=True)
    overall = {"diff": float(ov["mean"]), "lo": float(ov["lo"]), "hi": float(ov["hi"]),
               "rel": float(ov["mean"]) / ova, "count": int(ov["count"])}
    return Movers(t, paired, overall, by, int(len(m)))
