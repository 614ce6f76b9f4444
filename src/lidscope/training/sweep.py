"""Sweeps: measure every saved checkpoint of a training run on every dataset/split.

A sweep is planned, then executed:

1. `discover_checkpoints` finds Hugging Face ``checkpoint-<step>`` folders under run folders (or
   takes model folders with an explicit step, ``PATH@STEP``), checks that each holds weights, and
   that all checkpoints share one tokenizer.
2. `plan_sweep` turns checkpoints x data specs into a `SweepPlan`: one `SweepJob` per checkpoint
   (the model is loaded once per job) with one *unit* per data spec; each unit is one row file of
   the `ResultsStore`. Units already in the store are left out, so re-running an interrupted sweep
   recomputes nothing. Trainer metrics (``trainer_state.json`` log history) are copied to the store.
3. `run_sweep` hands the jobs (JSON dicts) to an executor (`lidscope.executors`); a failing job is
   recorded in the store and reported, never fatal.

Every checkpoint is measured on the same sampled sequences (same data spec, M and seed) and the
same token sample, so values are comparable over steps; each row records the data fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lidscope.outputs import write_json
from lidscope.settings import MeasureSettings
from lidscope.training.settings import rows_from_measure
from lidscope.training.store import ResultsStore, StoreError, now_utc, read_log_history

CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
_WEIGHT_GLOBS = ("*.safetensors", "*.bin", "*.pt", "*.pth")
_VOCAB_FILES = ("vocab.txt", "vocab.json", "merges.txt", "tokenizer.model", "spiece.model",
                "sentencepiece.bpe.model")
_SEED_RE = re.compile(r"(?:^|[-_.])seed[-_]?(\d+)(?:$|[-_.])")

Event = Callable[[str, dict[str, Any]], None]


class SweepError(ValueError):
    """A sweep that cannot be planned (no checkpoints, mixed tokenizers, bad data); names the fix."""


@dataclass
class Checkpoint:
    """One model folder to measure, with its training step and run."""

    path: str
    step: int
    run: str
    seed: int | None = None
    run_dir: str | None = None

    @property
    def name(self) -> str:
        return f"{self.run}@{self.step}"


@dataclass
class SweepJob:
    """One checkpoint to load and measure on each of its units (data specs). JSON-serialisable."""

    job_id: str
    checkpoint: dict[str, Any]
    units: list[dict[str, Any]]  # {"unit_id", "data"}
    settings: dict[str, Any]
    store: str
    tokenizer: str | None = None
    base_model: str | None = None
    use_cache: bool = False
    cache_dir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SweepJob:
        return cls(**d)


@dataclass
class SweepPlan:
    """Jobs still to run, what was skipped and why, and how many units were already finished."""

    store: str
    settings: dict[str, Any]
    data: list[str]
    checkpoints: list[Checkpoint]
    jobs: list[SweepJob]
    skipped: list[dict[str, str]] = field(default_factory=list)
    already_done: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def n_units(self) -> int:
        return sum(len(j.units) for j in self.jobs)

    def to_dict(self) -> dict[str, Any]:
        return {"store": self.store, "settings": self.settings, "data": self.data,
                "checkpoints": [asdict(c) for c in self.checkpoints],
                "jobs": [j.to_dict() for j in self.jobs], "skipped": self.skipped,
                "already_done": self.already_done, "notes": self.notes}


@dataclass
class SweepReport:
    """Outcome of `run_sweep`."""

    store: ResultsStore
    finished: list[str]
    failed: list[dict[str, Any]]
    skipped: list[dict[str, str]]
    already_done: int
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def table(self) -> Any:
        """The store's rows (pandas DataFrame)."""
        return self.store.read()


# ---------------------------------------------------------------------------- discovery


def has_weights(folder: Path) -> bool:
    """True if ``folder`` holds model or adapter weights."""
    return any(any(folder.glob(g)) for g in _WEIGHT_GLOBS)


def _seed_of(name: str) -> int | None:
    m = _SEED_RE.search(name)
    return int(m.group(1)) if m else None


def _parse_spec(spec: str | os.PathLike[str] | tuple[Any, int]) -> tuple[Path, int | None]:
    if isinstance(spec, tuple):
        return Path(spec[0]), int(spec[1])
    text = os.fspath(spec)
    if "@" in text and not Path(text).exists():
        base, _, step = text.rpartition("@")
        try:
            return Path(base), int(step)
        except ValueError:
            raise SweepError(f"{text!r}: the step after '@' must be an integer, e.g. model_dir@500.") from None
    return Path(text), None


def discover_checkpoints(
    specs: Sequence[str | os.PathLike[str] | tuple[Any, int]],
) -> tuple[list[Checkpoint], list[dict[str, str]]]:
    """Checkpoints from run folders, ``checkpoint-<step>`` folders, or ``PATH@STEP`` model folders.

    Returns ``(checkpoints, skipped)``; ``skipped`` lists folders without weights with the reason.

    Raises:
        SweepError: a path that does not exist, a model folder without a step, no checkpoints.
    """
    found: list[Checkpoint] = []
    skipped: list[dict[str, str]] = []

    def add(folder: Path, step: int, run: str, run_dir: Path | None) -> None:
        if not has_weights(folder):
            skipped.append({"checkpoint": str(folder), "reason":
                            "no weights (*.safetensors / *.bin) in the folder: the checkpoint is incomplete "
                            "(interrupted save?) and is skipped"})
            return
        found.append(Checkpoint(str(folder.resolve()), step, run, _seed_of(run),
                                str(run_dir.resolve()) if run_dir else None))

    for spec in specs:
        path, step = _parse_spec(spec)
        if not path.exists():
            raise SweepError(f"{path} does not exist. Pass a training output folder (with checkpoint-<step> "
                             "sub-folders), a checkpoint-<step> folder, or MODEL_DIR@STEP.")
        if not path.is_dir():
            raise SweepError(f"{path} is a file; pass a folder (a run folder or a model folder).")
        m = CHECKPOINT_RE.match(path.name)
        if step is not None:
            add(path, step, path.parent.name if m else path.name, path.parent if m else None)
            continue
        if m:
            add(path, int(m.group(1)), path.parent.name, path.parent)
            continue
        children = sorted((c for c in path.iterdir() if c.is_dir() and CHECKPOINT_RE.match(c.name)),
                          key=lambda c: int(CHECKPOINT_RE.match(c.name).group(1)))  # type: ignore[union-attr]
        if children:
            for c in children:
                add(c, int(CHECKPOINT_RE.match(c.name).group(1)), path.name, path)  # type: ignore[union-attr]
            continue
        if (path / "config.json").is_file():
            raise SweepError(f"{path} is a model folder without a step: pass it as {path}@STEP "
                             "(e.g. @0 for the base model).")
        raise SweepError(f"{path} holds no checkpoint-<step> folders and no model (config.json). Pass the "
                         "Trainer's output_dir, checkpoint folders, or MODEL_DIR@STEP.")
    if not found:
        detail = "; ".join(f"{s['checkpoint']}: {s['reason']}" for s in skipped)
        raise SweepError("no usable checkpoints found" + (f" ({detail})" if detail else "") + ".")
    found.sort(key=lambda c: (c.run, c.step))
    return found, skipped


def tokenizer_identity(folder: str | os.PathLike[str]) -> str | None:
    """A fingerprint of the vocabulary in a model folder, or None if it holds no tokenizer files.

    Uses the vocabulary and added tokens of ``tokenizer.json`` (not the file bytes, which change
    with the library version that wrote them), else the bytes of the vocabulary files.
    """
    folder = Path(folder)
    h = hashlib.sha256()
    tj = folder / "tokenizer.json"
    if tj.is_file():
        try:
            obj = json.loads(tj.read_text(encoding="utf-8"))
            model = obj.get("model", {})
            part = {"type": model.get("type"), "vocab": model.get("vocab"), "merges": model.get("merges"),
                    "added": sorted((t.get("id"), t.get("content")) for t in obj.get("added_tokens", []))}
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
            return h.hexdigest()[:16]
        except (ValueError, AttributeError):
            h.update(tj.read_bytes())
            return h.hexdigest()[:16]
    files = [folder / n for n in _VOCAB_FILES if (folder / n).is_file()]
    if not files:
        return None
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _tokenizer_for(ckpt: Checkpoint, tokenizer: str | None) -> str | None:
    """The folder whose tokenizer is used for a checkpoint (explicit, own, else the run folder's)."""
    if tokenizer:
        return tokenizer
    if tokenizer_identity(ckpt.path) is not None:
        return None
    if ckpt.run_dir and tokenizer_identity(ckpt.run_dir) is not None:
        return ckpt.run_dir
    return None


def check_tokenizers(checkpoints: Sequence[Checkpoint], tokenizer: str | None = None) -> list[str]:
    """Raise `SweepError` if checkpoints carry different vocabularies; return notes.

    With ``tokenizer`` given, that tokenizer is used for every checkpoint and nothing is checked.
    """
    if tokenizer:
        if tokenizer_identity(tokenizer) is None:
            raise SweepError(f"--tokenizer {tokenizer} holds no tokenizer files (tokenizer.json, vocab.txt, ...).")
        return [f"tokenizer of {tokenizer} used for every checkpoint"]
    groups: dict[str, list[str]] = {}
    missing: list[str] = []
    for c in checkpoints:
        src = _tokenizer_for(c, None)
        ident = tokenizer_identity(src or c.path)
        if ident is None:
            missing.append(c.path)
        else:
            groups.setdefault(ident, []).append(c.name)
    if missing:
        raise SweepError(
            f"{len(missing)} checkpoint(s) have no tokenizer files (e.g. {missing[0]}), and neither does their "
            "run folder. Pass --tokenizer DIR (Python: tokenizer=DIR) naming the folder of the tokenizer used "
            "in training, or save it with Trainer(processing_class=tokenizer)."
        )
    if len(groups) > 1:
        detail = "; ".join(f"tokenizer {k}: {', '.join(v[:4])}{' ...' if len(v) > 4 else ''}"
                           for k, v in groups.items())
        raise SweepError(
            f"checkpoints use {len(groups)} different tokenizers ({detail}). Token clouds from different "
            "vocabularies are not comparable over steps: sweep each run separately, or pass --tokenizer DIR "
            "to measure all with one tokenizer."
        )
    return []


# ---------------------------------------------------------------------------- metrics


def collect_trainer_metrics(store: ResultsStore, checkpoints: Sequence[Checkpoint]) -> dict[str, int]:
    """Copy each run's ``trainer_state.json`` log history into the store; returns records per run.

    The most complete log history of a run is used: the one in the run folder or in its latest
    checkpoint, whichever holds more entries.
    """
    by_run: dict[str, list[Path]] = {}
    for c in checkpoints:
        cands = by_run.setdefault(c.run, [])
        cands.append(Path(c.path) / "trainer_state.json")
        if c.run_dir:
            cands.append(Path(c.run_dir) / "trainer_state.json")
    out: dict[str, int] = {}
    for run, paths in by_run.items():
        best: list[tuple[int, str, float]] = []
        for p in paths:
            if p.is_file():
                try:
                    recs = read_log_history(p)
                except StoreError:
                    continue
                if len(recs) > len(best):
                    best = recs
        if best:
            # keep entries already logged by an in-training LIDCallback for this run
            store.append_metrics(run, best)
        out[run] = len(best)
    return out


# ---------------------------------------------------------------------------- planning


def _weights_stamp(folder: str) -> list[tuple[str, int, int]]:
    files = sorted(f for g in _WEIGHT_GLOBS for f in Path(folder).glob(g))
    return [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files]


def unit_id(ckpt: Checkpoint, data: str, settings: MeasureSettings, tokenizer: str | None) -> str:
    """Identity of one measurement: checkpoint (path, step, weight files), data spec, settings."""
    key = {"path": ckpt.path, "step": ckpt.step, "run": ckpt.run, "weights": _weights_stamp(ckpt.path),
           "data": data, "settings": settings.settings_id, "tokenizer": tokenizer}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return f"{re.sub(r'[^A-Za-z0-9]+', '-', ckpt.run)[:24]}-{ckpt.step}-{digest}"


def _check_data(data: Sequence[str], settings: MeasureSettings) -> None:
    from lidscope.extract.texts import load_texts

    if not data:
        raise SweepError("no data given: pass at least one --data SPEC (e.g. chitchat:validation).")
    for spec in data:
        try:
            load_texts(spec, text_column=settings.text_column, n_sequences=settings.n_sequences,
                       seed=settings.data_seed)
        except ValueError as exc:
            raise SweepError(f"data {spec!r}: {exc}") from None


def plan_sweep(
    checkpoints: Sequence[str | os.PathLike[str] | tuple[Any, int]] | Sequence[Checkpoint],
    data: Sequence[str],
    store: str | os.PathLike[str] | ResultsStore,
    settings: MeasureSettings | None = None,
    *,
    tokenizer: str | os.PathLike[str] | None = None,
    base_model: str | os.PathLike[str] | None = None,
    use_cache: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    check_data: bool = True,
    write: bool = True,
) -> SweepPlan:
    """Plan the measurements still missing from ``store``.

    Args:
        checkpoints: run folders, ``checkpoint-<step>`` folders, ``PATH@STEP`` strings, ``(path, step)``
            tuples, or `Checkpoint` objects.
        data: data specs (``chitchat:validation``, files, ...), one unit each per checkpoint.
        store: results store folder.
        settings: measurement settings (default `MeasureSettings.sweep()`).
        tokenizer: tokenizer folder to use for every checkpoint (for checkpoints saved without one).
        base_model: base model folder for LoRA adapter checkpoints whose ``adapter_config.json`` does
            not name a local one.
        use_cache / cache_dir: keep token vectors in lidscope's embedding cache (off: every
            checkpoint's vectors are new anyway, and the per-token LID values are stored).
        check_data: read every data spec once to fail early on a bad one.
        write: create the store, collect trainer metrics and write ``plan.json`` (False: only read,
            e.g. for a dry run).

    Raises:
        SweepError: see `discover_checkpoints` and `check_tokenizers`; a bad data spec.
    """
    settings = settings or MeasureSettings.sweep()
    st = store if isinstance(store, ResultsStore) else ResultsStore(store)
    tok = os.fspath(tokenizer) if tokenizer is not None else None
    if checkpoints and all(isinstance(c, Checkpoint) for c in checkpoints):
        ckpts: list[Checkpoint] = list(checkpoints)  # type: ignore[arg-type]
        skipped: list[dict[str, str]] = []
    else:
        ckpts, skipped = discover_checkpoints(checkpoints)  # type: ignore[arg-type]
    notes = check_tokenizers(ckpts, tok)
    if check_data:
        _check_data(data, settings)
    if write:
        st.ensure()
        collect_trainer_metrics(st, ckpts)
    done = st.done_ids()
    jobs: list[SweepJob] = []
    already = 0
    for c in ckpts:
        tok_c = _tokenizer_for(c, tok)
        units = []
        for spec in data:
            uid = unit_id(c, spec, settings, tok_c)
            if uid in done:
                already += 1
            else:
                units.append({"unit_id": uid, "data": spec})
        if units:
            jid = hashlib.sha256("|".join(u["unit_id"] for u in units).encode()).hexdigest()[:12]
            jobs.append(SweepJob(jid, asdict(c), units, settings.to_dict(), str(st.path), tok_c,
                                 os.fspath(base_model) if base_model else None, use_cache,
                                 os.fspath(cache_dir) if cache_dir else None))
    plan = SweepPlan(str(st.path), settings.to_dict(), list(data), ckpts, jobs, skipped, already, notes)
    if write:
        write_json(st.path / "plan.json", {**plan.to_dict(), "planned_utc": now_utc()})
    return plan


# ---------------------------------------------------------------------------- running


def load_checkpoint(
    path: str | os.PathLike[str], tokenizer: str | None = None, base_model: str | None = None
) -> tuple[Any, Any]:
    """Load a checkpoint folder for measurement: ``(model, tokenizer)``, locally only.

    A LoRA/PEFT adapter folder (``adapter_config.json``) is applied to its base model and merged.
    A model saved with a head (``*ForCausalLM``, ``*ForSequenceClassification``, ...) is returned as
    is; `lidscope.measure.measure` runs its base model.

    Raises:
        lidscope.extract.ModelLoadError: missing or corrupt files, with the fix.
    """
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from lidscope.extract.errors import ModelLoadError

    folder = Path(path)
    tok_dir = Path(tokenizer) if tokenizer else folder
    try:
        tok = AutoTokenizer.from_pretrained(str(tok_dir), local_files_only=True)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"could not load a tokenizer from {tok_dir}: {type(exc).__name__}: {exc}. "
                             "Pass --tokenizer DIR naming the training tokenizer.") from exc
    if not has_weights(folder):
        raise ModelLoadError(f"no weights (*.safetensors, *.bin) in {folder}: incomplete checkpoint.")
    try:
        if (folder / "adapter_config.json").is_file():
            model = _load_adapter(folder, base_model)
        else:
            config = AutoConfig.from_pretrained(str(folder), local_files_only=True)
            arch = (getattr(config, "architectures", None) or [None])[0]
            import transformers

            cls = getattr(transformers, arch, None) if arch else None
            model = (cls or AutoModel).from_pretrained(str(folder), local_files_only=True)
    except ModelLoadError:
        raise
    except Exception as exc:  # noqa: BLE001 -- transformers raises many types for bad folders
        raise ModelLoadError(f"could not load the checkpoint {folder}: {type(exc).__name__}: {exc}. "
                             "The folder is incomplete or corrupt (truncated weights?); it is skipped.") from exc
    import torch

    if torch.cuda.is_available():  # on a GPU worker (e.g. a Ray job given num_gpus=1) measure there
        model = model.to("cuda")
    return model, tok


def _load_adapter(folder: Path, base_model: str | None) -> Any:
    from transformers import AutoModelForCausalLM

    from lidscope.extract.errors import ModelLoadError

    try:
        import peft
    except ImportError:
        raise ModelLoadError(f"{folder} is a PEFT/LoRA adapter: install peft (`pip install 'lidscope[train]'`)."
                             ) from None
    cfg = json.loads((folder / "adapter_config.json").read_text())
    base = base_model or cfg.get("base_model_name_or_path")
    if not base or not Path(base).is_dir():
        raise ModelLoadError(f"{folder} is a LoRA adapter whose base model {base!r} is not a local folder: "
                             "pass --base-model DIR.")
    model = AutoModelForCausalLM.from_pretrained(base, local_files_only=True)
    return peft.PeftModel.from_pretrained(model, str(folder)).merge_and_unload()


def run_checkpoint_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Job function: load one checkpoint, measure each unfinished unit, store each row file.

    Module-level and driven by a JSON payload (`SweepJob.to_dict`) so that any executor can run it.
    """
    import torch

    from lidscope.measure import measure

    job = SweepJob.from_dict(payload)
    store = ResultsStore(job.store)
    settings = MeasureSettings.from_dict(job.settings)
    ckpt = Checkpoint(**job.checkpoint)
    todo = [u for u in job.units if not store.is_done(u["unit_id"])]
    if not todo:
        return {"units_done": [], "units_already_done": [u["unit_id"] for u in job.units], "seconds": 0.0}
    t0 = time.perf_counter()
    model, tok = load_checkpoint(ckpt.path, job.tokenizer, job.base_model)
    load_s = time.perf_counter() - t0
    done = []
    with torch.inference_mode():
        for u in todo:
            t = time.perf_counter()
            out = store.job_dir(u["unit_id"])
            r = measure(model, u["data"], tokenizer=tok, model_name=ckpt.name, out=out, figures=False,
                        use_cache=job.use_cache, cache_dir=job.cache_dir, **settings.measure_kwargs())
            rel = os.path.relpath(out, store.path)
            rows = rows_from_measure(r, settings=settings, job_id=u["unit_id"], source="sweep", run=ckpt.run,
                                     step=ckpt.step, data=u["data"], checkpoint=ckpt.path, seed=ckpt.seed,
                                     tokens_file=f"{rel}/tokens.parquet", summary_file=f"{rel}/summary.json",
                                     seconds=time.perf_counter() - t)
            store.add_rows(u["unit_id"], rows)
            done.append(u["unit_id"])
    del model
    return {"units_done": done, "load_seconds": load_s, "seconds": time.perf_counter() - t0}


def run_sweep(plan: SweepPlan, executor: Any = "local", on_event: Event | None = None) -> SweepReport:
    """Run a plan's jobs with an executor; failures are recorded in the store and reported.

    Args:
        plan: from `plan_sweep`.
        executor: an executor name (``local``) or object (`lidscope.executors.Executor`).
        on_event: ``on_event(kind, info)`` with kind ``done`` or ``failed`` per job.
    """
    from lidscope.executors import get_executor

    ex = get_executor(executor)
    store = ResultsStore(plan.store)
    t0 = time.perf_counter()
    finished: list[str] = []
    failed: list[dict[str, Any]] = []
    for outcome in ex.map(run_checkpoint_job, [j.to_dict() for j in plan.jobs]):
        ck = outcome.payload["checkpoint"]
        if outcome.ok:
            finished.extend(outcome.result.get("units_done", []) if outcome.result else [])
            if on_event:
                on_event("done", {"checkpoint": ck["path"], "step": ck["step"], "seconds": outcome.seconds})
        else:
            info = {"job_id": outcome.payload["job_id"], "checkpoint": ck["path"], "step": ck["step"],
                    "error": outcome.error, "traceback": outcome.traceback}
            store.record_failure(outcome.payload["job_id"], info)
            failed.append(info)
            if on_event:
                on_event("failed", info)
    notes = list(plan.notes) + _consistency_notes(store)
    return SweepReport(store, finished, failed, plan.skipped, plan.already_done, time.perf_counter() - t0, notes)


def _consistency_notes(store: ResultsStore) -> list[str]:
    """Warn if one data spec was measured on different sequences for different checkpoints."""
    df = store.read()
    if df.empty:
        return []
    notes = []
    for (data, sid), g in df.groupby(["data", "settings_id"]):
        fps = set(g["data_fingerprint"].dropna())
        if len(fps) > 1:
            notes.append(f"data {data!r} was measured on {len(fps)} different samples of sequences across "
                         "checkpoints (the data changed between runs?): values are not comparable.")
    return notes


def sweep(
    checkpoints: Sequence[str | os.PathLike[str] | tuple[Any, int]],
    data: Sequence[str],
    out: str | os.PathLike[str],
    settings: MeasureSettings | None = None,
    *,
    executor: Any = "local",
    on_event: Event | None = None,
    **plan_options: Any,
) -> SweepReport:
    """Plan and run a sweep (see `plan_sweep` for the arguments); resumable."""
    plan = plan_sweep(checkpoints, data, out, settings, **plan_options)
    return run_sweep(plan, executor, on_event)
