"""Checkpoint sweeps on a fake tiny-BERT run: store, metric join, resume, bad input, executor seam."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from fakeruns import SMALL, make_run

from lidscope.executors import JobOutcome, get_executor, register_executor
from lidscope.settings import MeasureSettings
from lidscope.training.store import MetricNotFoundError, ResultsStore, StoreError
from lidscope.training.sweep import SweepError, SweepJob, discover_checkpoints, plan_sweep, run_sweep, sweep

SETTINGS = MeasureSettings(**SMALL)


@pytest.fixture(scope="module")
def swept(run_dir, texts_file, other_texts_file, tmp_path_factory):
    store = tmp_path_factory.mktemp("store") / "lid"
    report = sweep([run_dir], [str(texts_file), str(other_texts_file)], store, SETTINGS)
    return report


def test_sweep_rows_metrics_and_per_token_files(swept, run_dir):
    assert swept.ok and len(swept.finished) == 6 and not swept.notes
    df = swept.store.read()
    assert len(df) == 6 and sorted(set(df["step"])) == [10, 20, 30]
    assert set(df["layer"]) == {"-1"} and (df["n_points"] == 300).all() and (df["n_neighbors"] == 12).all()
    assert df["seed"].tolist() == [0] * 6 and set(df["run"]) == {run_dir.name}
    # the same sampled sequences for every checkpoint of one data spec
    for _, g in df.groupby("data"):
        assert g["data_fingerprint"].nunique() == 1 and g["n_tokens"].nunique() == 1
        assert g["model_fingerprint"].nunique() == 3
    row = df.iloc[0]
    t = pq.read_table(swept.store.path / row["tokens_file"])
    assert t.num_rows == 300
    assert np.nanmean(t.column("lid").to_numpy()) == pytest.approx(row["mean"])
    assert json.loads((swept.store.path / row["summary_file"]).read_text())["mean"] == pytest.approx(row["mean"])
    j = swept.store.joined()
    assert {"eval_loss", "eval_f1", "loss"} <= set(j.columns)
    assert j.sort_values("step")["eval_f1"].drop_duplicates().tolist() == pytest.approx([0.5, 0.6, 0.7])
    assert "eval_runtime" not in swept.store.metric_names(task_only=True)


def test_rerun_recomputes_nothing(swept, run_dir, texts_file, other_texts_file):
    before = {p.name: p.stat().st_mtime_ns for p in swept.store.rows_dir.glob("*.parquet")}
    plan = plan_sweep([run_dir], [str(texts_file), str(other_texts_file)], swept.store.path, SETTINGS)
    assert plan.jobs == [] and plan.already_done == 6
    after = {p.name: p.stat().st_mtime_ns for p in swept.store.rows_dir.glob("*.parquet")}
    assert before == after
    # other settings are other measurements, kept side by side
    plan2 = plan_sweep([run_dir], [str(texts_file)], swept.store.path, SETTINGS.replace(n_neighbors=10))
    assert plan2.n_units == 3 and plan2.already_done == 0


def test_interrupted_sweep_resumes_where_it_stopped(tmp_path, texts_file, other_texts_file, monkeypatch):
    import lidscope.measure as m

    run = make_run(tmp_path / "run", steps=(1, 2))
    store = tmp_path / "store"
    real = m.measure
    calls = {"n": 0}

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:  # second checkpoint, first data spec: the machine "dies"
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(m, "measure", flaky)
    with pytest.raises(KeyboardInterrupt):
        sweep([run], [str(texts_file), str(other_texts_file)], store, SETTINGS)
    assert len(ResultsStore(store).done_ids()) == 2
    done_before = {p.name: p.read_bytes() for p in (store / "rows").glob("*.parquet")}
    calls["n"] = 10
    report = sweep([run], [str(texts_file), str(other_texts_file)], store, SETTINGS)
    assert report.already_done == 2 and len(report.finished) == 2 and calls["n"] == 12
    for name, content in done_before.items():  # finished measurements untouched
        assert (store / "rows" / name).read_bytes() == content
    assert len(ResultsStore(store).read()) == 4


def test_missing_and_corrupt_checkpoints_are_reported_and_skipped(tmp_path, texts_file):
    run = make_run(tmp_path / "run", steps=(1, 2, 3))
    for f in (run / "checkpoint-2").glob("*.safetensors"):
        f.unlink()  # interrupted save: no weights
    w = next((run / "checkpoint-3").glob("*.safetensors"))
    w.write_bytes(w.read_bytes()[:200])  # truncated weights
    events = []
    report = sweep([run], [str(texts_file)], tmp_path / "store", SETTINGS, on_event=lambda k, i: events.append(k))
    assert [s["checkpoint"].endswith("checkpoint-2") for s in report.skipped] == [True]
    assert "no weights" in report.skipped[0]["reason"]
    assert len(report.failed) == 1 and report.failed[0]["step"] == 3
    assert "corrupt" in report.failed[0]["error"] or "truncated" in report.failed[0]["error"]
    assert events == ["done", "failed"] and sorted(report.store.read()["step"]) == [1]
    assert report.store.failures()[0]["step"] == 3


def test_mismatched_tokenizers_and_missing_tokenizer(tmp_path, texts_file):
    from tinymodels import make_tokenizer

    run = make_run(tmp_path / "run", steps=(1, 2))
    make_tokenizer("roberta").save_pretrained(run / "checkpoint-2")
    with pytest.raises(SweepError, match="different tokenizers.*--tokenizer"):
        plan_sweep([run], [str(texts_file)], tmp_path / "store", SETTINGS)
    bare = make_run(tmp_path / "bare", steps=(1,), tokenizer_in_checkpoints=False)
    with pytest.raises(SweepError, match="no tokenizer files.*--tokenizer DIR"):
        plan_sweep([bare], [str(texts_file)], tmp_path / "store", SETTINGS)
    tok_dir = tmp_path / "tok"
    make_tokenizer("bert").save_pretrained(tok_dir)
    report = sweep([bare], [str(texts_file)], tmp_path / "store2", SETTINGS, tokenizer=tok_dir)
    assert report.ok and len(report.store.read()) == 1


def test_checkpoint_specs(tmp_path, run_dir):
    ck, skipped = discover_checkpoints([run_dir / "checkpoint-20", f"{run_dir / 'checkpoint-10'}@7"])
    assert [(c.step, c.run) for c in ck] == [(7, run_dir.name), (20, run_dir.name)] and not skipped
    with pytest.raises(SweepError, match="@STEP"):
        discover_checkpoints([_plain_model(tmp_path, run_dir)])
    with pytest.raises(SweepError, match="does not exist"):
        discover_checkpoints([tmp_path / "nope"])
    with pytest.raises(SweepError, match="no checkpoint-<step>"):
        discover_checkpoints([tmp_path])
    with pytest.raises(SweepError, match="integer"):
        discover_checkpoints([f"{tmp_path / 'x'}@last"])


def _plain_model(tmp_path: Path, run_dir: Path) -> Path:
    dst = tmp_path / "final-model"
    shutil.copytree(run_dir / "checkpoint-10", dst)
    return dst


def test_bad_data_spec_fails_before_any_work(run_dir, tmp_path):
    with pytest.raises(SweepError, match="nowhere.txt"):
        plan_sweep([run_dir], ["nowhere.txt"], tmp_path / "store", SETTINGS)
    assert not (tmp_path / "store" / "rows").exists()


def test_metrics_and_empty_store_errors(swept, tmp_path):
    with pytest.raises(MetricNotFoundError, match="eval_accuracy.*available metrics: .*eval_f1"):
        swept.store.joined(["eval_accuracy"])
    with pytest.raises(StoreError, match="does not exist.*lidscope sweep"):
        ResultsStore(tmp_path / "none").read(require=True)
    ResultsStore(tmp_path / "empty").ensure()
    with pytest.raises(StoreError, match="no finished measurements"):
        ResultsStore(tmp_path / "empty").read(require=True)


def test_jobs_are_json_and_executors_plug_in(run_dir, texts_file, tmp_path):
    plan = plan_sweep([run_dir], [str(texts_file)], tmp_path / "store", SETTINGS)
    payloads = [json.loads(json.dumps(j.to_dict())) for j in plan.jobs]
    assert [SweepJob.from_dict(p) for p in payloads] == plan.jobs
    assert json.loads((tmp_path / "store" / "plan.json").read_text())["jobs"][0]["units"]

    seen = []

    class Recording:
        name = "recording"

        def map(self, fn, payloads):
            inner = get_executor("local")
            for o in inner.map(fn, payloads):
                seen.append(o.payload["checkpoint"]["step"])
                yield o

    register_executor("recording", Recording)
    report = run_sweep(plan, "recording")
    assert seen == [10, 20, 30] and len(report.finished) == 3
    assert isinstance(next(get_executor("local").map(lambda p: 1 / 0, [{}])), JobOutcome)
    with pytest.raises(ValueError, match="unknown executor"):
        get_executor("slurm")


def test_cli_sweep_resumes_and_plot_draws(swept, run_dir, texts_file, other_texts_file, tmp_path, saved_figures):
    from typer.testing import CliRunner

    from lidscope.cli import app, register_commands

    register_commands()
    runner = CliRunner()
    args = ["sweep", str(run_dir), "-d", str(texts_file), "-d", str(other_texts_file), "-o", str(swept.store.path),
            "-M", "0", "-N", "300", "-L", "12", "--sample-size", "3000", "--max-length", "32"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "6 already" in r.output and "0 new, 6 reused" in r.output
    # training.png draws, per data spec, the stored mean LID at each checkpoint's step
    df = swept.store.read()
    panels = [ax for ax in saved_figures[0].axes if ax.get_title()]
    assert sorted(ax.get_title() for ax in panels) == sorted(set(df["data_name"]))
    for ax in panels:
        rows = df[df["data_name"] == ax.get_title()].sort_values("step")
        line = ax.get_lines()[0]
        np.testing.assert_allclose(line.get_xdata(), rows["step"])
        np.testing.assert_allclose(line.get_ydata(), rows["mean"])
    report = (swept.store.path / "report.html").read_text()   # the sweep's page: one LID curve per data spec
    assert report.count('class="fig" id="sweep-') == 2 and "report:" in r.output
    r = runner.invoke(app, ["plot", str(swept.store.path), "-m", "eval_f1", "-o", str(tmp_path / "fig")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "fig.png").is_file() and (tmp_path / "fig.svg").is_file()
    r = runner.invoke(app, ["plot", str(swept.store.path), "-m", "eval_acc"])
    assert r.exit_code == 2 and "available metrics" in r.output
    r = runner.invoke(app, ["plot", str(tmp_path / "nothing")])
    assert r.exit_code == 2 and "lidscope sweep" in r.output
    r = runner.invoke(app, ["sweep", str(tmp_path / "missing"), "-o", str(tmp_path / "s")])
    assert r.exit_code == 2 and "does not exist" in r.output


def test_cli_sweep_dry_run_counts_pending_measurements_and_writes_nothing(swept, run_dir, texts_file,
                                                                          other_texts_file, tmp_path):
    from typer.testing import CliRunner

    from lidscope.cli import app, register_commands

    register_commands()
    runner = CliRunner()
    args = ["sweep", str(run_dir), "-d", str(texts_file), "-d", str(other_texts_file), "-M", "0", "-N", "300",
            "-L", "12", "--sample-size", "3000", "--max-length", "32", "--dry-run", "--threads", "1"]
    fresh = tmp_path / "fresh"
    r = runner.invoke(app, args + ["-o", str(fresh)], env={"COLUMNS": "300"})
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "0 measurements already" in text and "6 to run in 3 jobs" in text and "estimated time" in text
    assert "forward pass" in text and not fresh.exists()
    before = sorted(p.name for p in swept.store.path.rglob("*"))
    r = runner.invoke(app, args + ["-o", str(swept.store.path)], env={"COLUMNS": "300"})
    assert r.exit_code == 0, r.output
    assert "6 measurements already" in " ".join(r.output.split()) and "0 to run" in " ".join(r.output.split())
    assert sorted(p.name for p in swept.store.path.rglob("*")) == before
