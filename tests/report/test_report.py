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
from lidscope.cli import app, register_commands  # noqa: E402
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


@pytest.mark.parametrize("replicates", [True, False])
def test_sweep_curve_band_signals_and_metrics(tmp_path, replicates):
    store = ResultsStore(tmp_path / "store")
    means = [12.0, 11.9, 9.0, 8.95, 9.0, 8.98, 9.01, 8.99]  # six flat values: the default plateau window
    for i, m in enumerate(means):
        run = fake_run(tmp_path / f"ck{i}", {k: v - 12.0 + m for k, v in BASE.items()}, seed=i)
        tok = pq.read_table(run / "tokens.parquet")
        mean = float(np.mean(tok.column("lid").to_numpy()))
        iv = {"mean_low": mean - 0.3 - 0.01 * i, "mean_high": mean + 0.2} if replicates else {}
        store.add_rows(f"j{i}", [{"job_id": f"j{i}", "source": "sweep", "run": "ft", "seed": 0, "step": 100 * i,
                                  "data": "d", "data_name": "d", "layer": "-1", "mean": mean, "median": mean,
                                  "std": 1.0, "settings_id": "s", "tokens_file": str(run / "tokens.parquet"), **iv}])
    store.write_metrics("ft", [(100 * i, "eval_loss", 3.0 - 0.2 * i) for i in range(len(means))])
    page = build_report([tmp_path / "store"])
    data, layout = page.figures["sweep-0"]
    names = [t.get("name") for t in data]
    assert {"plateau", "drop", "eval_loss"} <= set(names)
    rows = store.read().sort_values("step")
    if replicates:  # the band is the stored replicate interval: upper ends, then back along the lower ends
        band = data[names.index("95 % interval (replicates)")]["y"]
        assert band[0] == pytest.approx(rows["mean_high"].iloc[0]) and band[-1] == pytest.approx(rows["mean_low"].iloc[0])
        assert band[len(means)] == pytest.approx(rows["mean_low"].iloc[-1]) and "mean LID" in names
    else:  # one replicate: no band (an interval over one cloud's sequences is not the mean's), and it says so
        assert not any("interval" in str(n) for n in names if n != "mean LID (one replicate: no interval)")
        assert "mean LID (one replicate: no interval)" in names
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
    register_commands()
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
    assert "9.87 [9.61, 10.13]" in html and "95 % interval, replicates, n = 5" in html
    assert "cloud held fixed" in html   # the interval over sequences is labelled for what it is
    # and kept off the first screen: folded into details, after the replicate interval, as not covering sampling
    first = html.index("9.87 [9.61, 10.13]")
    assert first < html.index("<details><summary>Details:") < html.index("cloud held fixed")
    assert "cloud held fixed" not in html[:html.index("<details>")] and "does not cover sampling" in html


def _with_replicates(run, means):
    import json

    s = json.loads((run / "summary.json").read_text())
    s["replicates"] = [{"data_seed": 42 + r, "seed": 7 + r, "data_fingerprint": f"f{r}", "means": {"-1": m}}
                       for r, m in enumerate(means)]
    s["layers"] = {"-1": {"mean": float(np.mean(means))}}
    (run / "summary.json").write_text(json.dumps(s))


@pytest.mark.parametrize("means_b", [[10.0, 9.1, 10.6], [9.0, 8.6, 9.3], [9.0]])
def test_comparison_verdict_comes_from_the_replicates(tmp_path, means_b):
    from lidscope.replicates import paired_comparison
    from lidscope.runs import load_run

    a = fake_run(tmp_path / "a", BASE, seed=1)
    b = fake_run(tmp_path / "b", BASE, seed=2, shift={t: -1.0 for t in BASE})  # every point 1 lower
    _with_replicates(a, [10.0, 9.5, 10.4][:len(means_b)])
    _with_replicates(b, means_b)
    html = build_report([a, b]).render()
    c = paired_comparison(load_run(a), load_run(b), "-1")
    if len(means_b) == 1:   # one replicate: the points moved clearly, but no verdict is claimed
        assert "no verdict (one replicate" in html and "change (one replicate: no interval)" in html
    else:
        d = c.difference
        assert f"{d.estimate:+.2f} [{d.low:+.2f}, {d.high:+.2f}]" in html and c.verdict in html
    # first case: the replicates straddle 0 although every point moved down by 1: no detectable change
    assert (c.verdict == "no detectable change") == (means_b[0] == 10.0)
    assert "clouds held fixed" in html
    r = CliRunner().invoke(app, ["tokens", str(a), "--compare", str(b)], env={"COLUMNS": "300"})
    assert r.exit_code == 0, r.output
    assert "clouds held fixed" in r.output
    if len(means_b) == 1:
        assert "change between the runs: no interval (one replicate" in r.output
    else:
        assert f"change between the runs: {c.sentence()}" in r.output
