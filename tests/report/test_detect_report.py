"""A `lidscope detect` run folder in the report, read back from a real headless Chromium: verdicts, the
per-method table, each set's ROC (drawn from the per-text scores) and the dataset-level curve."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "detect"))
from browser import browser_or_skip, open_page  # noqa: E402
from report_runs import BASE, fake_run  # noqa: E402
from tinylms import finetune, make_causal, save, sentences  # noqa: E402

from lidscope.detect import DetectSettings, detect, inference  # noqa: E402
from lidscope.report import build_report, write_report  # noqa: E402

SIZES = (10, 30, 80)  # 80 > the 40 texts per set: a size the report must show as not measured


@pytest.fixture(scope="module")
def detect_folder(tmp_path_factory):
    """A tiny LM fine-tuned on 'member' texts, audited with its base: members, clean texts, reference."""
    root = tmp_path_factory.mktemp("detect-report")
    base, tok = make_causal("llama")
    members = sentences(40, seed=1)
    tuned = finetune(base, tok, members, steps=60)
    b, t = save(base, tok, root / "base"), save(tuned, tok, root / "tuned")
    settings = DetectSettings(max_length=32, n_neighbors=16, decide_by="loss", set_sizes=SIZES, n_resamples=200,
                              n_bootstrap=300, n_permutations=300)
    detect(t, {"members": members, "clean": sentences(40, seed=2)}, sentences(40, seed=3), base=b,
           settings=settings, out=root / "run")
    return root / "run"


@pytest.fixture(scope="module")
def opened(detect_folder):
    browser_or_skip()
    html = write_report([detect_folder], detect_folder / "report.html")
    with open_page(html, min_figures=4) as (page, errors, requests):
        yield page, errors, requests, json.loads((detect_folder / "detect.json").read_text())


def _column(page, table: str, header: str) -> list[str]:
    heads = [h.strip() for h in page.locator(f"#{table} th").all_inner_texts()]
    return page.locator(f"#{table} tbody td:nth-child({heads.index(header) + 1})").all_inner_texts()


@pytest.mark.slow  # headless Chromium
def test_page_opens_offline_without_errors(opened):
    page, errors, requests, _ = opened
    assert errors == [] and requests == []
    # long verdicts and warnings wrap: nothing pushes the page wider than the window
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.slow  # headless Chromium
def test_verdicts_shown_are_the_recorded_ones(opened):
    page, _, _, d = opened
    assert _column(page, "detect0-verdicts", "set") == list(d["sets"])
    assert _column(page, "detect0-verdicts", "verdict") == [r["verdict"] for r in d["sets"].values()]
    # the tuned model memorised its members: the loss verdict says so, and not for the clean texts
    assert d["sets"]["members"]["verdict"].startswith("member-like")
    assert d["sets"]["clean"]["verdict"] == "no detectable membership signal"
    shown_p = [float(v) for v in _column(page, "detect0-verdicts", "p")]
    np.testing.assert_allclose(shown_p, [r["p_value"] for r in d["sets"].values()], atol=5e-4)


@pytest.mark.slow  # headless Chromium
def test_method_table_and_curve_columns(opened):
    page, _, _, d = opened
    methods = _column(page, "detect0-methods", "method")
    assert methods == [m for s in d["sets"].values() for m in s["methods"]]
    auc = [float(v) for v in _column(page, "detect0-methods", "AUC")]
    np.testing.assert_allclose(auc, [m["auc"]["auc"] for s in d["sets"].values() for m in s["methods"].values()],
                               atol=5e-4)
    n10 = [float(v) for v in _column(page, "detect0-methods", "n=10")]
    want = [m["curve"][0]["p_member_verdict"] for s in d["sets"].values() for m in s["methods"].values()]
    np.testing.assert_allclose(n10, want, atol=5e-4)
    assert set(_column(page, "detect0-methods", "n=80")) == {""}   # more than the 40 texts: not measured


@pytest.mark.slow  # headless Chromium
def test_roc_figure_draws_the_scores_of_the_texts(opened, detect_folder):
    page, _, _, d = opened
    texts = pq.read_table(detect_folder / "texts.parquet").to_pandas()
    traces = page.evaluate("() => document.getElementById('detect0-roc-0').data.map(t => [t.name, t.x, t.y])")
    assert [n.split(" ")[0] for n, *_ in traces] == [*d["methods"], "chance"]
    sets = texts["set"].to_numpy()
    for name, x, y in traces[:-1]:
        meth = name.split(" ")[0]
        sc = texts[f"score_{meth}"].to_numpy(dtype=float)
        fpr, tpr = inference.roc_curve(sc[sets == "members"], sc[sets == "reference"])
        np.testing.assert_allclose(x, fpr)
        np.testing.assert_allclose(y, tpr)
        assert f"AUC {d['sets']['members']['methods'][meth]['auc']['auc']:.2f}" in name
    # the curve panel: P("member") at the measured sizes only
    curve = page.evaluate("() => document.getElementById('detect0-curve-0').data.map(t => [t.name, t.x, t.y])")
    loss = next(c for c in curve if c[0] == "loss")
    assert loss[1] == [10, 30]
    np.testing.assert_allclose(loss[2], [c["p_member_verdict"] for c in d["sets"]["members"]["methods"]["loss"]
                                         ["curve"][:2]])


def test_detect_folder_inside_a_run_folder_is_found(detect_folder, tmp_path):
    run = fake_run(tmp_path / "run", BASE, points=True)
    shutil.copytree(detect_folder, run / "detect")
    page = build_report([run])
    assert "run0-dist" in page.figures and "detect0-roc-1" in page.figures
    # and a folder holding several detect runs (a benchmark's output) gets one section each
    shutil.copytree(detect_folder, tmp_path / "bench" / "a" / "epoch1")
    shutil.copytree(detect_folder, tmp_path / "bench" / "a" / "epoch3")
    page = build_report([tmp_path / "bench"])
    assert {"detect0-roc-0", "detect1-roc-0"} <= set(page.figures) and "detect2-roc-0" not in page.figures
