"""`LIDCallback`: measure mean LID inside a ``transformers.Trainer`` run.

::

    lid = LIDCallback({"chitchat": "chitchat:validation"}, store="out/lid")
    trainer = Trainer(model, args, train_dataset=..., eval_dataset=..., processing_class=tok)
    lid.attach(trainer)          # or Trainer(..., callbacks=[lid]); see "Logging" below
    trainer.train()
    lid.cost()                   # seconds spent on LID vs on evaluation

It measures at every evaluation (``on_evaluate=True``) and/or every ``every_n_steps`` steps, each
time on the same fixed sample of sequences (drawn once), and

- logs ``lid/<name>/mean``, ``median``, ``std``, ``q25``, ``q75``, ``global_estimate`` and
  ``lid/seconds`` through ``Trainer.log``, so TensorBoard, W&B, MLflow and ``trainer_state.json``
  receive them like any other metric;
- appends one row per measurement to the results store (``store=``), together with the trainer's
  own logged metrics, so ``lidscope plot STORE`` draws LID and task metrics against step.

Logging: the Trainer calls callbacks in order and adds user callbacks *after* its reporting
integrations (``report_to``: TensorBoard, W&B, MLflow, ...), and the callback API gives a callback no
handle on the Trainer. `attach` (or `LIDCallback.add_to`) adds the callback and keeps that handle, so
values go through ``trainer.log``. A callback passed with ``callbacks=[...]`` finds the Trainer that
is running it at ``on_train_begin`` (the Trainer method up the call stack); if it cannot, it appends
its values to the Trainer's log history (``trainer_state.json``) and the store only, and warns once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from lidscope.training.monitor import LIDMonitor, TextsLike
from lidscope.settings import MeasureSettings
from lidscope.training.store import ResultsStore

try:
    from transformers import TrainerCallback
except ImportError:  # pragma: no cover - transformers is a dependency
    TrainerCallback = object  # type: ignore[assignment,misc]

log = logging.getLogger(__name__)


class LIDCallback(TrainerCallback):  # type: ignore[misc,valid-type]
    """Mean LID of fixed text samples at evaluation and/or every k steps of a Trainer run.

    Args:
        texts: ``{name: source}`` or one source (data spec, list of strings, `Texts`).
        tokenizer: the tokenizer (default: the Trainer's ``processing_class``).
        every_n_steps: also measure every k optimizer steps (None: only at evaluation).
        on_evaluate: measure after each evaluation.
        at_start: measure once before the first step (step 0, the base model).
        settings: `MeasureSettings` (default `MeasureSettings.in_training()`).
        store: results store folder; rows, per-token files and the trainer's metrics go there.
        run: run name in the store (default: the name of ``args.output_dir``).
    """

    def __init__(
        self,
        texts: Mapping[str, TextsLike] | TextsLike,
        *,
        tokenizer: Any = None,
        every_n_steps: int | None = None,
        on_evaluate: bool = True,
        at_start: bool = False,
        settings: MeasureSettings | None = None,
        store: str | os.PathLike[str] | ResultsStore | None = None,
        run: str | None = None,
    ) -> None:
        if not on_evaluate and every_n_steps is None and not at_start:
            raise ValueError("LIDCallback would never measure: set on_evaluate=True, every_n_steps=k or at_start.")
        self.monitor = LIDMonitor(texts, tokenizer, every=every_n_steps, settings=settings, store=store,
                                  run=run or "run")
        self.on_eval = on_evaluate
        self.at_start = at_start
        self._run_given = run is not None
        self._trainer: Any = None
        self._warned = False
        self._last_step: int | None = None
        self._pending_metrics: list[tuple[int, str, float]] = []
        self.eval_seconds: list[float] = []

    # ------------------------------------------------------------------ wiring
    def attach(self, trainer: Any) -> LIDCallback:
        """Add this callback to ``trainer`` with a handle on it, so values go through ``trainer.log``."""
        self._trainer = trainer
        if self not in trainer.callback_handler.callbacks:
            trainer.add_callback(self)
        return self

    @classmethod
    def add_to(cls, trainer: Any, texts: Mapping[str, TextsLike] | TextsLike, **kwargs: Any) -> LIDCallback:
        """Build a callback and `attach` it to ``trainer``."""
        return cls(texts, **kwargs).attach(trainer)

    @property
    def history(self) -> list[Any]:
        return self.monitor.history

    def cost(self) -> dict[str, float]:
        """LID seconds per measurement round vs seconds per evaluation pass (``eval_runtime``)."""
        c = self.monitor.cost()
        ev = sum(self.eval_seconds) / len(self.eval_seconds) if self.eval_seconds else float("nan")
        c["eval_seconds_per_pass"] = ev
        c["ratio_to_eval"] = c["seconds_per_round"] / ev if self.eval_seconds and ev > 0 else float("nan")
        return c

    # ------------------------------------------------------------------ events
    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if self._trainer is None:
            self._trainer = _running_trainer(self)
        if not self._run_given:
            self.monitor.run = os.path.basename(os.path.normpath(args.output_dir)) or "run"
        self.monitor.samples()  # draw the fixed samples now: fail early on a bad source
        if self.at_start and state.global_step == 0:
            self._measure(args, state, kwargs)
        return control

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if self.monitor.due(state.global_step):
            self._measure(args, state, kwargs)
        return control

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Any = None, **kwargs: Any) -> Any:
        if metrics and "eval_runtime" in metrics:
            self.eval_seconds.append(float(metrics["eval_runtime"]))
        if self.on_eval:
            self._measure(args, state, kwargs)
        return control

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> Any:
        if logs:
            for k, v in logs.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    self._pending_metrics.append((state.global_step, k, float(v)))
        return control

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        self._flush()
        return control

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        self._flush()
        c = self.cost()
        log.info("LIDCallback: %d measurement rounds, %.1f s total, %.2f s per round (%.2fx an evaluation pass)",
                 c["rounds"], c["total_seconds"], c["seconds_per_round"], c["ratio_to_eval"])
        if self.monitor.store is not None:
            from lidscope.outputs import write_json

            write_json(self.monitor.store.path / f"callback-cost-{self.monitor.run}.json", c)
        return control

    # ------------------------------------------------------------------ internals
    def _flush(self) -> None:
        if self._pending_metrics and self.monitor.store is not None:
            self.monitor.store.append_metrics(self.monitor.run, self._pending_metrics)
        self._pending_metrics = []

    def _measure(self, args: Any, state: Any, kwargs: dict[str, Any]) -> None:
        step = int(state.global_step)
        if step == self._last_step:
            return
        self._last_step = step
        model = kwargs.get("model")
        if model is None:
            raise ValueError("LIDCallback got no model from the Trainer.")
        tok = self.monitor.tokenizer or kwargs.get("processing_class")
        if tok is not None and not hasattr(tok, "convert_ids_to_tokens"):
            tok = getattr(tok, "tokenizer", tok)  # a processor wrapping a tokenizer
        logs = self.monitor.measure(model, step, tokenizer=tok)
        if self._trainer is not None:
            self._trainer.log(dict(logs))
        else:
            state.log_history.append({**logs, "step": step})
            self._pending_metrics.extend((step, k, v) for k, v in logs.items())
            if not self._warned:
                self._warned = True
                log.warning("LIDCallback found no Trainer to log through: LID values go to trainer_state.json "
                            "and the store but not to TensorBoard/W&B/MLflow. Use lid.attach(trainer).")
        self._flush()


def _running_trainer(callback: Any, depth: int = 12) -> Any:
    """The ``transformers.Trainer`` whose callback handler is calling ``callback`` now (None if not found).

    The callback API passes no Trainer; ``Trainer.train`` is a few frames up the stack, and its
    handler's list holds ``callback``.
    """
    import sys

    try:
        from transformers import Trainer
    except ImportError:  # pragma: no cover - transformers is a dependency
        return None
    frame = sys._getframe(1)
    for _ in range(depth):
        if frame is None:
            return None
        owner = frame.f_locals.get("self")
        if isinstance(owner, Trainer):
            handler = getattr(owner, "callback_handler", None)
            return owner if handler is not None and callback in handler.callbacks else None
        frame = frame.f_back
    return None
