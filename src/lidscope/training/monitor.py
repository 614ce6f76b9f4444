"""`LIDMonitor`: local dimension of a model's token embeddings during a plain PyTorch training loop.

::

    monitor = LIDMonitor({"chitchat": "chitchat:validation"}, tokenizer, every=200, store="runs/lid")
    for step, batch in enumerate(loader, start=1):
        ...  # forward, backward, optimizer step
        logs = monitor.maybe_measure(model, step)   # None, or {"lid/chitchat/mean": ..., ...}

One fixed sample of sequences per text source is drawn once (seeded) and reused at every
measurement, so values are comparable over steps. The model's train/eval mode and the torch RNG
state are restored after each measurement, so monitoring does not change the training run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lidscope.settings import IN_TRAINING, MeasureSettings
from lidscope.training.settings import rows_from_measure
from lidscope.training.store import ResultsStore, lid_log_entries

TextsLike = Any  # a data spec (str / path), an iterable of strings, or lidscope.extract.texts.Texts

#: Defaults for in-training measurements: the cost is one forward pass over M sequences plus the
#: neighbour search over N points, so it stays under an evaluation pass when M is under the
#: evaluation set (measured costs: docs/reproductions.md). The sample is fixed across steps, so
#: step-to-step differences do not include sampling noise. L and the estimator are the paper's.
MONITOR_DEFAULTS = IN_TRAINING  # MeasureSettings.in_training(); kept under its old name


@dataclass
class Measurement:
    """One in-training measurement of one text source (first layer's statistics in ``row``)."""

    step: int
    name: str
    rows: list[dict[str, Any]]
    seconds: float
    logs: dict[str, float] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        return float(self.rows[0]["mean"])


def _unwrap(model: Any) -> Any:
    """The transformers model inside DDP / PEFT wrappers (LoRA layers stay in place)."""
    inner = getattr(model, "module", None)
    if inner is not None and hasattr(inner, "config"):
        model = inner
    get_base = getattr(model, "get_base_model", None)
    if callable(get_base) and type(model).__module__.startswith("peft"):
        model = get_base()
    return model


@contextlib.contextmanager
def preserved_training_state(model: Any) -> Iterator[None]:
    """Restore ``model.training`` and the torch CPU RNG state on exit."""
    import torch

    was_training = bool(getattr(model, "training", False))
    rng = torch.get_rng_state()
    try:
        yield
    finally:
        torch.set_rng_state(rng)
        if was_training:
            model.train()


class LIDMonitor:
    """Measures mean LID of fixed text samples on demand or every ``every`` steps.

    Args:
        texts: ``{name: source}`` or one source (name taken from the spec); a source is a data spec
            (``chitchat:validation``, a file), a list of strings, or `lidscope.extract.texts.Texts`.
        tokenizer: the model's tokenizer.
        every: measure in `maybe_measure` when ``step % every == 0`` (None: only on `measure`).
        settings: `MeasureSettings` (default `MeasureSettings.in_training()`: M = 500, N = 5,000,
            L = 128, max_length 128).
        store: results store folder (or `ResultsStore`); rows are appended there when given.
        run: run name for the store (default ``"run"``).
        keep_tokens: also store the per-token file of each measurement (needs ``store``).
        logger: where each measurement's logs also go: a TensorBoard ``SummaryWriter`` (anything with
            ``add_scalar``: one scalar per key at the step), a ``wandb`` run (anything with ``log``:
            ``run.log(logs, step=step)``), or a callable ``logger(logs, step)``.
    """

    def __init__(
        self,
        texts: Mapping[str, TextsLike] | TextsLike,
        tokenizer: Any = None,
        *,
        every: int | None = None,
        settings: MeasureSettings | None = None,
        store: str | os.PathLike[str] | ResultsStore | None = None,
        run: str = "run",
        keep_tokens: bool = True,
        logger: Any = None,
    ) -> None:
        if every is not None and every < 1:
            raise ValueError(f"every must be a positive number of steps (got {every}).")
        if logger is not None and not (hasattr(logger, "add_scalar") or hasattr(logger, "log") or callable(logger)):
            raise ValueError(f"logger must be a TensorBoard SummaryWriter, a wandb run or a callable(logs, step); "
                             f"got {type(logger).__name__}.")
        self.logger = logger
        self.sources = self._named(texts)
        self.tokenizer = tokenizer
        self.every = every
        self.settings = settings or MONITOR_DEFAULTS
        self.store = store if isinstance(store, ResultsStore) or store is None else ResultsStore(store)
        self.run = run
        self.keep_tokens = keep_tokens
        self.history: list[Measurement] = []
        self._texts: dict[str, Any] = {}

    @staticmethod
    def _named(texts: Mapping[str, TextsLike] | TextsLike) -> dict[str, TextsLike]:
        if isinstance(texts, Mapping):
            if not texts:
                raise ValueError("texts is empty: give at least one {name: data spec or list of strings}.")
            return {str(k): v for k, v in texts.items()}
        if isinstance(texts, (str, os.PathLike)):
            spec = os.fspath(texts)
            name = Path(spec).stem if Path(spec).exists() else spec.replace(":", "-")
            return {name: spec}
        return {"texts": texts}

    def samples(self) -> dict[str, Any]:
        """The fixed `Texts` sample of each source (drawn once, seeded by ``settings.data_seed``)."""
        from lidscope.extract.texts import load_texts

        for name, src in self.sources.items():
            if name not in self._texts:
                self._texts[name] = load_texts(src, text_column=self.settings.text_column,
                                               n_sequences=self.settings.n_sequences, seed=self.settings.data_seed)
        return self._texts

    # ------------------------------------------------------------------ measuring
    def due(self, step: int) -> bool:
        return self.every is not None and step > 0 and step % self.every == 0

    def maybe_measure(self, model: Any, step: int, tokenizer: Any = None) -> dict[str, float] | None:
        """`measure` when ``step`` is a multiple of ``every``; else None."""
        return self.measure(model, step, tokenizer) if self.due(step) else None

    def measure(self, model: Any, step: int, tokenizer: Any = None) -> dict[str, float]:
        """Measure every source now; returns flat logs ``{"lid/<name>/mean": ..., "lid/seconds": ...}``.

        Raises:
            ValueError: no tokenizer was given here or at construction.
        """
        import torch

        from lidscope.measure import measure

        tok = tokenizer or self.tokenizer
        if tok is None:
            raise ValueError("LIDMonitor needs the model's tokenizer: pass tokenizer=... (for the Trainer "
                             "callback: Trainer(processing_class=tokenizer) or LIDCallback(tokenizer=...)).")
        inner = _unwrap(model)
        logs: dict[str, float] = {}
        t_all = time.perf_counter()
        samples = self.samples()
        with preserved_training_state(model), torch.inference_mode():
            for name, texts in samples.items():
                t = time.perf_counter()
                job_id = f"{self.run}-{name}-{step}-{self.settings.settings_id}"
                job_id = "".join(c if c.isalnum() or c in "-_." else "-" for c in job_id)
                out = self.store.job_dir(job_id) if (self.store is not None and self.keep_tokens) else None
                r = measure(inner, texts, tokenizer=tok, model_name=f"{self.run}@{step}", out=out, figures=False,
                            use_cache=False, **{k: v for k, v in self.settings.measure_kwargs().items()
                                                if k not in ("n_sequences", "data_seed", "text_column")})
                secs = time.perf_counter() - t
                rel = os.path.relpath(out, self.store.path) if out is not None and self.store is not None else None
                rows = rows_from_measure(
                    r, settings=self.settings, job_id=job_id, source="monitor", run=self.run, step=step,
                    data=self._spec(name), data_name=name, seconds=secs,
                    tokens_file=f"{rel}/tokens.parquet" if rel else None,
                    summary_file=f"{rel}/summary.json" if rel else None,
                )
                if self.store is not None:
                    self.store.add_rows(job_id, rows)
                entry = {}
                for row in rows:
                    entry.update(lid_log_entries(row, name))
                logs.update(entry)
                self.history.append(Measurement(step, name, rows, secs, entry))
        logs["lid/seconds"] = time.perf_counter() - t_all
        self._emit(logs, step)
        return logs

    def _emit(self, logs: dict[str, float], step: int) -> None:
        """Send ``logs`` to the ``logger``: ``add_scalar`` per key, else ``log(logs, step=)``, else a call."""
        lg = self.logger
        if lg is None:
            return
        if hasattr(lg, "add_scalar"):
            for k, v in logs.items():
                lg.add_scalar(k, v, step)
            if hasattr(lg, "flush"):
                lg.flush()
        elif hasattr(lg, "log") and not isinstance(lg, logging.Logger):
            lg.log(dict(logs), step=step)
        else:
            lg(dict(logs), step)

    def _spec(self, name: str) -> str:
        src = self.sources[name]
        return os.fspath(src) if isinstance(src, (str, os.PathLike)) else name

    # ------------------------------------------------------------------ reading back
    def series(self, name: str | None = None, stat: str = "mean") -> tuple[list[int], list[float]]:
        """``(steps, values)`` of one source's statistic (first layer), in measurement order."""
        name = name or next(iter(self.sources))
        if name not in self.sources:
            raise KeyError(f"no text source {name!r}; sources: {list(self.sources)}")
        pts = [(m.step, float(m.rows[0][stat])) for m in self.history if m.name == name]
        return [p[0] for p in pts], [p[1] for p in pts]

    def cost(self) -> dict[str, float]:
        """Seconds spent measuring: total, per measurement round, and the number of rounds."""
        rounds: dict[int, float] = {}
        for m in self.history:
            rounds[m.step] = rounds.get(m.step, 0.0) + m.seconds
        total = sum(rounds.values())
        return {"rounds": len(rounds), "total_seconds": total,
                "seconds_per_round": total / len(rounds) if rounds else 0.0}

    def log_metrics(self, step: int, metrics: Mapping[str, float] | Iterable[tuple[str, float]]) -> None:
        """Record task metrics (loss, accuracy, ...) at ``step`` in the store, for joins and plots."""
        if self.store is None:
            return
        items = metrics.items() if isinstance(metrics, Mapping) else metrics
        recs = [(step, k, float(v)) for k, v in items
                if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if recs:
            self.store.append_metrics(self.run, recs)
