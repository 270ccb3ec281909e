"""The dashboard in a real browser: headless Chromium from Debian's package, driven by Playwright.

The reporting service runs on a real port with the 131/NQ-CP scenario read from the broker; the page
must show the figures the API gives, in Vietnamese, on a laptop and on a phone, and keep working when
the alerts service is away. Screenshots go to test-artifacts/ (git-ignored).

Needs: ``apt-get install -y chromium`` and the ``playwright`` Python package (its driver only: no
browser is downloaded; the test points it at /usr/bin/chromium).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO, free_port, unique
from tests.e2e.reporting_server import serving_reporting
from tests.integration.report_scenario import Scenario

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("DONDOC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "test-artifacts"


def _browser_missing() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"Chromium not found at {CHROMIUM}: apt-get update && apt-get install -y chromium"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is missing: pip install playwright (no browser download needed)"
    return None


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario(unique("d")).directory().danh_muc().cascade_of_13().timeline()


@pytest.fixture(scope="module")
async def dashboard(settings: Any, infra: Any, scenario: Scenario) -> AsyncIterator[str]:
    """The reporting service on a real port; the alerts service's port has nobody listening."""
    async with serving_reporting(settings, infra, scenario, alerts_port=free_port()) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    reason = _browser_missing()
    if reason:
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


async def _open(browser: Any, url: str, *, width: int, height: int, mobile: bool = False) -> Any:
    page = await browser.new_page(
        viewport={"width": width, "height": height},
        is_mobile=mobile,
        locale="vi-VN",
        timezone_id="Asia/Ho_Chi_Minh",
    )
    await page.goto(url)
    await page.wait_for_selector("body[data-loaded]", timeout=20_000)
    return page


async def test_the_dashboard_shows_the_figures_of_the_api(
    dashboard: str, browser: Any, scenario: Scenario
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    province = scenario.id("ubnd-bd")
    query = f"agency_id={province}&document=131/NQ-CP&as_of=2023-04-01"
    async with httpx.AsyncClient(base_url=dashboard) as http:
        api = (await http.get(f"/v1/reports/summary?{query}")).json()
    page = await _open(
        browser, f"{dashboard}/?agency={province}&document=131/NQ-CP&as_of=2023-04-01", width=1366, height=900
    )
    figures = api["figures"]
    for name in (
        "assigned",
        "completed",
        "completed_on_time",
        "completed_late",
        "unfinished_within_deadline",
        "unfinished_overdue",
        "no_fixed_deadline",
        "withdrawn",
    ):
        assert await page.text_content(f'[data-figure="{name}"]') == str(figures[name]), name
    assert (
        await page.text_content('[data-figure="overdue_share"]')
        == figures["overdue_share"]["text"]
        == "26,6%"
    )
    assert await page.text_content("#paragraph") == api["paragraph_vi"]
    assert "Ủy ban nhân dân tỉnh Bình Định" in (await page.text_content("#scope-line") or "")
    # The per-agency table: the API's rows, in its order (most overdue first).
    rows = await page.eval_on_selector_all("#by-agency tbody tr", "rows => rows.map(r => r.dataset.agency)")
    assert rows == [r["agency_id"] for r in api["by_agency"]["rows"]]
    first = page.locator("#by-agency tbody tr").first
    assert await first.locator('[data-col="overdue"]').text_content() == "3"
    # The overdue list, with the person responsible and days overdue.
    overdue = await page.eval_on_selector_all("#overdue tbody tr", "rows => rows.map(r => r.dataset.task)")
    assert overdue == [i["task_id"] for i in api["overdue"]["items"]]
    assert "Mai Đức Thịnh" in (await page.text_content("#overdue") or "") or "Phạm Thị Hồng Hằng" in (
        await page.text_content("#overdue") or ""
    )
    # Per-document progress and ageing.
    assert "131/NQ-CP" in (await page.text_content("#by-document") or "")
    assert await page.text_content('[data-band="1-30"] .n') == "3"
    await page.screenshot(path=str(ARTIFACTS / "dashboard-laptop.png"), full_page=True)

    # The delegation tree of task 13, from the overdue list.
    await page.click(f'#overdue tr[data-task="{scenario.task(13)}"] a')
    await page.wait_for_selector(f'#tree li[data-task="{scenario.task("13c")}"]')
    tree = await page.text_content("#tree") or ""
    assert "Tổ Văn phòng Trường THPT Bình Dương" in tree and "Phòng Kế hoạch - Tài chính" in tree
    await page.locator("#tree").screenshot(path=str(ARTIFACTS / "dashboard-delegation-tree.png"))
    await page.close()


async def test_the_alerts_panel_degrades_gracefully_without_the_alerts_service(
    dashboard: str, browser: Any, scenario: Scenario
) -> None:
    page = await _open(browser, f"{dashboard}/?agency={scenario.id('ubnd-bd')}", width=1366, height=900)
    await page.fill("#alerts-person", scenario.id("p-vp-ubnd-bd-head"))
    await page.click("#alerts-form button")
    await page.wait_for_selector("#alerts-status.status-bad")
    assert "Không kết nối được dịch vụ cảnh báo" in (await page.text_content("#alerts-status") or "")
    assert await page.text_content('[data-figure="assigned"]') not in ("", "–")  # the figures still stand
    await page.close()


async def test_the_dashboard_fits_a_phone_and_follows_the_as_of_filter(
    dashboard: str, browser: Any, scenario: Scenario
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    province = scenario.id("ubnd-bd")
    page = await _open(
        browser, f"{dashboard}/?agency={province}&document=131/NQ-CP", width=390, height=844, mobile=True
    )
    # Nothing wider than the screen but the tables, which scroll inside their panel.
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    await page.fill("#f-as-of", "2023-01-01")
    await page.click("#filters button")
    await page.wait_for_function(
        "document.body.dataset.loaded && document.body.dataset.loaded.startsWith('2023-01-01')"
    )
    async with httpx.AsyncClient(base_url=dashboard) as http:
        api = (
            await http.get(
                "/v1/reports/summary",
                params={"agency_id": province, "document": "131/NQ-CP", "as_of": "2023-01-01"},
            )
        ).json()
    assert await page.text_content('[data-figure="unfinished_overdue"]') == str(
        api["figures"]["unfinished_overdue"]
    )
    assert api["figures"]["unfinished_overdue"] == 2
    await page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)
    await page.close()
