"""`--dry-run` checks everything, prints a plan with an estimated time, and computes or writes nothing."""

import sys
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from lidscope.cli import app, register_commands
from lidscope.cli.measure import _resolve_defaults

sys.path.insert(0, str(Path(__file__).parents[1] / "extract"))
from tinymodels import WORDS, save_tiny  # noqa: E402

register_commands()
runner = CliRunner()


def test_estimate_dry_run_plans_and_writes_nothing(tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(500, 6)))
    res = runner.invoke(app, ["estimate", str(tmp_path / "x.npy"), "-L", "16", "--dry-run", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert "500 rows x 6 dimensions" in res.output and "estimated time" in res.output
    assert not (tmp_path / "o").exists()


def test_estimate_dry_run_still_rejects_bad_points(tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(10, 6)))
    res = runner.invoke(app, ["estimate", str(tmp_path / "x.npy"), "-L", "16", "--dry-run"])
    assert res.exit_code == 2 and "error" in res.output


def test_grokking_dry_run_catches_what_the_run_would_fail_on(tmp_path):
    res = runner.invoke(app, ["grokking", "--quick", "--dry-run", "--threads", "1", "--out", str(tmp_path / "g")])
    assert res.exit_code == 0, res.output
    assert "30 steps" in res.output and "estimated time" in res.output
    assert not (tmp_path / "g").exists()
    res = runner.invoke(app, ["grokking", "--quick", "--lid-points", "100000", "--dry-run", "--threads", "1"])
    assert res.exit_code == 2 and "lid_points" in res.output


def test_measure_dry_run_reads_model_and_texts(tmp_path):
    model = save_tiny("bert", tmp_path / "bert")
    texts = tmp_path / "t.txt"
    texts.write_text("\n".join(" ".join(WORDS[i:i + 6]) for i in range(40)))
    res = runner.invoke(app, ["measure", "--model", str(model), "--data", str(texts), "-M", "30", "-N", "100",
                              "-L", "16", "--dry-run", "--threads", "1", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert "30 sequences sampled" in res.output and "estimated time" in res.output
    assert not (tmp_path / "o").exists()
    res = runner.invoke(app, ["measure", "--model", str(tmp_path / "nowhere"), "--dry-run"])
    assert res.exit_code == 2 and "error" in res.output


def test_note_does_not_echo_a_value_the_user_typed():
    notes = _resolve_defaults(False, None, -5)["_notes"]
    assert notes and notes[0].startswith("quick defaults M = 4,000 (") and "N = -5" not in notes[0]


def _tiny_setup(tmp_path):
    model = save_tiny("bert", tmp_path / "bert")
    texts = tmp_path / "t.txt"
    texts.write_text("\n".join(" ".join(WORDS[i:i + 6]) for i in range(60)))
    return model, texts


def test_measure_dry_run_counts_every_replicate(tmp_path, monkeypatch):
    """R replicates extract the union of their sequence samples once and search R clouds."""
    import lidscope.cli._dryrun as dr
    from lidscope.replicates import plan_replicates
    from lidscope.settings import MeasureSettings

    monkeypatch.setattr(dr, "search_seconds", lambda n, d: 70.0)
    model, texts = _tiny_setup(tmp_path)
    base = ["measure", "--model", str(model), "--data", str(texts), "-M", "30", "-N", "100", "-L", "16",
            "--dry-run", "--threads", "1"]
    one = runner.invoke(app, base + ["-R", "1"], env={"COLUMNS": "300"})
    three = runner.invoke(app, base + ["-R", "3"], env={"COLUMNS": "300"})
    assert one.exit_code == 0 and three.exit_code == 0, one.output + three.output
    assert "neighbour search 70 s" in one.output and "neighbour search 3.5 min" in three.output
    union = plan_replicates(str(texts), MeasureSettings(n_replicates=3).replicate_seeds(), n_sequences=30).union
    assert 30 < len(union.texts) and f"{len(union.texts):,} in the union of the 3 replicates" in three.output


def test_compare_dry_run_plans_every_model_and_dataset(tmp_path):
    model, texts = _tiny_setup(tmp_path)
    other = tmp_path / "u.txt"
    other.write_text("\n".join(" ".join(WORDS[i:i + 4]) for i in range(50)))
    args = ["compare", str(model), str(model), "--name", "base", "--name", "tuned", "-d", str(texts), "-d", str(other),
            "-M", "20", "-N", "60", "-L", "8", "--dry-run", "--threads", "1", "--out", str(tmp_path / "o")]
    res = runner.invoke(app, args, env={"COLUMNS": "300"})
    assert res.exit_code == 0, res.output
    for name in ("base", "tuned"):
        for d in (texts, other):
            assert f"{name} on {d}" in " ".join(res.output.split())
    assert "R = 3" in res.output and "estimated time" in res.output
    assert not (tmp_path / "o").exists()
    bad = runner.invoke(app, args + ["--twonn-fraction", "skdim-0.1"])
    assert bad.exit_code == 2 and "twonn_fraction" in bad.output
    gone = runner.invoke(app, ["compare", str(tmp_path / "nowhere"), "--dry-run"])
    assert gone.exit_code == 2 and "error" in gone.output


def test_compare_passes_the_twonn_fraction_on(tmp_path, monkeypatch):
    import lidscope.measure

    seen = {}

    def fake_compare(models, data, **kw):
        seen.update(kw)
        raise ValueError("stop here")

    monkeypatch.setattr(lidscope.measure, "compare", fake_compare)
    res = runner.invoke(app, ["compare", "minilm", "--twonn-fraction", "skdim-0.3.4", "-q", "--threads", "1"])
    assert res.exit_code == 2 and "stop here" in res.output
    assert seen["twonn_fraction"] == "skdim-0.3.4"


def test_grokking_sweep_dry_run_lists_finished_resumed_and_new_runs(tmp_path):
    out = tmp_path / "gs"
    base = ["grokking-sweep", "--quick", "--train-fractions", "0.4,0.6", "--threads", "1", "--out", str(out)]
    res = runner.invoke(app, base + ["--dry-run"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert res.output.count(", new") == 2 and "estimated time" in res.output and not out.exists()
    done = runner.invoke(app, base + ["--train-fractions", "0.4"])
    assert done.exit_code == 0, done.output
    res = runner.invoke(app, base + ["--dry-run"], env={"COLUMNS": "200"})
    assert res.output.count("finished") == 1 and res.output.count(", new") == 1
    bad = runner.invoke(app, base + ["--lid-points", "100000", "--dry-run"])
    assert bad.exit_code == 2 and "lid_points" in bad.output
