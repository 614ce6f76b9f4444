"""Reproduction 1: fine-tuning shifts. Fine-tune with the model's own pretraining objective, then
sweep the saved checkpoints with `lidscope.training.sweep`.

- SmolLM2-135M (bundled decoder): causal-LM fine-tuning on chit-chat train, full or LoRA (``peft``).
- MiniLM (bundled encoder, contrast): masked-LM fine-tuning on chit-chat train. The bundled MiniLM
  is a sentence-embedding checkpoint without a masked-LM head, so the head starts random; the
  encoder is still trained through it. Results are reported as measured.

Expected (paper): mean LID on the fine-tuning data (chit-chat validation) drops clearly; on other
corpora (Wikipedia summaries, BBC News) it drops less or rises.

Outputs under ``out``: ``train/checkpoint-<step>`` (``checkpoint-0`` = the base model), ``lid/``
(results store), ``training.png/.svg`` (LID vs step per dataset with the training loss),
``violins.png`` (pointwise LID, base vs last checkpoint, per dataset) and ``summary.json``.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from lidscope.settings import MeasureSettings

DEFAULT_EVAL = ("chitchat:validation", "wikipedia:validation", "bbc:validation")


@dataclass
class FinetuneConfig:
    """One fine-tuning run + sweep. Defaults: the issue's quick check (SmolLM2, 300 steps)."""

    model: str = "smollm2"
    objective: str = "auto"          # causal | masked | auto (causal for decoders)
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    train_data: str = "chitchat:train"
    n_train: int | None = 20_000     # training utterances sampled (seeded)
    steps: int = 300
    batch_size: int = 16
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_steps: int = 0
    save_every: int = 50
    max_length: int = 64
    seed: int = 0
    threads: int | None = 2
    eval_data: tuple[str, ...] = DEFAULT_EVAL
    settings: MeasureSettings = field(default_factory=lambda: MeasureSettings(
        n_sequences=2_000, n_points=10_000, n_neighbors=128, max_length=128))
    #: per data spec M (``n_sequences``) overriding ``settings.n_sequences``: short utterances need more
    #: sequences than long documents for the same number of tokens (N); each spec is then its own setting.
    n_sequences_by_data: dict[str, int] = field(default_factory=dict)
    group_by_length: bool = False     # batches of similar length (less padding: faster on a CPU)
    out: str = "lidscope-out/finetune"
    callback: bool = False           # also evaluate on eval_data[0] and run LIDCallback with its defaults
    n_eval: int = 2_000              # evaluation sequences when ``callback``

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["settings"] = self.settings.to_dict()
        return d


def quick_config(**kw: Any) -> FinetuneConfig:
    """Seconds on a tiny model: 4 steps, a checkpoint every 2, tiny LID settings (tests)."""
    base = FinetuneConfig(n_train=64, steps=4, batch_size=4, save_every=2, max_length=32,
                          settings=MeasureSettings(n_sequences=150, n_points=300, n_neighbors=12, max_length=32))
    return replace(base, **kw)


def _length_grouping(on: bool) -> dict[str, Any]:
    """TrainingArguments for length-grouped batches (the option was renamed in transformers 5)."""
    if not on:
        return {}
    import inspect

    from transformers import TrainingArguments

    params = inspect.signature(TrainingArguments.__init__).parameters
    if "train_sampling_strategy" in params:
        return {"train_sampling_strategy": "group_by_length"}
    return {"group_by_length": True}


def train(cfg: FinetuneConfig) -> dict[str, Any]:
    """Fine-tune and save ``checkpoint-<step>`` folders (model + tokenizer, no optimizer state)."""
    import torch
    from datasets import Dataset
    from transformers import (AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer,
                              DataCollatorForLanguageModeling, Trainer, TrainingArguments)

    from lidscope.extract.models import hf_folder
    from lidscope.extract.texts import load_texts

    folder, is_decoder = hf_folder(cfg.model)
    objective = cfg.objective if cfg.objective != "auto" else ("causal" if is_decoder else "masked")
    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    torch.manual_seed(cfg.seed)
    cls = AutoModelForCausalLM if objective == "causal" else AutoModelForMaskedLM
    model = cls.from_pretrained(str(folder), local_files_only=True)
    run_dir = Path(cfg.out) / "train"
    base_dir = run_dir / "checkpoint-0"
    if not (base_dir / "config.json").is_file():
        model.save_pretrained(base_dir, safe_serialization=True)
        tok.save_pretrained(base_dir)
    if cfg.lora:
        import peft

        targets = ["q_proj", "v_proj"] if is_decoder else ["query", "value"]
        model = peft.get_peft_model(model, peft.LoraConfig(
            r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=0.05, target_modules=targets,
            task_type="CAUSAL_LM" if objective == "causal" else None))
    texts = load_texts(cfg.train_data, n_sequences=cfg.n_train, seed=cfg.seed)
    ds = Dataset.from_dict({"text": texts.texts}).map(
        lambda b: tok(b["text"], truncation=True, max_length=cfg.max_length), batched=True, remove_columns=["text"])
    collator = DataCollatorForLanguageModeling(tok, mlm=objective == "masked")
    eval_ds = None
    extra: dict[str, Any] = {}
    if cfg.callback:
        ev = load_texts(cfg.eval_data[0], n_sequences=cfg.n_eval, seed=cfg.seed + 1)
        eval_ds = Dataset.from_dict({"text": ev.texts}).map(
            lambda b: tok(b["text"], truncation=True, max_length=cfg.max_length), batched=True,
            remove_columns=["text"])
        extra = {"eval_strategy": "steps", "eval_steps": cfg.save_every, "per_device_eval_batch_size": 64}
    args = TrainingArguments(
        output_dir=str(run_dir), max_steps=cfg.steps, per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.lr, weight_decay=cfg.weight_decay, warmup_steps=cfg.warmup_steps,
        lr_scheduler_type="linear", save_strategy="steps", save_steps=cfg.save_every, save_only_model=True,
        logging_steps=max(1, cfg.save_every // 2), report_to=[], use_cpu=True, disable_tqdm=True, seed=cfg.seed,
        dataloader_num_workers=0, **extra, **_length_grouping(cfg.group_by_length),
    )
    trainer = Trainer(model=model, args=args, train_dataset=ds, eval_dataset=eval_ds, data_collator=collator,
                      processing_class=tok)
    lid = None
    if cfg.callback:
        from lidscope.training.callback import LIDCallback

        # the callback with its default settings (MONITOR_DEFAULTS), to report its cost
        lid = LIDCallback({cfg.eval_data[0].replace(":", "-"): cfg.eval_data[0]},
                          store=Path(cfg.out) / "lid-callback").attach(trainer)
    t = time.perf_counter()
    trainer.train()
    trainer.save_state()
    return {"objective": objective, "base_folder": str(folder), "is_decoder": is_decoder,
            "train_seconds": time.perf_counter() - t, "run_dir": str(run_dir), "n_train": len(texts),
            "callback_cost": lid.cost() if lid else None,
            "callback_settings": lid.monitor.settings.to_dict() if lid else None}


def sweep_groups(cfg: FinetuneConfig) -> list[tuple[MeasureSettings, list[str]]]:
    """The eval specs grouped by their measurement settings (one sweep per group), in order."""
    unknown = set(cfg.n_sequences_by_data) - set(cfg.eval_data)
    if unknown:
        raise ValueError(f"n_sequences_by_data names {sorted(unknown)}, which are not among the evaluation data "
                         f"{list(cfg.eval_data)}.")
    groups: dict[int | None, list[str]] = {}
    for spec in cfg.eval_data:
        groups.setdefault(cfg.n_sequences_by_data.get(spec, cfg.settings.n_sequences), []).append(spec)
    return [(cfg.settings.replace(n_sequences=m), specs) for m, specs in groups.items()]


def run(cfg: FinetuneConfig, skip_training: bool = False, train_only: bool = False) -> dict[str, Any]:
    """Train (unless checkpoints exist and ``skip_training``), sweep, draw, summarise.

    ``train_only``: stop after training (the checkpoints and ``summary.json`` with the training info;
    no sweep), e.g. to measure the checkpoints with other settings."""
    import pyarrow.parquet as pq
    import torch

    from lidscope.plots import plot_compare
    from lidscope.extract.models import hf_folder, quiet_transformers
    from lidscope.outputs import write_json
    from lidscope.training.plots import plot_training
    from lidscope.training.sweep import sweep

    quiet_transformers()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    t0 = time.perf_counter()
    info: dict[str, Any] = {}
    run_dir = out / "train"
    if not (skip_training and any(run_dir.glob("checkpoint-*"))):
        info = train(cfg)
    if train_only:
        summary = {"config": cfg.to_dict(), **info, "seconds_total": time.perf_counter() - t0}
        write_json(out / "summary.json", summary)
        return summary
    base_folder = info.get("base_folder") or str(hf_folder(cfg.model)[0])
    t = time.perf_counter()
    failed: list[Any] = []
    skipped: list[Any] = []
    report = None
    for settings, specs in sweep_groups(cfg):
        report = sweep([run_dir], specs, out / "lid", settings, base_model=base_folder if cfg.lora else None)
        failed += list(report.failed)
        skipped += [x for x in report.skipped if x not in skipped]
    assert report is not None
    sweep_s = time.perf_counter() - t
    df = report.store.read()
    df = df[df["settings_id"].isin({s.settings_id for s, _ in sweep_groups(cfg)})]
    df = df[df["layer"] == df["layer"].iloc[0]]
    table = []
    groups: dict[str, dict[str, Any]] = {}
    for data, g in df.groupby("data", sort=False):
        g = g.sort_values("step")
        first, last = g.iloc[0], g.iloc[-1]
        table.append({"data": data, "step_first": int(first["step"]), "mean_first": float(first["mean"]),
                      "step_last": int(last["step"]), "mean_last": float(last["mean"]),
                      "change": float(last["mean"] - first["mean"]),
                      "relative_change": float((last["mean"] - first["mean"]) / first["mean"])})
        groups[str(data)] = {
            f"step {int(r['step'])}": pq.read_table(report.store.path / r["tokens_file"]).column("lid").to_numpy()
            for r in (first, last)}
    figures = [str(p) for p in plot_training(report.store, out / "training", metrics=["loss"],
                                             title=f"{cfg.model} {'LoRA' if cfg.lora else 'full'} fine-tuning on "
                                                   f"{cfg.train_data}: mean LID per dataset vs step")]
    figures.append(str(plot_compare(groups, out / "violins.png",
                                    title=f"Pointwise LID, base vs fine-tuned ({cfg.model})")))
    summary = {"config": cfg.to_dict(), **info, "table": table, "sweep_seconds": sweep_s,
               "failed": failed, "skipped": skipped, "figures": figures,
               "seconds_total": time.perf_counter() - t0,
               "mean_lid": {str(d): dict(zip(map(int, g["step"]), map(float, g["mean"])))
                            for d, g in df.groupby("data", sort=False)}}
    write_json(out / "summary.json", summary)
    return summary
