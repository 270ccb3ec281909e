"""The dashboard's live alerts when the alerts service refuses an open stream (its token revoked while
the page follows it): the page says why, in Vietnamese, and does not reconnect. A real browser
(headless Chromium, as in test_dashboard.py) on the reporting service, with the alerts service beside it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest

from events.clock import VN_TZ
from events.directory import TokenRevoked
from services.runtime import auth
from tests.conftest import eventually, free_port, unique
from tests.e2e.browser import open_page
from tests.e2e.reporting_server import SCENARIO_DAY, serving_alerts, serving_reporting
from tests.integration.progress_alerts_kit import envelope, fetch, publish
from tests.integration.report_scenario import Scenario

pytestmark = pytest.mark.e2e

RETRY_S = 2.0  # the alerts service's "retry: 2000": when the page would reconnect after a stream ends


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario(unique("dr")).directory()  # the people: no task is needed


@pytest.fixture(scope="module")
def alerts_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
async def dashboard(settings: Any, infra: Any, scenario: Scenario, alerts_port: int) -> AsyncIterator[str]:
    async with serving_reporting(settings, infra, scenario, alerts_port=alerts_port) as port:
        yield f"http://127.0.0.1:{port}"


async def test_a_stream_refused_while_open_shows_why_and_is_not_reopened(
    dashboard: str,
    browser: Any,
    scenario: Scenario,
    settings: Any,
    infra: Any,
    alerts_port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DONDOC_ALERTS_STREAM_KEEPALIVE_S", "0.3")  # asked again at each keep-alive
    officer, lead = scenario.id("p-bd-sgddt-officer-1"), scenario.id("bd-sgddt")
    token, principal = auth.issue(settings.token_secret, lead, datetime.now(VN_TZ))

    async def known() -> bool:
        return bool(await fetch(settings, "alerts", "SELECT 1 FROM people WHERE person_id = $1", officer))

    async with serving_alerts(settings, alerts_port):
        await eventually(known, timeout=60, what="the alerts service to read the directory")
        page = await open_page(browser, dashboard, width=1366, height=900)
        streams: list[str] = []
        page.on("request", lambda r: streams.append(r.url) if "/alerts/stream" in r.url else None)
        await page.fill("#alerts-token", token)
        await page.fill("#alerts-person", officer)
        await page.click("#alerts-form button[type=submit]")
        await page.wait_for_selector('#alerts-status[data-state="connected"]')
        assert len(streams) == 1

        revoked = TokenRevoked(token_id=principal.token_id, agency_id=lead, revoked_at=SCENARIO_DAY)
        await publish(infra.kafka, envelope(revoked, task_id=None, at=SCENARIO_DAY), key=f"token:{principal.token_id}")
        await page.wait_for_selector('#alerts-status[data-state="refused"]', timeout=30_000)
        said = await page.text_content("#alerts-status") or ""
        assert f"Đã ngừng nhận cảnh báo của {officer}" in said and "thu hồi" in said, said
        assert f"dondoc token issue {lead}" in said
        # Not reopened: well past the delay after which the page retries a stream that ended.
        await page.wait_for_timeout(int(2.5 * RETRY_S * 1000))
        assert len(streams) == 1, streams
        assert await page.get_attribute("#alerts-status", "data-state") == "refused"
        assert await page.text_content("#alerts-status") == said
        await page.close()
