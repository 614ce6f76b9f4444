"""Reproductions 2 and 3: LID of a topic classifier over training (overfitting, training exhausted).

MiniLM (bundled) gets a freshly initialised classification head and is fine-tuned on Wikipedia
summary topics (12 classes) or BBC News topics (5 classes) from the bundled corpora, with
`lidscope.integrations.LIDCallback` measuring mean LID of the validation texts at every evaluation
(one fixed sample) and the trainer logging validation macro-F1. Everything lands in one results
store; the figure is drawn from it.

- ``overfit``: few examples per class, many epochs: validation F1 peaks and then stalls or falls
  while the training loss keeps falling.
- ``exhausted``: more examples per class until validation F1 saturates; compare where the plateau
  signal fires with where F1 stopped improving.

Run ``python examples/classifier_lid.py --quick`` (seconds) or see docs/reproductions.md for the
sizes used there.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from lidscope.settings import MeasureSettings


@dataclass
class ClassifyConfig:
    """One classifier run. Defaults: the ``overfit`` setting on Wikipedia topics."""

    model: str = "minilm"              # an encoder folder / bundled name, or "scratch" (see SCRATCH_MODEL)
    data: str = "wikipedia"            # wikipedia (12 topics) or bbc (5 topics)
    per_class_train: int = 8
    majority_factor: int = 1           # the first class (sorted) gets this many times per_class_train
    label_noise: float = 0.0           # fraction of training labels replaced by another class (uniform)
    per_class_val: int = 20
    epochs: int = 30
    batch_size: int = 16
    lr: float = 1e-4
    weight_decay: float = 0.01
    warmup_steps: int = 0
    lr_scheduler: str = "linear"       # transformers lr_scheduler_type (``constant`` keeps lr high to the end)
    max_length: int = 96
    eval_every_epochs: int = 2
    seed: int = 0
    threads: int | None = 2
    settings: MeasureSettings = field(default_factory=lambda: MeasureSettings(
        n_sequences=120, n_points=5_000, n_neighbors=128, max_length=96))
    out: str = "lidscope-out/classify"
    at_start: bool = True

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["settings"] = self.settings.to_dict()
        return d


#: The from-scratch model (``model="scratch"``): a small BERT encoder, random init, MiniLM's tokenizer.
SCRATCH_MODEL: dict[str, int] = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
                                 "intermediate_size": 128, "max_position_embeddings": 128}


def overfit_config(**kw: Any) -> ClassifyConfig:
    return replace(ClassifyConfig(), **kw)


def exhausted_config(**kw: Any) -> ClassifyConfig:
    return replace(ClassifyConfig(per_class_train=48, epochs=6, eval_every_epochs=1), **kw)


def quick_config(**kw: Any) -> ClassifyConfig:
    """Seconds: a handful of examples, two epochs, tiny LID settings (tests)."""
    return replace(ClassifyConfig(per_class_train=2, per_class_val=3, epochs=2, batch_size=8, max_length=32,
                                  settings=MeasureSettings(n_sequences=None, n_points=200, n_neighbors=12,
                                                           max_length=32)), **kw)


# ---------------------------------------------------------------------------- data


def labelled_items(data: str, split: str) -> list[tuple[str, str, str]]:
    """``(key, text, label)`` of a bundled corpus split: Wikipedia topics or BBC News topics."""
    from lidscope.extract.texts import read_items

    items, _ = read_items(f"{data}:{split}")
    if data == "bbc":
        return [(k, t, k.split("/")[0]) for k, t in items if t.strip()]
    if data == "wikipedia":
        from lidscope.extract.texts import corpus_path  # topics are in the corpus file, not in the texts

        path = corpus_path("wikipedia")
        topics = {k: str(v.get("topic", "")) for k, v in json.loads(path.read_text(encoding="utf-8")).items()}
        return [(k, t, topics.get(k, "")) for k, t in items if t.strip() and topics.get(k)]
    raise ValueError(f"labelled data must be 'wikipedia' or 'bbc' (got {data!r}).")


def per_class_sample(items: list[tuple[str, str, str]], per_class: int, seed: int) -> list[tuple[str, str, str]]:
    rng = np.random.default_rng(seed)
    by: dict[str, list[tuple[str, str, str]]] = {}
    for it in items:
        by.setdefault(it[2], []).append(it)
    out = []
    for label in sorted(by):
        group = by[label]
        idx = rng.permutation(len(group))[:per_class]
        out.extend(group[i] for i in idx)
    return out


def imbalanced_sample(items: list[tuple[str, str, str]], per_class: int, majority_factor: int,
                      seed: int) -> list[tuple[str, str, str]]:
    """`per_class_sample`, with the first class (sorted by name) given ``majority_factor`` times as many."""
    if majority_factor < 1:
        raise ValueError(f"majority_factor must be >= 1, got {majority_factor}")
    major = min(lab for _, _, lab in items)
    rest = [it for it in items if it[2] != major]
    return (per_class_sample([it for it in items if it[2] == major], per_class * majority_factor, seed)
            + per_class_sample(rest, per_class, seed))


def noisy_labels(labels: list[int], n_classes: int, fraction: float, seed: int) -> list[int]:
    """Replace ``round(fraction * n)`` seeded-chosen labels by a different class, uniformly drawn."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"label_noise must lie in [0, 1), got {fraction}")
    if fraction > 0 and n_classes < 2:
        raise ValueError("label noise needs at least two classes")
    rng = np.random.default_rng([seed, 104729])
    out = list(labels)
    for i in rng.permutation(len(out))[: int(round(fraction * len(out)))]:
        out[i] = int((out[i] + rng.integers(1, n_classes)) % n_classes)
    return out


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    f1s = []
    for c in range(n_classes):
        tp = int(np.sum((y_pred == c) & (y_true == c)))
        fp = int(np.sum((y_pred == c) & (y_true != c)))
        fn = int(np.sum((y_pred != c) & (y_true == c)))
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1s))


# ---------------------------------------------------------------------------- run


def run(cfg: ClassifyConfig) -> dict[str, Any]:
    """Train, measure LID at each evaluation, write the store, figure and summary.json."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments

    from lidscope.extract.models import hf_folder, quiet_transformers
    from lidscope.outputs import write_json
    from lidscope.training.callback import LIDCallback
    from lidscope.training.plots import plot_training
    from lidscope.training.signals import drop, plateau
    from lidscope.training.store import ResultsStore

    quiet_transformers()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    t0, cpu0 = time.perf_counter(), time.process_time()
    train = imbalanced_sample(labelled_items(cfg.data, "train"), cfg.per_class_train, cfg.majority_factor, cfg.seed)
    val = imbalanced_sample(labelled_items(cfg.data, "validation"), cfg.per_class_val, cfg.majority_factor, cfg.seed)
    labels = sorted({lab for _, _, lab in train} | {lab for _, _, lab in val})
    lid_of = {lab: i for i, lab in enumerate(labels)}
    scratch = cfg.model == "scratch"
    folder, _ = hf_folder("minilm" if scratch else cfg.model)
    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    torch.manual_seed(cfg.seed)
    if scratch:
        from transformers import BertConfig

        model = AutoModelForSequenceClassification.from_config(BertConfig(
            vocab_size=tok.vocab_size, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=lid_of,
            **SCRATCH_MODEL))
    else:
        model = AutoModelForSequenceClassification.from_pretrained(
            str(folder), local_files_only=True, num_labels=len(labels),
            id2label=dict(enumerate(labels)), label2id=lid_of)
    train_labels = noisy_labels([lid_of[lab] for _, _, lab in train], len(labels), cfg.label_noise, cfg.seed)

    def encode(rows: list[tuple[str, str, str]], ids: list[int] | None = None) -> Any:
        ids = [lid_of[lab] for _, _, lab in rows] if ids is None else ids
        ds = Dataset.from_dict({"text": [t for _, t, _ in rows], "label": ids})
        return ds.map(lambda b: tok(b["text"], truncation=True, max_length=cfg.max_length), batched=True)

    train_ds, val_ds = encode(train, train_labels), encode(val)
    steps_per_epoch = max(1, -(-len(train_ds) // cfg.batch_size))
    eval_steps = steps_per_epoch * cfg.eval_every_epochs

    def metrics(p: Any) -> dict[str, float]:
        pred = np.argmax(p.predictions, axis=-1)
        return {"f1": macro_f1(np.asarray(p.label_ids), pred, len(labels)),
                "accuracy": float(np.mean(pred == np.asarray(p.label_ids)))}

    args = TrainingArguments(
        output_dir=str(out / "train"), per_device_train_batch_size=cfg.batch_size, per_device_eval_batch_size=32,
        num_train_epochs=cfg.epochs, learning_rate=cfg.lr, weight_decay=cfg.weight_decay,
        warmup_steps=cfg.warmup_steps, lr_scheduler_type=cfg.lr_scheduler, eval_strategy="steps", eval_steps=eval_steps,
        logging_steps=eval_steps, save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True, seed=cfg.seed,
        dataloader_num_workers=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=val_ds, processing_class=tok,
                      compute_metrics=metrics)
    store = ResultsStore(out / "lid")
    lid = LIDCallback({f"{cfg.data}-validation": [t for _, t, _ in val]}, settings=cfg.settings, store=store,
                      run=f"{cfg.data}-{cfg.per_class_train}pc-seed{cfg.seed}", at_start=cfg.at_start).attach(trainer)
    trainer.train()
    train_seconds = time.perf_counter() - t0

    steps, lids = lid.monitor.series()
    f1 = {int(h["step"]): float(h["eval_f1"]) for h in trainer.state.log_history if "eval_f1" in h}
    f1_steps = sorted(f1)
    f1_vals = [f1[s] for s in f1_steps]
    val_loss = {int(h["step"]): float(h["eval_loss"]) for h in trainer.state.log_history if "eval_loss" in h}
    best = int(np.argmax(f1_vals)) if f1_vals else None
    # "F1 stopped improving": the first evaluation after which F1 never gains more than 0.01 again
    stop_step = None
    for i, s in enumerate(f1_steps):
        if all(v <= f1_vals[i] + 0.01 for v in f1_vals[i + 1:]):
            stop_step = s
            break
    p = plateau(lids, steps) if len(lids) >= 3 else None
    summary = {
        "config": cfg.to_dict(), "labels": labels, "n_train": len(train), "n_val": len(val),
        "steps_per_epoch": steps_per_epoch, "lid_steps": steps, "lid_mean": lids,
        "f1_steps": f1_steps, "val_f1": f1_vals, "val_loss": [val_loss.get(s) for s in f1_steps],
        "best_f1": f1_vals[best] if best is not None else None,
        "best_f1_step": f1_steps[best] if best is not None else None,
        "final_f1": f1_vals[-1] if f1_vals else None,
        "f1_stopped_improving_step": stop_step,
        "lid_plateau": p.__dict__ if p is not None else None,
        "lid_drops": [e.__dict__ for e in drop(lids, steps)],
        "lid_cost": lid.cost(), "seconds_total": time.perf_counter() - t0, "seconds_train": train_seconds,
        "cpu_seconds": time.process_time() - cpu0,
    }
    write_json(out / "summary.json", summary)
    summary["figures"] = [str(x) for x in plot_training(store, out / "training", metrics=["eval_f1", "eval_loss"],
                                                        title=f"{cfg.model} topic classifier on {cfg.data}: "
                                                              f"{cfg.per_class_train} per class, {cfg.epochs} epochs")]
    write_json(out / "summary.json", summary)
    return summary
