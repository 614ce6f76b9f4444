"""The report's content without a browser: thinning, sweep curves and signals, grokking, CLI commands."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from report_runs import BASE, fake_run  # noqa: E402

from lidscope import LIDInputError  # noqa: E402
from lidscope.cli import _register, app  # noqa: E402
from lidscope.drilldown import group_means  # noqa: E402
from lidscope.report import build_report  # noqa: E402
from lidscope.training.store import ResultsStore  # noqa: E402


def test_a_large_map_is_thinned_and_says_so(tmp_path):
    run = fake_run(tmp_path / "a", BASE, points=True)
    page = build_report([run], map_budget=300)
    data, _ = page.figures["run0-map--1"]
    assert len(data[0]["x"]) == 300 and len(set(map(float, data[0]["x"]))) == 300
    assert "Showing 300 of 1,200 points, a random sample" in page.render()
    full = build_report([run])
    assert len(full.figures["run0-map--1"][0][0]["x"]) == 1200 and "All 1,200 points" in full.render()


def test_old_run_folder_gets_a_report_without_map(tmp_path):
    page = build_report([fake_run(tmp_path / "a", BASE, texts=False)])
    assert not any(k.startswith("run0-map") for k in page.figures)
    assert "written before maps were kept" in page.render()


def test_sweep_curve_band_signals_and_metrics(tmp_path):
    store = ResultsStore(tmp_path / "store")
    means = [12.0, 11.9, 9.0, 8.95, 9.0, 8.98, 9.01]
    for i, m in enumerate(means):
        run = fake_run(tmp_path / f"ck{i}", {k: v - 12.0 + m for k, v in BASE.items()}, seed=i)
        tok = pq.read_table(run / "tokens.parquet")
        mean = float(np.mean(tok.column("lid").to_numpy()))
        store.add_rows(f"j{i}", [{"job_id": f"j{i}", "source": "sweep", "run": "ft", "seed": 0, "step": 100 * i,
                                  "data": "d", "data_name": "d", "layer": "-1", "mean": mean, "median": mean,
                                  "std": 1.0, "settings_id": "s", "tokens_file": str(run / "tokens.parquet")}])
    store.write_metrics("ft", [(100 * i, "eval_loss", 3.0 - 0.2 * i) for i in range(7)])
    page = build_report([tmp_path / "store"])
    data, layout = page.figures["sweep-0"]
    names = [t.get("name") for t in data]
    assert {"95 % interval", "mean LID", "plateau", "drop", "eval_loss"} <= set(names)
    band = data[names.index("95 % interval")]["y"]
    t0 = pq.read_table(tmp_path / "ck0" / "tokens.parquet").to_pandas()
    o = group_means(t0["lid"].to_numpy(), np.zeros(len(t0)), t0["seq_index"].to_numpy()).iloc[0]
    # the band runs along the upper ends, then back along the lower ends
    assert band[0] == pytest.approx(o["hi"]) and band[-1] == pytest.approx(o["lo"])
    assert data[names.index("drop")]["x"] == [200]
    # first and last checkpoint side by side: every type moved down by about 3 (the means were shifted)
    movers = page.figures["sweepcmp0-movers-fig"][0][0]
    assert sorted(movers["y"]) == sorted(t.replace("Ġ", "␣") for t in BASE)
    assert np.allclose(movers["x"], means[-1] - means[0], atol=0.5)


def test_grokking_run(tmp_path):
    g = tmp_path / "grok"
    g.mkdir()
    (g / "config.json").write_text("{}")
    pq.write_table(pa.table({"step": [1, 10, 100], "train_acc": [0.1, 1.0, 1.0], "val_acc": [0.0, 0.1, 0.9],
                             "lid_val_mean": [9.0, 8.0, 5.0]}), g / "metrics.parquet")
    data, _ = build_report([g]).figures["grokking-fig"]
    assert [t["name"] for t in data] == ["val LID", "train acc", "val acc"]
    assert list(data[0]["y"]) == [9.0, 8.0, 5.0] and data[2]["yaxis"] == "y2"
    with pytest.raises(LIDInputError, match="not a measurement folder"):
        build_report([tmp_path / "nothing-here"])


def test_cli_tokens_and_report(tmp_path):
    a = fake_run(tmp_path / "a", BASE, seed=1, points=True)
    b = fake_run(tmp_path / "b", BASE, seed=2, shift={"Ġcat": -2.0}, points=True)
    _register()
    r = CliRunner().invoke(app, ["tokens", str(a), "--by", "class,position", "--csv", str(tmp_path / "csv")])
    assert r.exit_code == 0, r.output
    assert "continuation" in r.output and (tmp_path / "csv" / "by_class.csv").is_file()
    r = CliRunner().invoke(app, ["tokens", str(a), "--compare", str(b)])
    assert r.exit_code == 0 and "paired by position" in r.output and "␣cat" in r.output
    r = CliRunner().invoke(app, ["tokens", str(a), "--point", "3"])
    assert r.exit_code == 0 and "nearest 3 neighbours" in r.output
    r = CliRunner().invoke(app, ["tokens", str(a), "--by", "nope"])
    assert r.exit_code == 2 and "--by takes" in r.output
    r = CliRunner().invoke(app, ["report", str(a), str(b), "--out", str(tmp_path / "r.html")])
    assert r.exit_code == 0, r.output
    assert "cmp0-movers" in (tmp_path / "r.html").read_text() and "http" not in r.output


def test_a_recorded_interval_is_shown_next_to_the_drilldown_one(tmp_path):
    import json

    run = fake_run(tmp_path / "a", BASE)
    s = json.loads((run / "summary.json").read_text())
    s["layers"] = {"-1": {"interval": {"estimate": 9.87, "se": 0.1, "low": 9.61, "high": 10.13, "method": "replicates",
                                       "n": 5}}}
    (run / "summary.json").write_text(json.dumps(s))
    html = build_report([run]).render()
    assert "9.87 [9.61, 10.13]" in html and "replicates interval" in html
