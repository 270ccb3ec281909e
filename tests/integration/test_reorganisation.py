"""A reorganisation end to end on the real broker and database (DESIGN §4 "Reorganisation"): the decision
moves the abolished agency's open tasks to its successor (not its completed ones), the successor's head is
told once, the successor now writes the task's progress, reports read the new structure now and the old one
as of a day before the decision took effect, and `dondoc replay reporting` rebuilds the same projection.

The agencies are made for each test (unique ids), as two provinces under the Government, like UBND tỉnh
Bình Định merged into UBND tỉnh Gia Lai by Nghị quyết 202/2025/QH15 from 1/7/2025.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from rich.console import Console

from events.clock import VN_TZ, ManualClock
from services import registry
from services.assignment import provision
from services.assignment.directory import handlers
from services.assignment.directory.model import AgencyRecord, PersonRecord
from services.reporting.bootstrap import DEFINITION as REPORTING
from tests.conftest import eventually, running, unique
from tests.integration.progress_alerts_kit import fetch
from tests.integration.test_assignment_support import bearer, body
from tests.integration.test_directory_admin import cli  # noqa: F401 (fixture)
from tests.integration.test_replay import caught_up, own, run, serving

pytestmark = pytest.mark.integration

BEFORE = datetime(2025, 5, 5, 9, 0, tzinfo=VN_TZ)
AFTER = datetime(2025, 7, 15, 9, 0, tzinfo=VN_TZ)
COMPLETION = {"product": "Báo cáo số 12/BC-UBND ngày 20/5/2025"}


def decision(old: str, new: str) -> dict[str, Any]:
    return {
        "kind": "merge",
        "decision": {"number": "202/2025/QH15", "issued_on": "2025-06-12", "issuer": "Quốc hội"},
        "effective_on": "2025-07-01",
        "agencies": [{"agency_id": old, "successor_id": new}],
    }


@dataclass
class Stack:
    clock: ManualClock
    assignment: httpx.AsyncClient
    progress: httpx.AsyncClient
    tokens: dict[str, Any]
    old: str
    new: str
    other: str


async def _agencies(settings: Any, clock: ManualClock, *ids: str, parent: str = "cp") -> None:
    """Provinces under the Government (or units under ``parent``), each with a head (alerts go to people)."""
    level = "ubnd-tinh" if parent == "cp" else "so-nganh"
    async with provision.assignment_db(settings.database_url) as pool:
        for agency_id in ids:
            async with provision.unit_of_work(pool, clock) as uow:
                record = AgencyRecord(
                    agency_id=agency_id, name=f"Cơ quan thử {agency_id}", level=level, parent_id=parent
                )
                await handlers.set_agency(record, uow, provision.OPERATOR)
                head = PersonRecord(
                    person_id=f"p-{agency_id}-head", agency_id=agency_id, full_name=f"Chủ tịch {agency_id}", role="head"
                )
                await handlers.set_person(head, uow, provision.OPERATOR)


@pytest_asyncio.fixture(loop_scope="session")
async def stack(settings: Any) -> AsyncIterator[Stack]:
    clock = ManualClock(BEFORE)
    old, new, other = unique("bd"), unique("gl"), unique("kt")
    await provision.prepare(settings.database_url, clock, settings.token_secret, [])
    await _agencies(settings, clock, old, new, other)
    await _agencies(settings, clock, f"{old}-so", parent=old)  # a sở of the old province
    async with provision.assignment_db(settings.database_url) as pool:
        tokens = {a: await provision.issue(pool, clock, a, settings.token_secret) for a in ("cp", old, new, other)}
    async with AsyncExitStack() as services:
        assignment = await services.enter_async_context(running(registry.definition("assignment"), settings, clock))
        progress = await services.enter_async_context(running(registry.definition("progress"), settings, clock))
        await services.enter_async_context(running(registry.definition("alerts"), settings, clock))
        yield Stack(clock, assignment, progress, tokens, old, new, other)


async def _assign(stack: Stack, lead: str, **fields: Any) -> str:
    r = await stack.assignment.post(
        "/v1/tasks",
        json=body(lead, key=unique("k"), deadline="Tháng 12/2025", **fields),
        headers=bearer(stack.tokens["cp"]),
    )
    assert r.status_code in (200, 201), r.text
    return r.json()["task_id"]  # type: ignore[no-any-return]


async def _known_to_progress(stack: Stack, task_id: str) -> bool:
    return (await stack.progress.get(f"/v1/tasks/{task_id}")).status_code == 200


async def _completed_in_assignment(settings: Any, task_id: str) -> bool:
    rows = await fetch(settings, "assignment", "SELECT completed_at FROM tasks WHERE task_id = $1", task_id)
    return bool(rows and rows[0]["completed_at"])


async def test_a_merger_moves_open_tasks_alerts_the_successor_once_and_reports_read_both_structures(
    settings: Any, stack: Stack
) -> None:
    open_led = await _assign(stack, stack.old)
    done_led = await _assign(stack, stack.old)
    coordinated = await _assign(stack, stack.other, coordinating_agency_ids=[stack.old])
    # The old province handed part of one task to its sở: the part stays with the sở, the task moves.
    delegated = await stack.assignment.post(
        f"/v1/tasks/{open_led}/delegations",
        json={"children": [{"lead_agency_id": f"{stack.old}-so"}], "idempotency_key": unique("k")},
        headers=bearer(stack.tokens[stack.old]),
    )
    assert delegated.status_code in (200, 201), delegated.text
    for task_id in (open_led, done_led, coordinated):
        await eventually(lambda t=task_id: _known_to_progress(stack, t), what="progress to know the task")
    # The old agency completes one task before the merger: it stays credited to it.
    r = await stack.progress.post(
        f"/v1/tasks/{done_led}/complete", json=COMPLETION, headers=bearer(stack.tokens[stack.old])
    )
    assert r.status_code == 202, r.text
    await eventually(lambda: _completed_in_assignment(settings, done_led), what="assignment to learn the completion")

    stack.clock.set(AFTER)
    path = f"/v1/directory/reorganisations/{unique('nq202')}"
    # A province does not reorganise another (nor itself): the Government, above both, does.
    for caller in (stack.other, stack.old):
        refused = await stack.assignment.put(
            path, json=decision(stack.old, stack.new), headers=bearer(stack.tokens[caller])
        )
        assert refused.status_code == 403 and refused.json()["detail"]["message_vi"], refused.text
    applied = await stack.assignment.put(path, json=decision(stack.old, stack.new), headers=bearer(stack.tokens["cp"]))
    assert applied.status_code == 200, applied.text
    assert applied.json()["moved_task_ids"] == sorted([open_led, coordinated])
    assert (applied.json()["moved"], applied.json()["transfers"]) == (2, 2)
    again = await stack.assignment.put(path, json=decision(stack.old, stack.new), headers=bearer(stack.tokens["cp"]))
    assert again.json()["changed"] is False  # the same decision twice moves nothing twice

    task = (await stack.assignment.get(f"/v1/tasks/{open_led}", headers=bearer(stack.tokens["cp"]))).json()
    assert (task["lead_agency_id"], task["officer_in_charge_id"]) == (stack.new, None)
    assert task["deadline_in_force"]["text"] == "Tháng 12/2025"  # its deadline stays
    kept = (await stack.assignment.get(f"/v1/tasks/{done_led}", headers=bearer(stack.tokens["cp"]))).json()
    assert kept["lead_agency_id"] == stack.old
    other = (await stack.assignment.get(f"/v1/tasks/{coordinated}", headers=bearer(stack.tokens["cp"]))).json()
    assert other["coordinating_agency_ids"] == [stack.new]

    async def told() -> list[dict[str, Any]]:
        rows = await fetch(
            settings,
            "alerts",
            "SELECT task_id, recipient_person_id, message_vi FROM alerts WHERE kind = 'transferred' "
            "AND task_id = ANY($1::text[]) ORDER BY task_id",
            [open_led, coordinated, done_led],
        )
        return rows if len(rows) >= 2 else []

    alerts = await eventually(told, what="the successor's head to be told")
    assert sorted((a["task_id"], a["recipient_person_id"]) for a in alerts) == sorted(
        [(open_led, f"p-{stack.new}-head"), (coordinated, f"p-{stack.new}-head")]
    )
    assert all("Nhiệm vụ được chuyển giao cho cơ quan của đồng chí" in a["message_vi"] for a in alerts)
    assert all("202/2025/QH15" in a["message_vi"] for a in alerts)

    async def lead_in_progress() -> bool:
        t = (await stack.progress.get(f"/v1/tasks/{open_led}")).json()
        return bool(t.get("lead_agency_id") == stack.new or t.get("lead") == stack.new)

    await eventually(lead_in_progress, what="progress to know the new lead")
    # The successor now writes the task's progress.
    wrote = await stack.progress.post(
        f"/v1/tasks/{open_led}/progress", json={"percent": 10}, headers=bearer(stack.tokens[stack.new])
    )
    assert wrote.status_code == 202, wrote.text

    # Reports, from a projection that reads the whole log (and is then replayed).
    reporting = own(REPORTING)
    async with serving(reporting, settings) as url, httpx.AsyncClient(base_url=url) as http:

        async def summary(agency: str, lead_only: bool = True, **params: Any) -> dict[str, int]:
            query = {"agency_id": agency, "lead_only": lead_only, **params}
            r = await http.get("/v1/reports/summary", params=query)
            assert r.status_code == 200, r.text
            figures = r.json()["figures"]
            return {k: figures[k] for k in ("assigned", "completed_on_time", "unfinished_within_deadline")}

        today = AFTER.date().isoformat()  # this copy's clock is test_replay's; the day is asked for

        new_now = {"assigned": 1, "completed_on_time": 0, "unfinished_within_deadline": 1}
        old_now = {"assigned": 1, "completed_on_time": 1, "unfinished_within_deadline": 0}
        # Subtrees, at any level of the cascade: the sở's part counts in the old province's subtree once its
        # parent task left it, and not before (the parent counted for both then); the new one holds the task.
        both = {"assigned": 2, "completed_on_time": 1, "unfinished_within_deadline": 1}

        async def read_all() -> bool:  # every partition and the directory are read at their own pace
            return (
                await summary(stack.new, as_of=today),
                await summary(stack.old, as_of=today),
                await summary(stack.old, lead_only=False, as_of=today),
            ) == (new_now, old_now, both)

        # The new structure now: the successor holds the open task; the old agency keeps what it completed.
        await eventually(read_all, timeout=120, what="reporting to read the transfer and the completion")
        # The old structure, as of a day before the merger took effect: nothing lost, nothing counted twice.
        assert await summary(stack.old, as_of="2025-06-30") == {
            "assigned": 2,
            "completed_on_time": 1,
            "unfinished_within_deadline": 1,
        }
        assert (await summary(stack.new, as_of="2025-06-30"))["assigned"] == 0
        assert await summary(stack.old, lead_only=False, as_of="2025-06-30") == both
        assert (await summary(stack.new, lead_only=False, as_of=today))["assigned"] == 1
        everything = (await http.get("/v1/reports/summary", params={"as_of": "2025-06-30"})).json()["figures"]
        now = (await http.get("/v1/reports/summary", params={"as_of": "2025-07-02"})).json()["figures"]
        assert everything["assigned"] == now["assigned"]  # the whole tree counts each task once either side

        shown = (await http.get("/v1/reports/reorganisations")).json()["reorganisations"]
        mine = [r for r in shown if r["from_agency_id"] == stack.old]
        assert [(r["to_agency_id"], r["tasks"], r["old_structure_as_of"]) for r in mine] == [
            (stack.new, 2, "2025-06-30")
        ]

        await caught_up(reporting, settings, [])
        code, printed = await run(reporting, settings)
        assert code == 0, printed


# ----------------------------------------------------------------------------------------------- CLI


def _options(old: str, new: str) -> list[str]:
    return [
        "--decision",
        "202/2025/QH15",
        "--issued",
        "2025-06-12",
        "--issuer",
        "Quốc hội",
        "--effective",
        "2025-07-01",
        "--agency",
        f"{old}={new}",
    ]


def test_the_cli_applies_a_decision_and_refuses_bad_ones_in_both_languages(
    settings: Any,
    cli: Any,  # noqa: F811
) -> None:
    old, new, later = unique("bd"), unique("gl"), unique("kt")
    for agency_id in (old, new, later):
        made = cli(
            "directory",
            "agency",
            agency_id,
            "--name",
            f"UBND tỉnh thử {agency_id}",
            "--level",
            "ubnd-tinh",
            "--parent",
            "cp",
        )
        assert made.exit_code == 0, made.output
    rid = unique("nq202")
    applied = cli("directory", "reorganise", rid, *_options(old, new))
    assert applied.exit_code == 0, applied.output
    assert "Đã áp dụng" in applied.output
    assert "đã được áp dụng trước đó" in cli("directory", "reorganise", rid, *_options(old, new)).output
    sql = "SELECT active, successor_id FROM agencies WHERE agency_id = $1"
    assert asyncio.run(fetch(settings, "assignment", sql, old)) == [{"active": False, "successor_id": new}]

    abolished = cli("directory", "reorganise", unique("r"), *_options(later, old))
    assert abolished.exit_code == 1
    assert "successor-abolished" in abolished.output and "không còn hoạt động" in abolished.output
    unknown = cli("directory", "reorganise", unique("r"), *_options(later, "khong-co"))
    assert unknown.exit_code == 1 and "unknown-agency" in unknown.output and "Không tìm thấy" in unknown.output
    future = cli(
        "directory",
        "reorganise",
        unique("r"),
        *_options(later, new)[:-4],
        "--effective",
        "2999-01-01",
        "--agency",
        f"{later}={new}",
    )
    assert future.exit_code == 1 and "effective-in-future" in future.output
    missing = cli("directory", "reorganise", unique("r"), "--agency", f"{later}={new}")
    assert missing.exit_code == 2 and "missing-option" in missing.output and "Cần --file" in missing.output
    differs = cli("directory", "reorganise", rid, *_options(old, later))
    assert differs.exit_code == 1 and "reorganisation-differs" in differs.output


# ----------------------------------------------------------------------------------------------- demo


async def test_the_demo_merges_binh_dinh_into_gia_lai_from_1_7_2025_and_a_rerun_changes_nothing(
    settings: Any,
) -> None:
    """On a database of its own: the merger abolishes UBND tỉnh Bình Định, which the other tests use."""
    from services.cli.demo import reorganise_2025

    name = f"dondoc_reorg_{unique('d').replace('-', '_')}"
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = settings.database_url.rsplit("/", 1)[0] + f"/{name}"
    console = Console(file=io.StringIO(), width=200)
    async with provision.assignment_db(url) as pool:
        await provision.load_directory(pool, ManualClock(BEFORE))
        await reorganise_2025(pool, console, ManualClock(BEFORE))  # before 1/7/2025: not yet
        assert not await pool.fetchval("SELECT count(*) FROM reorganisations")
        for _ in range(2):  # a re-run of the whole demo loads the seed (Bình Định active) again first
            await provision.load_directory(pool, ManualClock(AFTER))
            await reorganise_2025(pool, console, ManualClock(AFTER))
        moved = await pool.fetch(
            "SELECT code, lead_agency_id FROM tasks WHERE assigning_agency_id = 'cp' ORDER BY code"
        )
        bd = await pool.fetchrow("SELECT active, successor_id FROM agencies WHERE agency_id = 'ubnd-bd'")
        transfers = await pool.fetchval(
            "SELECT count(*) FROM outbox WHERE topic = 'dondoc.task-events' "
            "AND convert_from(value, 'UTF8') LIKE '%TaskTransferred%'"
        )
    assert [(r["code"], r["lead_agency_id"]) for r in moved] == [
        ("131/NQ-CP/CP→UBND-BD#1", "ubnd-gia-lai"),
        ("131/NQ-CP/CP→UBND-BD#2", "ubnd-gia-lai"),
    ]
    assert (bd["active"], bd["successor_id"]) == (False, "ubnd-gia-lai")
    assert transfers == 2  # once, however often the demo runs
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    assert "chưa áp dụng" in printed and "2 nhiệm vụ đang thực hiện đã chuyển" in printed
