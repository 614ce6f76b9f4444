"""`detect`: was this model trained on these texts? LID shifts and score-based baselines, side by side.

Inputs: a model, optionally the base model it was fine-tuned from, one or more candidate text sets,
and a reference set known not to be in training, drawn from the same kind of text.

Per text (all scores oriented higher = more member-like):

- ``lid``: the text's LID score. All texts' kept tokens (every candidate set and the reference) form
  one cloud per model (the same token positions for model and base); each token gets its local
  TwoNN dimension in that cloud; a text's LID is the mean over its tokens. The score is minus the
  shift from the base (``-(LID_model - LID_base)``: fine-tuning lowers LID on its data) or, without a
  base, minus the LID itself. The sign is fixed in advance, not fitted.
- causal LMs only: ``loss``, ``zlib``, ``mink``, ``minkpp`` and (with a base) ``ref``; see
  `lidscope.detect.baselines`.

Per candidate set and method: the difference of mean scores against the reference with a bootstrap
interval over texts and a one-sided permutation p-value, the text-level ROC AUC against the reference
with an interval and the TPR at 5 % FPR, and the probability of a "member" verdict from n candidate and
n reference texts (n = 10, 30, 100, 300). LID also gets its plain shifts: the paired shift against the
base (same texts and positions; a point estimate, no interval and no verdict: `NO_LID_INTERVAL`) and the
difference against the reference (with its permutation p-value).

The verdict (one method chosen before any score is seen, ``decide_by``): "member-like" when the
permutation p-value is below ``alpha``. The default, ``"auto"``, takes the best-measured method the
inputs allow (docs/detection.md): the reference-model ratio (``ref``) when a base model with an LM head
is given, else the loss, else (a model with no causal-LM head) LID, the only method left; the result
names the method and why (``decided_by``). Its false-positive rate is at most ``alpha`` *if the reference is exchangeable with
texts the model never saw*; the input checks warn wherever that looks doubtful, and every warning is
attached to the verdict it concerns.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from lidscope.detect import checks, inference
from lidscope.detect.baselines import BASELINES, MIN_K, text_scores
from lidscope.detect.forward import DETECT_RULES, DetectError, DetectModel, load_detect_model, run_texts
from lidscope.settings import DISCARD_FRACTION, N_NEIGHBORS

METHODS = ("lid", *BASELINES)
#: ``decide_by`` value that picks the best-measured method the inputs allow (`resolve_decide_by`).
AUTO = "auto"
#: Preference of ``"auto"``, best first, with the reason recorded next to the verdict.
AUTO_ORDER = (
    ("ref", "auto: the reference-model ratio, the best-measured method (docs/detection.md); it needs the base "
            "model, which was given"),
    ("loss", "auto: the loss, as no base model with an LM head was given (the reference-model ratio needs one); "
             "LID was at chance as a membership test in docs/detection.md"),
    ("lid", "auto: LID, the only method for a model without a causal-LM head; note that as a membership test "
            "it was measured at chance on decoders (docs/detection.md)"),
)


def resolve_decide_by(requested: str, methods: Sequence[str]) -> tuple[str, str]:
    """``(method, reason)``: the method behind the verdict, given the one asked for and those that ran."""
    if requested != AUTO:
        if requested not in methods:
            raise DetectError(f"decide_by={requested!r} did not run on this model (ran: {list(methods)}).")
        return requested, f"chosen by the user (decide_by={requested!r})"
    for meth, reason in AUTO_ORDER:
        if meth in methods:
            return meth, reason
    raise DetectError(f"no method to decide by among {list(methods)}.")  # pragma: no cover - lid always runs


@dataclass(frozen=True)
class DetectSettings:
    """Every choice of a detect run (recorded in ``detect.json``)."""

    layer: int = -1
    max_length: int = 128
    n_texts: int | None = 1000          # texts sampled per set when read from a data spec (None: all)
    n_points: int | None = 20_000       # LID points (tokens) over all sets; None: every kept token
    n_neighbors: int = N_NEIGHBORS
    discard_fraction: float = DISCARD_FRACTION
    seed: int = 0
    decide_by: str = AUTO               # "auto": ref, else loss, else lid (`resolve_decide_by`)
    alpha: float = inference.ALPHA
    confidence: float = inference.CONFIDENCE
    n_bootstrap: int = inference.N_BOOTSTRAP
    n_permutations: int = inference.N_PERMUTATIONS
    set_sizes: tuple[int, ...] = (10, 30, 100, 300)
    n_resamples: int = 1000
    fpr: float = 0.05
    min_k: float = MIN_K
    min_texts: int = inference.MIN_TEXTS
    batch_size: int = 32
    max_batch_tokens: int = 4096

    def __post_init__(self) -> None:
        if self.decide_by not in (AUTO, *METHODS):
            raise DetectError(f"decide_by must be one of {(AUTO, *METHODS)}, got {self.decide_by!r}.")
        if self.min_texts < 2:
            raise DetectError("min_texts must be at least 2.")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["set_sizes"] = list(self.set_sizes)
        d["token_rules"] = DETECT_RULES.to_dict()
        return d


@dataclass
class DetectResult:
    """Outcome of `detect`.

    Attributes:
        sets: per candidate set name: ``verdict``, ``trust``, ``warnings``, ``lid`` (shifts) and
            ``methods`` (per method: ``difference``, ``auc``, ``curve``).
        texts: per-text table (column -> array): ``set``, ``index``, ``text_sha256``, ``n_tokens``,
            ``n_points``, ``lid``, ``lid_base``, and ``score_<method>`` for every method run.
        methods: the methods that ran.
        warnings: every warning, also those not tied to one set.
        info: settings, model and data fingerprints, timings, environment.
    """

    sets: dict[str, dict[str, Any]]
    texts: dict[str, np.ndarray]
    methods: list[str]
    warnings: list[str]
    info: dict[str, Any] = field(default_factory=dict)
    out: Path | None = None

    def verdicts(self) -> dict[str, str]:
        return {k: v["verdict"] for k, v in self.sets.items()}

    def to_dict(self) -> dict[str, Any]:
        return {"sets": self.sets, "methods": self.methods, "warnings": self.warnings, **self.info}


def _read_set(spec: Any, s: DetectSettings) -> tuple[list[str], dict[str, Any]]:
    from lidscope.extract.texts import load_texts

    if isinstance(spec, (list, tuple)) and all(isinstance(t, str) for t in spec):
        texts = [t for t in spec if t.strip()]
        return texts, {"source": "<in-memory>", "n": len(texts)}
    try:
        t = load_texts(spec, n_sequences=s.n_texts, seed=s.seed)
    except ValueError as exc:
        raise DetectError(str(exc)) from exc
    return list(t.texts), {"source": t.source, "fingerprint": t.fingerprint, "counts": t.counts}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _lid_per_text(passes: list[Any], owner: np.ndarray, rows: np.ndarray, s: DetectSettings,
                  n_texts: int) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Pointwise LID in each model's cloud (same rows), then the mean per text."""
    from lidscope.local import local_dimensions

    per_model, info, pointwise = [], [], []
    for tp in passes:
        X = np.concatenate(tp.vectors)[rows]
        ld = local_dimensions(X, n_neighbors=s.n_neighbors, discard_fraction=s.discard_fraction)
        est = ld.estimates
        pointwise.append(est)
        sums = np.bincount(owner, weights=np.where(np.isfinite(est), est, 0.0), minlength=n_texts)
        cnt = np.bincount(owner, weights=np.isfinite(est).astype(float), minlength=n_texts)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_model.append(np.where(cnt > 0, sums / np.maximum(cnt, 1), np.nan))
        info.append({"points": int(X.shape[0]), "duplicates_removed": int(ld.n_duplicates_removed),
                     "undefined": int(ld.n_undefined), "mean": float(np.nanmean(est)),
                     "global": float(ld.global_estimate), "seconds": ld.timings.get("total")})
    return per_model, {"clouds": info, "points_per_text": np.bincount(owner, minlength=n_texts), "pointwise": pointwise}


#: Why the set's mean LID and its shift from the base carry no interval and no verdict.
NO_LID_INTERVAL = (
    "one cloud per model: no interval and no verdict. The bootstrap over texts holds that cloud fixed and was "
    "measured 15x too narrow for a mean and 7x for a paired shift (docs/statistics.md), so it decides nothing; "
    "the calibrated LID test here is the lid method's permutation test against the reference "
    "(methods.lid.difference)")


def _lid_shifts(name: str, mk: np.ndarray, ref_mask: np.ndarray, set_of: np.ndarray, lid_m: np.ndarray,
                lid_info: dict[str, Any], paired: bool, s: DetectSettings, seed: int) -> dict[str, Any]:
    """Mean LID of the set (token mean), its paired shift from the base and its difference from the reference.

    The mean and the shift are point estimates with no interval and no verdict (`NO_LID_INTERVAL`); the
    cluster bootstrap over texts is kept beside them as ``interval_bootstrap``, named for what it holds fixed.
    The difference from the reference (per-text means) has a one-sided permutation p-value, valid when the
    reference is exchangeable with the set, and a bootstrap interval over texts within the one cloud."""
    from lidscope.stats import cluster_bootstrap, paired_cluster_bootstrap

    owner = lid_info["owner"]
    est = lid_info["pointwise"]
    text_set = set_of[owner]
    lvl = dict(level=s.confidence, n_boot=s.n_bootstrap, seed=seed)
    held = "the cloud held fixed (bootstrap over texts): not an interval of the mean or of a change"
    out: dict[str, Any] = {"note": NO_LID_INTERVAL}
    for label, which in (("mean", name), ("mean_reference", "reference")):
        ok = (text_set == which) & np.isfinite(est[0])
        bs = cluster_bootstrap(est[0][ok], owner[ok], **lvl)
        out[label] = {"estimate": bs.estimate, "points": int(ok.sum()), "texts": int(np.unique(owner[ok]).size),
                      "interval": None, "interval_bootstrap": {**bs.to_dict(), "holds": held}}
    out["vs_reference"] = inference.difference(lid_m[mk], lid_m[ref_mask], confidence=s.confidence,
                                               n_boot=s.n_bootstrap, n_perm=s.n_permutations, seed=seed)
    out["vs_reference"]["unit"] = "mean of per-text LID, set minus reference"
    out["vs_reference"]["interval_holds"] = ("texts resampled within each set, in the one cloud; the p-value "
                                             "(permutation of texts between the sets) is the calibrated part")
    if paired:
        for label, which in (("vs_base", name), ("reference_vs_base", "reference")):
            ok = (text_set == which) & np.isfinite(est[0]) & np.isfinite(est[1])
            b_iv, _, diff, rel = paired_cluster_bootstrap(est[1][ok], owner[ok], est[0][ok], owner[ok], **lvl)
            out[label] = {"estimate": diff.estimate, "relative": {"estimate": rel.estimate},
                          "base_mean": b_iv.estimate, "interval": None,
                          "verdict": "no verdict (one cloud per model; see note)",
                          "paired": "same texts and token positions in model and base",
                          "interval_bootstrap": {**diff.to_dict(), "relative": rel.to_dict(), "holds": held}}
    return out


def detect(
    model: Any,
    candidates: Mapping[str, Any] | Sequence[Any],
    reference: Any,
    *,
    base: Any = None,
    settings: DetectSettings | None = None,
    out: str | Path | None = None,
    tokenizer: Any = None,
    base_tokenizer: Any = None,
    progress: Callable[[str, int, int], None] | None = None,
    cache: dict[Any, Any] | None = None,
) -> DetectResult:
    """Which candidate text sets was ``model`` trained on? See the module docstring.

    Args:
        model: bundled name, local model folder, ``.gguf`` file, or an in-memory ``transformers``
            model (then pass ``tokenizer``).
        candidates: ``{name: texts}`` or a list (named ``candidate-0``, ...); texts are a data spec
            (``chitchat:validation``, a file, ``PATH:SPLIT``) or a list of strings.
        reference: texts known not to be in training, of the same kind as the candidates.
        base: the model before fine-tuning (same tokenizer), for the paired shift and the
            reference-model baseline.
        out: run folder for ``detect.json``, ``texts.parquet``, ``curves.parquet`` and ``roc.png``.
        cache: a dict kept by the caller across calls: forward passes of a model (by fingerprint) over
            the same texts and settings are reused (e.g. one base pass for several checkpoints).

    Raises:
        DetectError: too few texts, a base with another tokenizer, a missing model or data.
    """
    s = settings or DetectSettings()
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    if not isinstance(candidates, Mapping):
        candidates = {f"candidate-{i}": c for i, c in enumerate(candidates)}
    if not candidates:
        raise DetectError("give at least one candidate text set.")
    if "reference" in candidates:
        raise DetectError("'reference' is reserved for the reference set; rename that candidate set.")
    sets: dict[str, list[str]] = {}
    data_info: dict[str, Any] = {}
    for name, spec in {**candidates, "reference": reference}.items():
        sets[name], data_info[name] = _read_set(spec, s)
    checks.check_sizes(sets, s.min_texts)
    names = list(candidates)

    t = time.perf_counter()
    m = load_detect_model(model, tokenizer)
    b = load_detect_model(base, base_tokenizer) if base is not None else None
    timings["load_models"] = time.perf_counter() - t
    all_texts = [x for k in [*names, "reference"] for x in sets[k]]
    set_of = np.asarray([k for k in [*names, "reference"] for _ in sets[k]], dtype=object)
    if b is not None:
        checks.check_tokenizers(m, b, all_texts, s.max_length)

    kw = dict(layer=s.layer, max_length=s.max_length, batch_size=s.batch_size, max_batch_tokens=s.max_batch_tokens)
    texts_key = hashlib.sha256("\x00".join(all_texts).encode("utf-8")).hexdigest()

    def forward(dm: DetectModel, stage: str) -> Any:
        key = (dm.fingerprint.get("id"), texts_key, tuple(sorted(kw.items())))
        if cache is not None and key in cache:
            timings[stage] = 0.0
            return cache[key]
        t = time.perf_counter()
        res = run_texts(dm, all_texts, progress=progress, stage=stage, **kw)
        timings[stage] = time.perf_counter() - t
        if cache is not None:
            cache[key] = res
        return res

    tp = forward(m, "forward (model)")
    bp = forward(b, "forward (base)") if b is not None else None
    if bp is not None:
        if any(not np.array_equal(x, y) for x, y in zip(tp.ids, bp.ids)):  # pragma: no cover - tokenizers checked
            raise DetectError("model and base tokenised the texts differently; positions cannot be paired.")

    warnings: list[str] = []
    set_warn: dict[str, list[str]] = {k: [] for k in names}
    if tp.n_at_max_length:
        warnings.append(f"{tp.n_at_max_length} of {len(all_texts)} texts were cut at max_length = {s.max_length} "
                        f"tokens; scores describe their first {s.max_length} tokens only.")
    n_tok = np.asarray([len(x) for x in tp.ids])
    ref_mask = set_of == "reference"
    for k in names:
        mk = set_of == k
        set_warn[k] += checks.check_comparable(k, n_tok[mk], n_tok[ref_mask], sets[k], sets["reference"])

    # ---- LID: one cloud per model over every text's kept tokens (same rows for model and base)
    t = time.perf_counter()
    owner_all = np.concatenate([np.full(len(v), i) for i, v in enumerate(tp.vectors)]).astype(np.int64)
    n_all = owner_all.size
    rng = np.random.default_rng(s.seed)
    rows = np.sort(rng.choice(n_all, size=s.n_points, replace=False)) if s.n_points and n_all > s.n_points \
        else np.arange(n_all)
    if rows.size <= s.n_neighbors:
        raise DetectError(f"only {rows.size} token vectors over all texts: LID needs more than L = {s.n_neighbors} "
                          f"(more or longer texts, or a smaller n_neighbors).")
    passes = [tp] + ([bp] if bp is not None else [])
    lids, lid_info = _lid_per_text(passes, owner_all[rows], rows, s, len(all_texts))
    lid_info["owner"] = owner_all[rows]
    timings["lid"] = time.perf_counter() - t
    lid_m = lids[0]
    lid_b = lids[1] if bp is not None else np.full(len(all_texts), np.nan)

    # ---- per-text scores
    scores: dict[str, np.ndarray] = {"lid": -(lid_m - lid_b) if bp is not None else -lid_m}
    methods = ["lid"]
    base_nll = None
    if tp.token_logprob is not None:
        rows_m = [text_scores(tp.token_logprob[i], tp.vocab_mean[i], tp.vocab_std[i],
                              m.tokenizer.decode(tp.ids[i], skip_special_tokens=True), s.min_k)
                  for i in range(len(all_texts))]
        for key in ("loss", "zlib", "mink", "minkpp"):
            scores[key] = np.asarray([r[key] for r in rows_m])
        methods += ["loss", "zlib", "mink", "minkpp"]
        if bp is not None and bp.token_logprob is not None:
            base_nll = np.asarray([-np.mean(x) if x.size else np.nan for x in bp.token_logprob])
            scores["ref"] = base_nll - np.asarray([r["nll"] for r in rows_m])
            methods.append("ref")
        elif bp is not None:
            warnings.append("the base model has no causal-LM head: the reference-model baseline (ref) was skipped.")
    else:
        warnings.append(f"{m.name} has no causal-LM head ({m.info.get('lm_head', 'an encoder')}): loss, zlib, Min-K%, "
                        f"Min-K%++ and the reference-model ratio need next-token probabilities and were skipped; "
                        f"LID works on any model.")
    decided_by, decided_why = resolve_decide_by(s.decide_by, methods)

    # ---- per set
    t = time.perf_counter()
    out_sets: dict[str, dict[str, Any]] = {}
    for i, k in enumerate(names):
        mk = set_of == k
        kseed = s.seed + 1000 * (i + 1)
        per: dict[str, Any] = {}
        for meth in methods:
            a, r = scores[meth][mk], scores[meth][ref_mask]
            per[meth] = {
                "difference": inference.difference(a, r, confidence=s.confidence, n_boot=s.n_bootstrap,
                                                   n_perm=s.n_permutations, seed=kseed),
                "auc": inference.auc(a, r, confidence=s.confidence, n_boot=s.n_bootstrap, fpr=s.fpr, seed=kseed),
                "curve": inference.detection_curve(a, r, s.set_sizes, alpha=s.alpha, n_resamples=s.n_resamples,
                                                   seed=kseed),
            }
        lid = _lid_shifts(k, mk, ref_mask, set_of, lid_m, lid_info, bp is not None, s, kseed)
        if base_nll is not None:
            base_auc = inference.auc(-base_nll[mk], -base_nll[ref_mask], confidence=s.confidence,
                                     n_boot=s.n_bootstrap, seed=kseed)
            lid["base_loss_auc"] = base_auc
            set_warn[k] += checks.check_base_separates(k, base_auc)
        d = per[decided_by]["difference"]
        if d["p_value"] < s.alpha and d["estimate"] > 0:
            verdict = "member-like: scores higher than the reference"
        elif d["high"] < 0:
            verdict = ("no membership signal; scores lower than the reference (the reference looks more like training "
                       "data than this set: check how it was drawn)")
        else:
            verdict = "no detectable membership signal"
        curve_at = [c for c in per[decided_by]["curve"] if c["p_member_verdict"] is not None]
        out_sets[k] = {
            "n_texts": int(mk.sum()), "verdict": verdict, "decided_by": decided_by,
            "score": d["estimate"], "p_value": d["p_value"],
            "error_rate": {
                "false_positive_bound": s.alpha,
                "assumes": "the reference is exchangeable with texts the model never saw (same kind of text)",
                "text_level_auc": per[decided_by]["auc"]["auc"],
                "p_member_verdict_by_n": {c["n"]: c["p_member_verdict"] for c in curve_at},
            },
            "trust": "ok" if not set_warn[k] else "questionable: " + " | ".join(set_warn[k]),
            "warnings": set_warn[k], "lid": lid, "methods": per, "data": data_info[k],
        }
        warnings += set_warn[k]
    timings["inference"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t_start

    from lidscope.provenance import environment

    texts_table = {
        "set": set_of.astype(str), "index": np.concatenate([np.arange(len(sets[k])) for k in [*names, "reference"]]),
        "text_sha256": np.asarray([_sha(x) for x in all_texts]), "n_tokens": n_tok,
        "n_points": lid_info["points_per_text"], "lid": lid_m, "lid_base": lid_b,
        **{f"score_{k}": v for k, v in scores.items()},
    }
    info = {
        "settings": s.to_dict(), "timings": timings,
        "decided_by": {"method": decided_by, "requested": s.decide_by, "reason": decided_why},
        "model": {"name": m.name, "source": m.source, "fingerprint": m.fingerprint, "info": m.info,
                  "causal_lm": m.is_causal_lm},
        "base": None if b is None else {"name": b.name, "source": b.source, "fingerprint": b.fingerprint,
                                        "info": b.info, "causal_lm": b.is_causal_lm},
        "data": {"reference": data_info["reference"], **{k: data_info[k] for k in names}},
        "lid_clouds": lid_info["clouds"], "environment": environment(),
        "score_orientation": "higher = more member-like for every method",
    }
    res = DetectResult(out_sets, texts_table, methods, warnings, info)
    if out is not None:
        from lidscope.detect.outputs import write_detect

        res.out = write_detect(res, out)
    return res
