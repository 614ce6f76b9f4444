"""Headless Chromium for page tests (Debian's chromium driven by Playwright; see the browser-tests reference)."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("LIDSCOPE_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]


def browser_or_skip():
    """playwright's sync_playwright, or skip (fail where LIDSCOPE_REQUIRE_BROWSER=1) with the reason."""
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "the playwright package is not installed (pip install playwright)"
    if reason is None and not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium, or set LIDSCOPE_CHROMIUM)"
    if reason:
        if os.environ.get("LIDSCOPE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser test required (LIDSCOPE_REQUIRE_BROWSER=1) but {reason}")
        pytest.skip(reason)
    return sync_playwright


@contextmanager
def open_page(html: Path, min_figures: int):
    """``(page, errors, requests)`` for ``html`` opened from file:// once ``min_figures`` plots are drawn;
    errors: console errors and uncaught exceptions; requests: any URL that is not file: or data:."""
    sync_playwright = browser_or_skip()
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
        page.goto(html.as_uri())
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length >= {min_figures}")
        try:
            yield page, errors, requests
        finally:
            page.screenshot(path=str(html.with_suffix(".png")), full_page=True)
            browser.close()
