"""Headless Chromium for the dashboard's browser tests: Debian's own build driven by Playwright (no
browser download), and a page opened the way a Vietnamese user's browser would open it."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

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


def browser_missing() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"Chromium not found at {CHROMIUM}: apt-get update && apt-get install -y chromium"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is missing: pip install playwright (no browser download needed)"
    return None


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


async def open_page(browser: Any, url: str, *, width: int, height: int, mobile: bool = False) -> Any:
    page = await browser.new_page(
        viewport={"width": width, "height": height},
        is_mobile=mobile,
        locale="vi-VN",
        timezone_id="Asia/Ho_Chi_Minh",
    )
    await page.goto(url)
    await page.wait_for_selector("body[data-loaded]", timeout=20_000)
    return page
