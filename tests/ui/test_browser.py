"""End-to-end in a real browser: Debian's Chromium driven by Playwright, against the real server
(uvicorn on 127.0.0.1) over a filled store. Screenshots go to test-artifacts/screenshots/.

Skips, saying how to install, where /usr/bin/chromium or Playwright is absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from experiments.screenshots import (
    PROJECT_ROOT,
    browser_missing,
    launch_browser,
    live_server,
    login,
)
from optimizer import reports
from optimizer.store.db import make_engine, session_factory
from tests.reports.factory import XSS_NAME
from tests.ui.conftest import Site

pytestmark = pytest.mark.browser

_MISSING = browser_missing()
if _MISSING:
    pytest.skip(f"browser tests skipped: {_MISSING}", allow_module_level=True)

SHOTS = PROJECT_ROOT / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def base_url(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with live_server(site.database_url, tmp_path_factory.mktemp("live") / "var") as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = launch_browser(playwright)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def page(browser: Any, base_url: str, site: Site) -> Iterator[Any]:
    """A desktop page, logged in through the form; any JavaScript dialog fails the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    login(page, base_url, site.read_key)
    yield page
    context.close()
    assert dialogs == [], f"a script ran in the page: {dialogs}"


def _shot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    return path


def _fits_the_window(page: Any) -> None:
    """Wide tables scroll inside their own box; the page itself never scrolls sideways."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{page.url} is {overflow}px wider than the window"


def _charts_rendered(page: Any, expected: int) -> None:
    """Each chart's SVG is present, laid out, and holds drawn, non-empty marks."""
    charts = page.locator("svg.chart")
    assert charts.count() == expected
    for index in range(expected):
        chart = charts.nth(index)
        box = chart.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 40
        drawn = chart.locator(".series, rect.bar")
        assert drawn.count() > 0, chart.get_attribute("data-chart")
        for mark in range(drawn.count()):
            element = drawn.nth(mark)
            tag = element.evaluate("e => e.tagName")
            if tag == "polyline":
                assert len((element.get_attribute("points") or "").split()) >= 2
            mark_box = element.bounding_box()
            assert mark_box is not None and (mark_box["width"] > 0 or mark_box["height"] > 0)


def test_login_form_and_cookie(browser: Any, base_url: str, site: Site) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base_url}/ui/health")
    assert "/ui/login" in page.url
    page.fill("#key", "sk_nothing_wrong")
    page.click("button[type=submit]")
    assert "lacks the 'read' scope" in page.locator(".error").inner_text()
    page.fill("#key", site.read_key)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/ui/health*")
    (cookie,) = [c for c in context.cookies() if c["name"] == "optimizer_session"]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert cookie["value"] != site.read_key
    assert "optimizer_session" not in page.evaluate("document.cookie")
    page.click("form.logout button")
    page.wait_for_url(f"{base_url}/ui/login*")
    page.goto(f"{base_url}/ui/experiments")
    assert "/ui/login" in page.url
    context.close()


def test_experiment_page(page: Any, base_url: str, site: Site) -> None:
    engine = make_engine(site.database_url)
    with session_factory(engine)() as session:
        expected = reports.experiment_report(session, experiment_id=site.world.experiment_id)
    engine.dispose()
    page.goto(f"{base_url}/ui/experiments")
    page.click(f"a[href='/ui/experiments/{site.world.experiment_id}']")
    assert page.locator("#verdict p").inner_text() == expected.verdict
    rows = page.locator("#variants tbody tr")
    assert rows.count() == 3
    names = [rows.nth(i).locator("td").first.inner_text() for i in range(3)]
    assert names[2] == XSS_NAME  # shown as text, never run
    assert page.get_by_text(XSS_NAME, exact=True).first.is_visible()
    assert page.locator("script").count() == 0
    assert "OK" in page.locator("#srm").inner_text()
    assert page.locator("#guardrail tbody tr").count() == 3
    _charts_rendered(page, 3)
    _fits_the_window(page)
    _shot(page, "experiment")


def test_health_page_and_period(page: Any, base_url: str) -> None:
    page.goto(f"{base_url}/ui/health")
    assert page.locator("#health-figures .tile").count() == 9
    assert page.locator("svg.gauge .mark").count() == 2
    _charts_rendered(page, 3)
    _fits_the_window(page)
    assert page.locator("svg[data-chart=opt_out_trend] .mark").count() == 2
    _shot(page, "health")
    everything = page.locator("#health-figures .tile .value").first.inner_text()
    page.click("a.preset[href='?period=7d']")
    page.wait_for_url("**period=7d")
    assert page.locator("a.preset[aria-current=true]").inner_text() == "Last 7 days"
    assert int(page.locator("#health-figures .tile .value").first.inner_text()) < int(everything)


@pytest.mark.parametrize(
    ("name", "path", "charts"),
    [("segments", "/ui/segments", 5), ("attribution", "/ui/attribution", 2)],
)
def test_breakdown_pages(page: Any, base_url: str, name: str, path: str, charts: int) -> None:
    page.goto(f"{base_url}{path}")
    _charts_rendered(page, charts)
    _fits_the_window(page)
    assert page.get_by_text(XSS_NAME, exact=False).count() >= 1
    if name == "attribution":
        assert page.locator("#by-variant tbody tr").count() == 3
        assert page.locator("#by-position tbody tr").count() >= 2
    _shot(page, name)


def test_lead_page(page: Any, base_url: str, site: Site) -> None:
    page.goto(f"{base_url}/ui/leads")
    page.fill("#q", str(site.world.lead_ids[1]))
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base_url}/ui/leads/{site.world.lead_ids[1]}")
    assert page.locator("#timeline tbody tr").count() >= 1
    assert page.locator("#decisions tbody tr").count() >= 1
    _fits_the_window(page)
    _shot(page, "lead")


def test_phone_layout(browser: Any, base_url: str, site: Site) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    page = context.new_page()
    login(page, base_url, site.read_key)
    for name, path in (
        ("experiment-phone", f"/ui/experiments/{site.world.experiment_id}"),
        ("health-phone", "/ui/health"),
    ):
        page.goto(f"{base_url}{path}")
        _fits_the_window(page)
        _shot(page, name)
    context.close()
