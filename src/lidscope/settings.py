"""The one source of every measurement default and validation rule.

Constants below are the defaults; `MeasureSettings` bundles them, validates them (before any model
is loaded) and gives a stable identity (``settings_id``) to what determines the numbers. Named
presets say which M and N each entry point uses:

============================  ==========  ==========  ===============================================
preset                        M           N           used by
============================  ==========  ==========  ===============================================
`MeasureSettings.paper()`     10,000      60,000      ``measure()`` / ``compare()`` in Python, ``--paper``
`MeasureSettings.quick()`     4,000       24,000      ``lidscope measure`` / ``lidscope compare``
`MeasureSettings.sweep()`     2,000       10,000      ``lidscope sweep``, ``sweep()``, ``MeasureSettings()``
`MeasureSettings.in_training` 500         5,000       ``LIDCallback``, ``LIDMonitor`` (max_length 128)
============================  ==========  ==========  ===============================================

L = 128, the TwoNN estimator with 10 % of the largest ratios discarded, the 150,000-token sample
and the seeds are the paper's in every preset. This module imports nothing heavy: the numerical
core, the extraction layer and the CLI all read it.

Adding a field: give it a default from a constant here. A field that changes only speed gets
``metadata=SPEED_ONLY`` (left out of the identity). A field added after results were stored gets
``metadata=ADDED`` so it joins the identity only when set to a non-default value, and the ids of
stored results stay valid.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any

from lidscope.errors import LIDInputError

# --------------------------------------------------------------------------- the defaults

#: L: neighbours per point, the point itself excluded (paper: 128).
N_NEIGHBORS = 128
#: Share of the largest TwoNN ratios dropped in every fit (skdim's default; paper: 0.1).
DISCARD_FRACTION = 0.1
#: Empirical fraction of the linear TwoNN fit, named by the scikit-dimension release it equals:
#: "skdim-0.5" F_i = i / N (current releases), "skdim-0.3.4" F_i = (i - 1) / N (the paper's lock).
TWONN_FRACTIONS = ("skdim-0.5", "skdim-0.3.4")
TWONN_FRACTION = "skdim-0.5"
#: Local estimators `lidscope.local_dimensions` knows.
ESTIMATORS = ("twonn", "twonn_mle", "mle", "lpca")
#: The paper's estimator.
ESTIMATOR = "twonn"
#: Neighbour-search / estimator backends.
BACKENDS = ("auto", "numba", "torch")
BACKEND = "auto"
#: Extra candidates searched in float32 before the float64 re-rank (protects near-ties at rank L).
EXTRA_CANDIDATES = 16
#: Token vectors drawn (without replacement) before deduplication.
SAMPLE_SIZE = 150_000
#: How the cloud finds duplicate tokens (`lidscope.cloud`): "token-context" removes a token whose
#: model input (decoder: causal prefix; encoder: whole sequence; plus the position) was drawn
#: before, then bit-identical vectors; so the points do not depend on float rounding of a batch.
DEDUP_RULE = "token-context"
#: Seed of the token sample; seed of the sequence sample.
SEED = 42
DATA_SEED = 42
#: Hidden-state indices measured (-1: last layer).
LAYERS: tuple[int, ...] = (-1,)
#: ``layers`` value (``--layer all``) for every hidden state of the model: the embedding output and each
#: block's output, as transformers' ``output_hidden_states`` gives them (a layer profile, docs/layers.md).
ALL_LAYERS = "all"
#: Truncation of each sequence, special tokens included.
MAX_LENGTH = 512
#: Batching: sequences and padded positions per forward pass (speed and memory only).
BATCH_SIZE = 64
MAX_BATCH_TOKENS = 16_384
#: Embedding cache chunks: a chunk is written once it holds this many bytes of vectors, or once this
#: many seconds of forward passes have gone into it; finished chunks survive an interrupted run
#: (Ctrl-C, kill, preemption), and the next run of the same measurement resumes after them.
CACHE_CHUNK_BYTES = 64 << 20
CACHE_CHUNK_SECONDS = 60.0

#: R: independent replicates of a measurement (own sequence and token sample each, same M and N).
#: 1 keeps one measurement, its mean without an interval (the cluster bootstrap over sequences was
#: measured 15x too narrow; docs/statistics.md says how the defaults were chosen).
N_REPLICATES = 1
#: R of ``compare`` (and of the CLI's ``lidscope compare``): paired replicates of every model. 3 is the
#: smallest R whose t-interval was calibrated here; the paired bootstrap of one replicate was measured
#: 7x too narrow (docs/statistics.md). Cost at the quick size: 1.60x and 2.12x one replicate (two
#: timings); not cut by a smaller M, which changes the measured value (docs/statistics.md, "Cost, and
#: the defaults").
COMPARE_N_REPLICATES = 3
#: Mean share of sequences two replicates have in common above which their interval is labelled as not
#: covering another choice of texts (independent draws of M texts from a pool of P share about M / P of
#: them; `lidscope.replicates.independence`). Replicates holding the same texts are always labelled.
REPLICATE_SHARED_WARNING = 0.5

#: M (sequences) and N (points) of each preset.
PAPER_SIZES = {"n_sequences": 10_000, "n_points": 60_000}
QUICK_SIZES = {"n_sequences": 4_000, "n_points": 24_000}
SWEEP_SIZES = {"n_sequences": 2_000, "n_points": 10_000}
IN_TRAINING_SIZES = {"n_sequences": 500, "n_points": 5_000, "max_length": 128}

#: Grokking experiment (method.md, Grokking): L = 64 over N = 3,000 points of one split.
GROKKING_N_NEIGHBORS = 64
GROKKING_N_POINTS = 3_000

#: Geometry descriptors (`lidscope.geometry`, docs/geometry.md): the names ``metrics`` accepts, and
#: the default (LID only: nothing gets slower unless asked).
GEOMETRY_METRICS = ("scale_profile", "gride", "persistence", "anisotropy", "spectrum", "overlap")
GEOMETRY_DEFAULT_METRICS: tuple[str, ...] = ()
#: Neighbourhood sizes L of the TwoNN scale profile: one neighbour search at the largest serves all.
SCALE_PROFILE_NEIGHBORS = (16, 32, 64, 128, 256, 512)
#: GRIDE (Denti et al. 2022): largest neighbour rank n2 of the doubling scales n1 = 1, 2, 4, ...,
#: n2 = 2 n1 (DADApy's default range_max is 64; ours reaches the profile's largest L).
GRIDE_MAX_RANK = 512
#: Bracket [d0, d1] and bisection precision of the GRIDE likelihood root (DADApy's defaults).
GRIDE_D0, GRIDE_D1, GRIDE_EPS = 0.001, 1000.0, 1e-7
#: Persistent homology: points of the random subsample (Vietoris-Rips H0/H1; 1,000 points of a 768-D
#: cloud take about a second with giotto-ph here, docs/geometry.md), the smallest cloud measured,
#: and the death/birth ratio from which an H1 feature counts as long-lived (scale-free;
#: in an 800-point torus the two loops reach 4.7 and 5.4, the next cycle 2.5).
PH_N_POINTS = 1_000
PH_MIN_POINTS = 4
PH_LONG_LIVED_RATIO = 3.0
#: RankMe's epsilon (Garrido et al. 2023) added to the normalised singular values.
RANKME_EPS = 1e-7
#: k of the neighbourhood overlap between two clouds of the same tokens.
OVERLAP_NEIGHBORS = 32

#: Field metadata: changes speed, never the values (left out of the identity).
SPEED_ONLY = {"speed_only": True}
#: Field metadata: added after results were stored; in the identity only when not at its default.
ADDED = {"added": True}


def parse_layers(text: str | int | tuple[int, ...] | list[int]) -> tuple[int, ...] | str:
    """Hidden-state indices from ``"-1"`` or ``"-4,-3,-2,-1"`` (or a sequence of ints); ``"all"``
    (`ALL_LAYERS`) is returned as is: every hidden state, resolved once the model is known.

    Raises:
        LIDInputError: not integers, or none given.
    """
    if isinstance(text, str) and text.strip().lower() == ALL_LAYERS:
        return ALL_LAYERS
    if isinstance(text, int):
        return (text,)
    if isinstance(text, (tuple, list)):
        vals = tuple(int(x) for x in text)
    else:
        try:
            vals = tuple(int(x) for x in str(text).replace(" ", "").split(",") if x)
        except ValueError:
            raise LIDInputError("layers are integers separated by commas, e.g. -1 or -4,-3,-2,-1, or 'all'; "
                                f"got {text!r}") from None
    if not vals:
        raise LIDInputError("give at least one layer index, e.g. -1.")
    return vals


def parse_measure_metrics(metrics: Any) -> tuple[str, ...]:
    """Geometry descriptors measured beside the LID (`GEOMETRY_METRICS`; ``"all"``: every one that needs
    one cloud) from a comma-separated string or a sequence; ``None`` or empty: LID only.

    Raises:
        LIDInputError: an unknown name, or ``overlap`` (it compares two clouds of the same points:
            ``lidscope geometry A --other B`` or `lidscope.neighborhood_overlap`).
    """
    if metrics is None:
        return ()
    names = [m.strip() for m in (metrics.split(",") if isinstance(metrics, str) else metrics)]
    names = [m for m in names if m and m != "lid"]
    if "all" in names:
        names = [m for m in GEOMETRY_METRICS if m != "overlap"]
    unknown = [m for m in names if m not in GEOMETRY_METRICS]
    if unknown:
        raise LIDInputError(f"unknown metric(s) {', '.join(map(repr, unknown))}: use lid, any of "
                            f"{', '.join(GEOMETRY_METRICS)}, or all.")
    if "overlap" in names:
        raise LIDInputError("the neighbourhood overlap compares two clouds of the same points, not one measurement: "
                            "use lidscope geometry A --other B, or lidscope.neighborhood_overlap.")
    return tuple(dict.fromkeys(names))


def check_backend(backend: str, device: str | None = None) -> None:
    """Raise `LIDInputError` for an unknown backend, or a CUDA device that this machine lacks."""
    if backend not in BACKENDS:
        raise LIDInputError(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)} "
                            "(auto: torch on CUDA when a GPU is visible, else numba on the CPU).")
    if device is not None and str(device).startswith("cuda"):
        try:
            import torch
        except ImportError:
            raise LIDInputError(f"device {device!r} needs torch with CUDA; torch is not installed.") from None
        if not torch.cuda.is_available():
            raise LIDInputError(f"device {device!r}: no CUDA device is visible to torch on this machine "
                                "(use --device cpu, or leave --device out).")



def check_linear_twonn(discard_fraction: float, instead: str = "estimator='twonn_mle'") -> None:
    """The one check of the rule "the linear TwoNN fit needs discard_fraction > 0" (settings, the
    estimator and `local_dimensions` all call it); ``instead`` names the alternative in the message."""
    if discard_fraction == 0:
        raise LIDInputError("the linear TwoNN fit needs discard_fraction > 0: with nothing discarded the "
                            f"largest ratio gets F = 1 and -log(1 - F) = inf. Use e.g. 0.1, or {instead}.")

@dataclass(frozen=True)
class MeasureSettings:
    """How a model is measured on texts: every default and every check in one place.

    The bare constructor gives the sweep preset (M = 2,000 sequences, N = 10,000 points, sized for
    many checkpoints on a CPU); `paper`, `quick`, `sweep` and `in_training` are the named presets.
    Every measurement with the same settings uses the same M sequences (``data_seed``) and the same
    token sample (``seed``), so values are comparable across checkpoints.

    Attributes:
        n_sequences: M, sequences sampled (None: all).
        n_points: N, distinct token vectors measured (None: all sampled).
        n_neighbors: L, neighbours per point.
        layers: hidden-state indices, or ``"all"`` (`ALL_LAYERS`: every hidden state of the model).
        sample_size: token vectors drawn before deduplication (None: all).
        seed / data_seed: seeds of the token sample and of the sequence sample (of replicate 0;
            the other replicates' seeds derive from them, `replicate_seeds`).
        max_length: truncation in tokens.
        estimator: one of `ESTIMATORS`.
        discard_fraction: share of the largest TwoNN ratios dropped in every fit.
        text_column: column holding the text in tabular data (None: ``text`` or the only one).
        batch_size / max_batch_tokens / backend: speed only, not in the identity.
        n_replicates: R independent replicates (own sequence and token samples, same M and N).
        twonn_fraction: the linear TwoNN fit's empirical fraction, by the scikit-dimension release
            it equals (`TWONN_FRACTIONS`: "skdim-0.5" i / N, "skdim-0.3.4" (i - 1) / N, the paper's).
        metrics: geometry descriptors measured beside the LID (`parse_measure_metrics`; empty: LID only).
        extra: further keyword arguments of `lidscope.measure.measure` (token rules, ...).

    Raises:
        LIDInputError: on construction, for any setting that cannot be measured (`validate`).
    """

    n_sequences: int | None = SWEEP_SIZES["n_sequences"]
    n_points: int | None = SWEEP_SIZES["n_points"]
    n_neighbors: int = N_NEIGHBORS
    layers: tuple[int, ...] | str = LAYERS
    sample_size: int | None = SAMPLE_SIZE
    seed: int = SEED
    data_seed: int = DATA_SEED
    max_length: int = MAX_LENGTH
    estimator: str = ESTIMATOR
    discard_fraction: float = DISCARD_FRACTION
    text_column: str | None = None
    batch_size: int = field(default=BATCH_SIZE, metadata=SPEED_ONLY)
    max_batch_tokens: int = field(default=MAX_BATCH_TOKENS, metadata=SPEED_ONLY)
    backend: str = field(default=BACKEND, metadata={**SPEED_ONLY, **ADDED})
    n_replicates: int = field(default=N_REPLICATES, metadata=ADDED)
    twonn_fraction: str = field(default=TWONN_FRACTION, metadata=ADDED)
    metrics: tuple[str, ...] = field(default=GEOMETRY_DEFAULT_METRICS, metadata=ADDED)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.layers != ():
            object.__setattr__(self, "layers", parse_layers(self.layers))
        object.__setattr__(self, "metrics", parse_measure_metrics(self.metrics))
        self.validate()

    # ------------------------------------------------------------------ presets
    @classmethod
    def paper(cls, **overrides: Any) -> MeasureSettings:
        """The paper's M = 10,000 sequences and N = 60,000 points."""
        return cls(**{**PAPER_SIZES, **overrides})

    @classmethod
    def quick(cls, **overrides: Any) -> MeasureSettings:
        """The command line's default: M = 4,000, N = 24,000 (a minute or two on a laptop CPU)."""
        return cls(**{**QUICK_SIZES, **overrides})

    @classmethod
    def sweep(cls, **overrides: Any) -> MeasureSettings:
        """Checkpoint sweeps: M = 2,000, N = 10,000 (the bare constructor's values)."""
        return cls(**{**SWEEP_SIZES, **overrides})

    @classmethod
    def in_training(cls, **overrides: Any) -> MeasureSettings:
        """Inside a training run (callback, monitor): M = 500, N = 5,000, max_length 128."""
        return cls(**{**IN_TRAINING_SIZES, **overrides})

    # ------------------------------------------------------------------ checks
    def validate(self) -> MeasureSettings:
        """Raise `LIDInputError` naming the fix for any setting that cannot be measured."""
        def whole(name: str, low: int, none_ok: bool = False) -> None:
            v = getattr(self, name)
            if v is None and none_ok:
                return
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise LIDInputError(f"{name} must be an integer >= {low}{' or None' if none_ok else ''}; got {v!r}.")

        if self.estimator not in ESTIMATORS:
            raise LIDInputError(f"unknown estimator {self.estimator!r}: use one of {', '.join(ESTIMATORS)}.")
        whole("n_neighbors", 3)
        whole("n_sequences", 1, none_ok=True)
        whole("n_points", 1, none_ok=True)
        whole("sample_size", 1, none_ok=True)
        whole("max_length", 1)
        whole("batch_size", 1)
        whole("max_batch_tokens", 1)
        whole("seed", 0)
        whole("data_seed", 0)
        whole("n_replicates", 1)
        if self.twonn_fraction not in TWONN_FRACTIONS:
            raise LIDInputError(f"twonn_fraction must be one of {', '.join(TWONN_FRACTIONS)} (the scikit-dimension "
                                f"release whose TwoNN fit it equals); got {self.twonn_fraction!r}.")
        if self.n_points is not None and self.n_points <= self.n_neighbors:
            raise LIDInputError(f"N = {self.n_points} points cannot give L = {self.n_neighbors} neighbours each: "
                                "N must exceed L (raise n_points or lower n_neighbors).")
        if self.sample_size is not None and self.sample_size <= self.n_neighbors:
            raise LIDInputError(f"sample_size {self.sample_size} must exceed L = {self.n_neighbors}.")
        df = self.discard_fraction
        if isinstance(df, bool) or not isinstance(df, (int, float)) or not math.isfinite(df) or not 0 <= df < 1:
            raise LIDInputError(f"discard_fraction must be in [0, 1); got {df!r}.")
        if self.estimator == "twonn":
            check_linear_twonn(df)
        if not self.layers:
            raise LIDInputError("layers needs at least one hidden-state index, e.g. (-1,).")
        check_backend(self.backend)
        return self

    # ------------------------------------------------------------------ conversions
    def replace(self, **changes: Any) -> MeasureSettings:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["layers"] = self.layers if self.layers == ALL_LAYERS else list(self.layers)
        d["metrics"] = list(self.metrics)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MeasureSettings:
        d = dict(d)
        if "layers" in d and d["layers"] != ALL_LAYERS:
            d["layers"] = tuple(d["layers"])
        return cls(**d)

    def identity(self) -> dict[str, Any]:
        """The settings that determine the numbers (speed-only fields and unset added ones left out)."""
        d = self.to_dict()
        out = {}
        for f in fields(self):
            if f.metadata.get("speed_only"):
                continue
            if f.metadata.get("added") and getattr(self, f.name) == _default(f):
                continue
            out[f.name] = d[f.name]
        return out

    @property
    def settings_id(self) -> str:
        """12 hex digits of a hash of `identity` (stable across versions for unchanged settings)."""
        text = json.dumps(self.identity(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def replicate_seeds(self) -> list[tuple[int, int]]:
        """``(data_seed, seed)`` of each of the R replicates (`replicate_seeds`)."""
        return replicate_seeds(self.data_seed, self.seed, self.n_replicates)

    def measure_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `lidscope.measure.measure` (every field, then ``extra``)."""
        kw = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {**kw, **self.extra}


def replicate_seeds(data_seed: int, seed: int, n_replicates: int) -> list[tuple[int, int]]:
    """``(data_seed, seed)`` per replicate: replicate 0 uses the given seeds (so R = 1 is today's
    measurement), replicate r > 0 two 31-bit seeds from the SHA-256 of ``data_seed/seed/r``.

    Every model measured with the same settings gets the same seeds, hence (same tokenizer) the
    same sequences and token positions in replicate r: comparisons are paired.
    """
    out = [(int(data_seed), int(seed))]
    for r in range(1, int(n_replicates)):
        h = hashlib.sha256(f"lidscope-replicate/{int(data_seed)}/{int(seed)}/{r}".encode()).digest()
        out.append((int.from_bytes(h[:4], "big") >> 1, int.from_bytes(h[4:8], "big") >> 1))
    return out


def _default(f: Any) -> Any:
    return f.default_factory() if f.default is MISSING else f.default


#: The presets as instances (for signatures and help texts).
PAPER = MeasureSettings.paper()
QUICK = MeasureSettings.quick()
SWEEP = MeasureSettings.sweep()
IN_TRAINING = MeasureSettings.in_training()
