"""The dashboard in a real browser: headless Chromium from Debian's package, driven by Playwright.

The reporting service runs on a real port with the 131/NQ-CP scenario read from the broker; the page
must show the figures the API gives, in Vietnamese, on a laptop and on a phone, and keep working when
the alerts service is away. Live alerts need the agency token of the person's agency, entered on the
page (kept in sessionStorage, sent as a header); the alerts service runs beside the reporting one only
while a test needs it. Screenshots go to test-artifacts/ (git-ignored).

Needs: ``apt-get install -y chromium`` and the ``playwright`` Python package (its driver only: no
browser is downloaded; the test points it at /usr/bin/chromium).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import REPO, eventually, free_port, unique
from tests.e2e.browser import open_page
from tests.e2e.reporting_server import SCENARIO_DAY, serving_alerts, serving_reporting
from tests.integration.progress_alerts_kit import assign, bearer, fetch
from tests.integration.report_scenario import Scenario

pytestmark = pytest.mark.e2e

ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario(unique("d")).directory().danh_muc().cascade_of_13().timeline()


@pytest.fixture(scope="module")
def alerts_port() -> int:
    """Where the reporting service finds the alerts service: nobody listens unless a test starts it."""
    return free_port()


@pytest.fixture(scope="module")
async def dashboard(settings: Any, infra: Any, scenario: Scenario, alerts_port: int) -> AsyncIterator[str]:
    """The reporting service on a real port."""
    async with serving_reporting(settings, infra, scenario, alerts_port=alerts_port) as port:
        yield f"http://127.0.0.1:{port}"


async def test_the_dashboard_shows_the_figures_of_the_api(dashboard: str, browser: Any, scenario: Scenario) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    province = scenario.id("ubnd-bd")
    query = f"agency_id={province}&document=131/NQ-CP&as_of=2023-04-01"
    async with httpx.AsyncClient(base_url=dashboard) as http:
        api = (await http.get(f"/v1/reports/summary?{query}")).json()
    page = await open_page(
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
    assert await page.text_content('[data-figure="overdue_share"]') == figures["overdue_share"]["text"] == "26,6%"
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
    dashboard: str, browser: Any, scenario: Scenario, settings: Any
) -> None:
    page = await open_page(browser, f"{dashboard}/?agency={scenario.id('ubnd-bd')}", width=1366, height=900)
    await page.fill("#alerts-token", _token(settings, scenario.id("vp-ubnd-bd")))
    await page.fill("#alerts-person", scenario.id("p-vp-ubnd-bd-head"))
    await page.click("#alerts-form button[type=submit]")
    await page.wait_for_selector("#alerts-status.status-bad")
    assert "Không kết nối được dịch vụ cảnh báo" in (await page.text_content("#alerts-status") or "")
    assert await page.text_content('[data-figure="assigned"]') not in ("", "–")  # the figures still stand
    await page.close()


async def test_the_dashboard_fits_a_phone_and_follows_the_as_of_filter(
    dashboard: str, browser: Any, scenario: Scenario
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    province = scenario.id("ubnd-bd")
    page = await open_page(
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
    assert await page.text_content('[data-figure="unfinished_overdue"]') == str(api["figures"]["unfinished_overdue"])
    assert api["figures"]["unfinished_overdue"] == 2
    await page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)
    await page.close()


def _token(settings: Any, agency_id: str) -> str:
    return bearer(settings, agency_id)["Authorization"].removeprefix("Bearer ")


async def test_without_a_token_the_alerts_panel_asks_for_the_agency_token_and_opens_no_stream(
    dashboard: str, browser: Any, scenario: Scenario
) -> None:
    page = await open_page(browser, dashboard, width=1366, height=900)
    streams: list[str] = []
    page.on("request", lambda r: streams.append(r.url) if "/alerts/stream" in r.url else None)
    assert "Mã xác thực của cơ quan" in (await page.text_content("label:has(#alerts-token)") or "")
    assert await page.get_attribute("#alerts-token", "type") == "password"
    await page.fill("#alerts-person", scenario.id("p-bd-sgddt-officer-1"))
    await page.click("#alerts-form button[type=submit]")
    await page.wait_for_selector('#alerts-status[data-state="need-token"]')
    status = await page.text_content("#alerts-status") or ""
    assert "Cần nhập mã xác thực của cơ quan" in status and "status-bad" in (
        await page.get_attribute("#alerts-status", "class") or ""
    )
    assert streams == []
    ARTIFACTS.mkdir(exist_ok=True)
    await page.locator("section:has(#alerts)").screenshot(path=str(ARTIFACTS / "dashboard-alerts-no-token.png"))
    await page.close()


async def test_live_alerts_show_for_the_persons_agency_token_and_resume_after_a_break(
    dashboard: str,
    browser: Any,
    scenario: Scenario,
    settings: Any,
    infra: Any,
    alerts_port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.reporting import dashboard as relay

    monkeypatch.setattr(relay, "RETRY_MS", 300)  # the page retries sooner after "unavailable" (15 s in service)
    ARTIFACTS.mkdir(exist_ok=True)
    officer, lead = scenario.id("p-bd-sgddt-officer-1"), scenario.id("bd-sgddt")
    token = _token(settings, lead)

    async def known() -> bool:
        return bool(await fetch(settings, "alerts", "SELECT 1 FROM people WHERE person_id = $1", officer))

    async def assigned(title: str) -> str:
        task_id, _ = await assign(
            infra.kafka,
            SCENARIO_DAY,
            officer=officer,
            lead=lead,
            assigning=scenario.id("ubnd-bd"),
            due="Quý IV năm 2023",
            title=title,
        )
        return task_id

    async def alerted(task_id: str) -> bool:
        return await page.locator(f'#alerts li[data-task="{task_id}"]').count() > 0

    async with serving_alerts(settings, alerts_port):
        await eventually(known, timeout=60, what="the alerts service to read the directory")
        # The relay has no token of its own: without the viewer's, the alerts service refuses, and says so.
        async with httpx.AsyncClient(base_url=dashboard, timeout=10) as http:
            bare = await http.get("/v1/reports/alerts/stream", params={"person_id": officer})
        assert bare.status_code == 401 and bare.json()["detail"]["code"] == "unauthorized"
        assert bare.headers["www-authenticate"] == "Bearer"
        page = await open_page(browser, dashboard, width=1366, height=900)
        requests: list[Any] = []
        page.on("request", lambda r: requests.append(r) if "/alerts/stream" in r.url else None)

        # Another agency's token (the province over the department): refused, saying why.
        await page.fill("#alerts-token", _token(settings, scenario.id("ubnd-bd")))
        await page.fill("#alerts-person", officer)
        await page.click("#alerts-form button[type=submit]")
        await page.wait_for_selector('#alerts-status[data-state="refused"]')
        refused = await page.text_content("#alerts-status") or ""
        assert f"Không được xem cảnh báo của {officer}" in refused and f"chính {lead}" in refused
        await page.locator("section:has(#alerts)").screenshot(path=str(ARTIFACTS / "dashboard-alerts-refused.png"))
        # A token that is not one: refused too.
        await page.fill("#alerts-token", "dd1.khong.hople")
        await page.click("#alerts-form button[type=submit]")
        await page.wait_for_function(
            "document.querySelector('#alerts-status').textContent.includes('không được chấp nhận')"
        )

        # The person's own agency: the stream opens and a new alert arrives live.
        await page.fill("#alerts-token", token)
        await page.click("#alerts-form button[type=submit]")
        await page.wait_for_selector('#alerts-status[data-state="connected"]')
        first = await assigned("Cảnh báo trực tiếp thứ nhất")
        await eventually(lambda: alerted(first), timeout=30, what="the first alert on the page")
        assert "Cảnh báo trực tiếp thứ nhất" in (await page.text_content("#alerts") or "")
        await page.locator("#alerts").screenshot(path=str(ARTIFACTS / "dashboard-live-alerts.png"))
        # The token stays in this tab's sessionStorage: not in localStorage, not in any URL.
        assert await page.evaluate("sessionStorage.getItem('dondoc.agencyToken')") == token
        assert token not in (await page.evaluate("JSON.stringify(localStorage)"))
        assert all(token not in r.url for r in requests) and token not in page.url
        assert requests[-1].headers["authorization"] == f"Bearer {token}"
        seen = len(requests)

    # The alerts service goes away; an alert is raised while the page is not connected to it.
    await page.wait_for_selector('#alerts-status[data-state="unavailable"], #alerts-status[data-state="broken"]')
    second = await assigned("Cảnh báo trong lúc mất kết nối")
    async with serving_alerts(settings, alerts_port):
        await eventually(lambda: alerted(second), timeout=60, what="the alert raised during the break")
        resumed = [r for r in requests[seen:] if r.headers.get("last-event-id")]
        assert resumed and all(r.headers["authorization"] == f"Bearer {token}" for r in resumed)
        assert await page.locator(f'#alerts li[data-task="{first}"]').count() == 1  # resumed, not replayed
        assert await page.get_attribute("#alerts-status", "data-state") == "connected"
        await page.close()
