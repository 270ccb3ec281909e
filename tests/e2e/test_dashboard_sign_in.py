"""A person signs in on the dashboard as themselves: Chromium clicks "Đăng nhập", the provider's
Vietnamese login page takes their password, the dashboard comes back signed in (name and agency shown,
no code left in the address bar) and follows the person's own alerts live with their access token; signing
out ends the session at the provider. Real browser, real provider, real reporting and alerts services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from deploy.realm import Account
from tests.conftest import eventually, free_port, unique
from tests.e2e.browser import open_page
from tests.e2e.reporting_server import serving_alerts, serving_reporting
from tests.identity_kit import Identity, settings_with_sign_in
from tests.integration.progress_alerts_kit import fetch
from tests.integration.report_scenario import Scenario

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario(unique("si")).directory()


@pytest.fixture(scope="module")
async def dashboard(settings: Any, infra: Any, scenario: Scenario, identity: Identity) -> AsyncIterator[str]:
    alerts_port = free_port()
    with_sign_in = settings_with_sign_in(settings, identity)
    async with (
        serving_alerts(with_sign_in, alerts_port),
        serving_reporting(with_sign_in, infra, scenario, alerts_port=alerts_port) as port,
    ):
        url = f"http://127.0.0.1:{port}"
        identity.allow_redirect(url + "/")
        yield url


async def test_an_officer_signs_in_and_follows_their_own_alerts(
    dashboard: str, browser: Any, scenario: Scenario, identity: Identity, settings: Any
) -> None:
    officer, school = scenario.id("p-bd-thpt-binh-duong-officer-1"), scenario.id("bd-thpt-binh-duong")
    identity.add([Account(officer, school, "Lâm Thị Thu Phương", None, ("officer",))])

    async def known() -> bool:  # the alerts service has read the person from the directory
        return bool(await fetch(settings, "alerts", "SELECT 1 FROM people WHERE person_id = $1", officer))

    await eventually(known, timeout=60, what="the alerts service to know the officer")
    page = await open_page(browser, dashboard, width=1280, height=900)
    await page.click("#sign-in")
    await page.wait_for_selector("#kc-form-login", timeout=30_000)
    assert "Mật khẩu" in await page.content()
    await page.fill("#username", officer)
    await page.fill("#password", identity.passwords[officer])
    await page.click("#kc-login")

    await page.wait_for_function(
        "(document.getElementById('account-name')?.textContent || '').includes('Lâm Thị Thu Phương')", timeout=30_000
    )
    assert "code=" not in page.url and "state=" not in page.url
    assert await page.text_content("#alerts-title") == "Việc của tôi — cảnh báo trực tiếp"
    status = page.locator("#alerts-status")
    await status.and_(page.locator("[data-state='connected']")).wait_for(timeout=30_000)
    # Nothing of the session is kept where it outlives the tab or travels in URLs.
    stored = await page.evaluate("JSON.stringify([Object.keys(localStorage), Object.keys(sessionStorage)])")
    assert "token" not in stored.lower() and "signin" not in stored.lower()

    await page.click("#sign-out")
    await page.wait_for_url(f"{dashboard}/**", timeout=30_000)
    await page.wait_for_selector("body[data-loaded]", timeout=20_000)
    assert await page.is_visible("#sign-in")
    await page.close()
