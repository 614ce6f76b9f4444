"""LIDCallback inside a real tiny Trainer run, LIDMonitor in a plain loop, early stopping."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch
from fakeruns import SMALL
from tinymodels import WORDS, make_tokenizer

from lidscope.integrations import LIDCallback, LIDEarlyStoppingCallback, LIDMonitor
from lidscope.settings import MeasureSettings
from lidscope.training.store import ResultsStore

SETTINGS = MeasureSettings(**SMALL)


def _texts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(4, 14)))) for _ in range(n)]


def _classifier(tok):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64, pad_token_id=0, num_labels=2)
    return BertForSequenceClassification(cfg)


def _trainer(tmp_path, tok, model, **args):
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments

    texts = _texts(96, 0)
    ds = Dataset.from_dict({"text": texts, "label": [int("good" in t) for t in texts]})
    ds = ds.map(lambda b: tok(b["text"], truncation=True, max_length=32), batched=True)
    args.setdefault("report_to", [])
    a = TrainingArguments(output_dir=str(tmp_path / "out"), per_device_train_batch_size=16, num_train_epochs=1,
                          eval_strategy="steps", eval_steps=2, logging_steps=2, save_strategy="no",
                          use_cpu=True, disable_tqdm=True, **args)
    return Trainer(model=model, args=a, train_dataset=ds, eval_dataset=ds.select(range(32)), processing_class=tok)


def test_callback_logs_through_trainer_and_appends_to_store(tmp_path):
    from transformers import TrainerCallback

    tok = make_tokenizer("bert")
    trainer = _trainer(tmp_path, tok, _classifier(tok))
    seen_by_reporter: list[dict] = []

    class Reporter(TrainerCallback):  # stands in for TensorBoard / W&B / MLflow
        def on_log(self, args, state, control, logs=None, **kw):
            seen_by_reporter.append(dict(logs or {}))

    trainer.add_callback(Reporter)
    lid = LIDCallback({"val": _texts(150, 1)}, store=tmp_path / "store", settings=SETTINGS, at_start=True).attach(trainer)
    rng_before = torch.get_rng_state()
    trainer.train()
    assert not torch.equal(rng_before, torch.get_rng_state())  # training itself uses the RNG
    steps = [m.step for m in lid.history]
    assert steps == [0, 2, 4, 6]  # at start and after every evaluation
    assert any("lid/val/mean" in d for d in seen_by_reporter)
    assert any("lid/val/mean" in h for h in trainer.state.log_history)
    store = ResultsStore(tmp_path / "store")
    df = store.read()
    assert df["step"].tolist() == steps and set(df["run"]) == {"out"} and set(df["source"]) == {"monitor"}
    assert df["data_fingerprint"].nunique() == 1  # one fixed sample reused
    assert (store.path / df["tokens_file"].iloc[0]).is_file()
    j = store.joined(["eval_loss"])
    assert j["eval_loss"].notna().sum() == 3
    c = lid.cost()
    assert c["rounds"] == 4 and c["seconds_per_round"] > 0 and c["ratio_to_eval"] > 0
    assert json.loads((store.path / "callback-cost-out.json").read_text())["rounds"] == 4


def test_callback_without_attach_finds_the_trainer_and_reaches_the_reporters(tmp_path):
    from transformers import TrainerCallback

    tok = make_tokenizer("bert")
    seen: list[dict] = []

    class Reporter(TrainerCallback):  # added before lid, as report_to integrations are
        def on_log(self, args, state, control, logs=None, **kw):
            seen.append(dict(logs or {}))

    trainer = _trainer(tmp_path, tok, _classifier(tok))
    trainer.add_callback(Reporter)
    lid = LIDCallback(_texts(150, 1), settings=SETTINGS, every_n_steps=3, on_evaluate=False)
    trainer.add_callback(lid)
    trainer.train()
    assert [m.step for m in lid.history] == [3, 6]
    assert [d["lid/texts/mean"] for d in seen if "lid/texts/mean" in d] == [m.mean for m in lid.history]


def test_callback_that_finds_no_trainer_still_records_and_warns(tmp_path, caplog, monkeypatch):
    import lidscope.training.callback as cb

    monkeypatch.setattr(cb, "_running_trainer", lambda callback: None)
    tok = make_tokenizer("bert")
    lid = LIDCallback(_texts(150, 1), settings=SETTINGS, every_n_steps=3, on_evaluate=False)
    trainer = _trainer(tmp_path, tok, _classifier(tok))
    trainer.add_callback(lid)
    with caplog.at_level(logging.WARNING, logger="lidscope.training.callback"):
        trainer.train()
    assert [m.step for m in lid.history] == [3, 6]
    assert sum("lid/texts/mean" in h for h in trainer.state.log_history) == 2
    assert "attach(trainer)" in caplog.text


def test_early_stopping_on_plateau(tmp_path):
    tok = make_tokenizer("bert")
    trainer = _trainer(tmp_path, tok, _classifier(tok), max_steps=12)
    lid = LIDCallback({"val": _texts(150, 1)}, settings=SETTINGS, every_n_steps=1, on_evaluate=False).attach(trainer)
    stop = LIDEarlyStoppingCallback(lid, patience=2, tolerance=1e3)  # any change is "flat"
    trainer.add_callback(stop)
    trainer.train()
    assert stop.stopped is not None and trainer.state.global_step == 3


def test_callback_bad_input():
    with pytest.raises(ValueError, match="never measure"):
        LIDCallback("x.txt", on_evaluate=False)
    with pytest.raises(ValueError, match="every must be"):
        LIDMonitor(["a b"], every=0)
    with pytest.raises(ValueError, match="empty"):
        LIDMonitor({})


def test_monitor_in_a_plain_loop(tmp_path):
    from tinymodels import make_model

    tok = make_tokenizer("bert")
    model = make_model("bert", len(tok))
    model.train()
    mon = LIDMonitor({"a": _texts(150, 1), "b": _texts(150, 2)}, tok, every=2, settings=SETTINGS,
                     store=tmp_path / "store", run="plain")
    with pytest.raises(ValueError, match="tokenizer"):
        LIDMonitor(["a b c"], every=1).measure(model, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    batch = tok(_texts(8, 3), return_tensors="pt", padding=True)
    logged = []
    for step in range(1, 5):
        loss = model(**batch).last_hidden_state.pow(2).mean()
        loss.backward()
        opt.step()
        opt.zero_grad()
        rng = torch.get_rng_state()
        out = mon.maybe_measure(model, step)
        assert torch.equal(rng, torch.get_rng_state()) and model.training
        mon.log_metrics(step, {"loss": loss.item()})
        if out:
            logged.append(out)
    assert len(logged) == 2 and {"lid/a/mean", "lid/b/mean", "lid/seconds"} <= set(logged[0])
    steps, vals = mon.series("b")
    assert steps == [2, 4] and all(np.isfinite(vals))
    store = ResultsStore(tmp_path / "store")
    assert len(store.read()) == 4 and store.joined(["loss"])["loss"].notna().all()
    assert mon.cost()["rounds"] == 2
