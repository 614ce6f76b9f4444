"""The report as a person uses it: opened from file:// in headless Chromium (Debian's chromium + Playwright).

Skips with a reason when no browser is installed, except where LIDSCOPE_REQUIRE_BROWSER=1 (CI), where
a missing browser is a failure.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from browser import browser_or_skip, open_page  # noqa: E402
from report_runs import BASE, fake_run  # noqa: E402

from lidscope.drilldown import Drilldown  # noqa: E402
from lidscope.report import write_report  # noqa: E402
from lidscope.report.build import histogram  # noqa: E402
from lidscope.runs import load_run  # noqa: E402

pytestmark = pytest.mark.slow  # drives headless Chromium: left out of the fast loop (-m 'not slow')

@pytest.fixture(scope="module")
def opened(tmp_path_factory):
    browser_or_skip()
    root = tmp_path_factory.mktemp("browser")
    a = fake_run(root / "a", BASE, seed=1, points=True, model="base")
    b = fake_run(root / "b", BASE, seed=2, shift={"Ġcat": -2.0, ".": +1.0}, points=True, model="tuned")
    html = write_report([a, b], root / "report.html", min_count=10)
    with open_page(html, min_figures=6) as (page, errors, requests):
        yield page, errors, requests, load_run(a), load_run(b), root


def test_no_console_errors_and_no_network(opened):
    page, errors, requests, *_ = opened
    assert errors == [] and requests == []


def test_map_has_every_point_and_hover_shows_the_token_in_context(opened):
    page, errors, _, a, _, _ = opened
    n = len(a.tokens)
    assert page.locator("#run0-map--1 .scatterlayer .point").count() == n
    d = Drilldown(a)
    # the most isolated point (in the map's own scale), so the hover cannot pick a neighbour
    xy = np.c_[d.points["map_x"], d.points["map_y"]]
    xy = (xy - xy.min(0)) / np.ptp(xy, axis=0)
    dist = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1)) + np.eye(n) * 9
    i = int(np.argmax(dist.min(1)))
    page.locator("#run0-map--1").scroll_into_view_if_needed()
    x, y = page.evaluate("""i => {const gd=document.getElementById('run0-map--1');
        const L=gd._fullLayout, r=gd.getBoundingClientRect();
        return [r.left+L.xaxis._offset+L.xaxis.l2p(gd.data[0].x[i]), r.top+L.yaxis._offset+L.yaxis.l2p(gd.data[0].y[i])];}""", i)
    page.mouse.move(x - 30, y - 30)
    page.mouse.move(x, y)
    page.wait_for_function("document.querySelector('#run0-map--1-ctx mark') !== null")
    ctx = d.context(i)
    text = page.locator("#run0-map--1-ctx").inner_text()
    assert page.locator("#run0-map--1-ctx mark").inner_text() == ctx["token_text"]
    assert (ctx["before"][-20:] + ctx["token_text"] + ctx["after"][:20]) in text
    assert errors == []


def test_sorting_a_column_reorders_the_table(opened):
    page, *_ = opened
    table = page.locator("#run0-type--1")
    header = table.locator("th", has_text="mean LID")
    col = [h.strip() for h in table.locator("th").all_inner_texts()].index("mean LID")

    def values():
        return [float(v) for v in table.locator(f"tbody td:nth-child({col + 1})").all_inner_texts()]

    header.click()
    up = values()
    header.click()
    down = values()
    assert up == sorted(up) and down == sorted(up, reverse=True) and up != down


def test_comparison_ranks_the_shifted_types_first_without_a_verdict(opened):
    page, *_ = opened
    heads = page.locator("#cmp0-movers th").all_inner_texts()
    assert "moved" not in [h.strip() for h in heads]      # no per-type verdict (clouds held fixed)
    first = page.locator("#cmp0-movers tbody tr td:first-child").all_inner_texts()
    assert first[:2] == ["␣cat", "."]
    smallest = page.locator("#cmp0-steady tbody tr td:first-child").all_inner_texts()
    assert set(smallest[:4]) == {"␣the", "ing", "␣dog", "␣42"}
    # the figure shows the largest changes with their measured values
    fig = page.evaluate("() => document.getElementById('cmp0-movers-fig').data[0]")
    by_size = sorted(zip(fig["y"], fig["x"]), key=lambda yx: -abs(yx[1]))
    assert sorted(y for y, _ in by_size[:2]) == sorted(["␣cat", "."])
    assert dict(zip(fig["y"], fig["x"]))["␣cat"] == pytest.approx(-2.0, abs=0.3)


def test_figures_show_the_data(opened):
    page, _, _, a, b, _ = opened
    dist = page.evaluate("() => document.getElementById('run0-dist').data.map(t => t.y)")
    edges, dens = histogram({"layer -1": a.tokens["lid"].to_numpy()})
    np.testing.assert_allclose(dist[0], dens["layer -1"], rtol=1e-9)
    cls = page.evaluate("() => { const t = document.getElementById('run0-class-fig').data[0]; return [t.y, t.x]; }")
    want = Drilldown(a).by_class().set_index("class")["mean"]
    for name, x in zip(*cls):
        assert x == pytest.approx(want[name])
    cmp = page.evaluate("() => document.getElementById('cmp0-dist').data.map(t => t.name)")
    assert cmp == ["base", "tuned"]
