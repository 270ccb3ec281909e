"""Task 13 worked by people from the dashboard, end to end: Chromium signs in as the officer of Trường THPT
Bình Dương, finds the school's part of task 13 under "Việc của tôi", reports progress and completion; signs
in as the head of Sở GDĐT, finds it under "Chờ lãnh đạo quyết định" and confirms it; the task's history
names both people, with their agencies, and the agency system that delegated it. Real browser, real
identity provider, the five services as real processes on the session's Kafka and PostgreSQL."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest
from rich.console import Console

from deploy.identity import SEED_DIRECTORY
from deploy.realm import accounts_from_directory
from events.clock import SystemClock
from services.assignment import provision
from services.assignment.importing.console import run_import
from services.assignment.importing.plan import ImportOptions
from services.assignment.provision import SEED_DANH_MUC
from services.cli.demo import DELEGATION_2384, LETTER_6958, RESOLUTION, TASK_13
from tests.conftest import eventually
from tests.e2e.browser import open_page
from tests.e2e.conftest import Stack
from tests.identity_kit import Identity

pytestmark = pytest.mark.e2e

OFFICER, HEAD = "p-bd-thpt-binh-duong-officer-1", "p-bd-sgddt-head"


@pytest.fixture
def stack_env(identity: Identity) -> dict[str, str]:
    return {"DONDOC_OIDC_ISSUER": identity.issuer}


async def _task_13_at_the_school(stack: Stack) -> str:
    """The Danh mục imported (UBND tỉnh) and task 13 delegated by Sở GDĐT's system (its agency token), the
    school's part naming its officer in charge; the school's task id."""
    async with provision.assignment_db(stack.database_url) as pool:
        options = ImportOptions(document=RESOLUTION, letter=LETTER_6958, assigned_by="ubnd-bd")
        quiet = Console(file=io.StringIO())
        await run_import(pool, SystemClock(), SEED_DANH_MUC, options, console=quiet, progress_console=quiet)
    async with httpx.AsyncClient(base_url=stack["assignment"].url, timeout=30) as http:
        response = await http.post(
            f"/v1/tasks/{TASK_13}/delegations", json=DELEGATION_2384, headers=stack.headers_for("bd-sgddt")
        )
    assert response.status_code in (200, 201), response.text
    [school] = [c for c in response.json()["children"] if c["lead_agency_id"] == "bd-thpt-binh-duong"]
    assert school["officer_in_charge_id"] == OFFICER
    return str(school["task_id"])


async def _sign_in(page: Any, identity: Identity, person: str, name: str) -> None:
    await page.click("#sign-in")
    await page.wait_for_selector("#kc-form-login", timeout=30_000)
    await page.fill("#username", person)
    await page.fill("#password", identity.passwords[person])
    await page.click("#kc-login")
    await page.wait_for_function(
        f"(document.getElementById('account-name')?.textContent || '').includes({name!r})", timeout=30_000
    )


async def _done(page: Any, what: str) -> None:
    """The action's answer: "Đã ghi nhận" or the refusal the page shows (the message is the failure's)."""
    await page.wait_for_function(
        "(t => t && !t.startsWith('Đang gửi'))(document.getElementById('work-note')?.textContent)", timeout=30_000
    )
    assert await page.text_content("#work-note") == f"Đã ghi nhận: {what}."


async def test_the_officer_reports_the_head_confirms_and_the_history_names_both(
    stack: Stack, identity: Identity, browser: Any
) -> None:
    seed = json.loads(SEED_DIRECTORY.read_text(encoding="utf-8"))
    identity.add(a for a in accounts_from_directory(seed) if a.person_id in (OFFICER, HEAD))
    dashboard = stack["reporting"].url
    identity.allow_redirect(dashboard + "/")
    school_task = await _task_13_at_the_school(stack)

    async def progress_knows_it() -> bool:
        rows = await stack.fetch("progress", "SELECT 1 FROM tasks WHERE task_id = $1", school_task)
        return bool(rows)

    await eventually(progress_knows_it, timeout=60, what="the progress service to read the school's task")

    page = await open_page(browser, dashboard, width=1280, height=900)
    await _sign_in(page, identity, OFFICER, "Lâm Thị Thu Phương")
    mine = page.locator(f"#my-tasks li[data-task='{school_task}']")
    await mine.wait_for(timeout=30_000)
    assert (await mine.get_attribute("data-code") or "").startswith("131/NQ-CP/UBND-BD#13")
    assert await page.is_hidden("#to-decide-box")  # an officer decides nothing
    await mine.locator("input[name=percent]").fill("100")
    await mine.locator("input[name=note]").fill("Đã triển khai thu học phí qua tài khoản ngân hàng")
    await mine.locator("[data-action=progress]").click()
    await _done(page, "báo cáo tiến độ")
    await mine.locator("input[name=product]").fill("Báo cáo số 15/BC-THPTBD ngày 20/3/2023")
    await mine.locator("[data-action=complete]").click()
    await _done(page, "báo cáo hoàn thành")
    async with page.expect_navigation(url=f"{dashboard}/**", timeout=30_000):
        await page.click("#sign-out")  # ends the session at the provider, which sends the browser back
    await page.wait_for_selector("#sign-in:not([hidden])", timeout=30_000)

    await _sign_in(page, identity, HEAD, "Nguyễn Thị Minh Thảo")
    waiting = page.locator(f"#to-decide li[data-task='{school_task}']")
    await waiting.wait_for(timeout=30_000)
    await waiting.locator("[data-action=confirm]").click()
    await _done(page, "xác nhận hoàn thành")
    assert await page.locator(f"#to-decide li[data-task='{school_task}']").count() == 0

    async def history_names_both() -> dict[str, str]:
        await page.evaluate(f"dondocWork.showHistory({school_task!r}, 'task 13')")
        await page.wait_for_selector(f"#history[data-task='{school_task}'] li", timeout=10_000)
        steps: list[list[str]] = await page.evaluate(
            "[...document.querySelectorAll('#history li')].map(li => [li.dataset.step, "
            "li.querySelector('.by')?.textContent || ''])"
        )
        by = {step: who for step, who in steps}
        return by if "TaskCompleted" in by else {}

    by = await eventually(history_names_both, timeout=60, interval=1, what="the audit history of the school's task")
    assert by["ProgressReported"] == "Lâm Thị Thu Phương (Trường THPT Bình Dương)"
    assert by["CompletionReported"] == "Lâm Thị Thu Phương (Trường THPT Bình Dương)"
    assert by["TaskCompleted"] == "Nguyễn Thị Minh Thảo (Sở Giáo dục và Đào tạo)"
    assert "hệ thống của Sở Giáo dục và Đào tạo" in by.values()  # delegated with the agency's token
    stored = await page.evaluate("JSON.stringify([Object.keys(localStorage), Object.keys(sessionStorage)])")
    assert "token" not in stored.lower()
    await page.close()
