"""`dondoc up --demo`: the seeds' scenario on a running stack, idempotent on re-run.

1. the demo directory (services/assignment/seed/directory.json) is loaded;
2. the Danh mục's 17 tasks are imported as assigned by UBND tỉnh Bình Định under 131/NQ-CP, attached
   to its letter 6958/UBND-KSTT of 21/11/2022 (66 tasks: rows 2, 4 and 8 have one task per lead);
3. task 13 goes down the chain of the seed's letters, over HTTP with each agency's own token:
   Sở GDĐT (2384/SGDĐT-VP, 23/11/2022: Phòng KH-TC leads with Văn phòng Sở, and Trường THPT Bình Dương
   implements), then the school (93/CV-THPTBD, 23/12/2022: Tổ văn phòng, the accountant in charge);
4. on a demo day from 1/7/2025 on, the 2025 merger (services/assignment/seed/reorganisation_2025.json):
   the Government's tasks of 131/NQ-CP to UBND tỉnh Bình Định (recorded in 10/2022), then Nghị quyết
   202/2025/QH15 moving its open tasks to UBND tỉnh Gia Lai; the dashboard reads the new structure now and
   the old one as of 30/06/2025.
Directory and import go through the database like the CLI (they are the operator's); the cascade is
what agencies do, so it takes the front door. Re-running finds everything already there.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from events.clock import Clock, ManualClock
from events.tasks import SourceDocument
from services.assignment.directory import adapters as directory_adapters
from services.assignment.importing.console import run_import
from services.assignment.importing.plan import ImportOptions
from services.assignment.provision import SEED_DANH_MUC, assignment_db, issue, load_directory
from services.assignment.tasks.rules import task_id_for
from services.cli.assignment_cli import _clock, _database_url
from services.runtime.settings import get_settings

RESOLUTION = SourceDocument(number="131/NQ-CP", issued_on=date(2022, 10, 6), issuer="Chính phủ")
LETTER_6958 = SourceDocument(
    number="6958/UBND-KSTT", issued_on=date(2022, 11, 21), issuer="Ủy ban nhân dân tỉnh Bình Định"
)
LETTER_2384 = SourceDocument(number="2384/SGDĐT-VP", issued_on=date(2022, 11, 23), issuer="Sở Giáo dục và Đào tạo")
LETTER_93 = SourceDocument(number="93/CV-THPTBD", issued_on=date(2022, 12, 23), issuer="Trường THPT Bình Dương")
TASK_13 = task_id_for("ubnd-bd", "131/NQ-CP/UBND-BD#13")
_NHIEM_VU_13 = (
    "“Triển khai thanh toán học phí trực tuyến trên Cổng dịch vụ công của tỉnh” "
    "(Nhiệm vụ thứ 13 trong Danh mục các nhiệm vụ triển khai thực hiện Nghị quyết "
    "số 131/NQ-CP của Chính phủ trên địa bàn tỉnh)"
)

# The letters' own words (seed 001), typos kept.
DELEGATION_2384 = {
    "document": LETTER_2384.model_dump(mode="json"),
    "idempotency_key": LETTER_2384.number,
    "children": [
        {
            "lead_agency_id": "bd-sgddt-pkhtc",
            "coordinating_agency_ids": ["bd-sgddt-vp"],
            "officer_in_charge_id": "p-bd-sgddt-pkhtc-officer-1",
            "title": "Nghiên cứu, đề xuất xây dựng quy trình thanh toán học phí trực tuyến "
            "trên Cổng dịch vụ công của tỉnh",
            "description": "Trưởng các Phòng Kế hoạch - Tài chính chủ trì phối hợp với Văn phòng Sở "
            "nghiên cứu, đề xuất xây dựng quy trình để thực hiện nhiệm vụ " + _NHIEM_VU_13 + ".",
        },
        {
            "lead_agency_id": "bd-thpt-binh-duong",
            # Named so that the school's demo officer finds it under "Việc của tôi" on the dashboard.
            "officer_in_charge_id": "p-bd-thpt-binh-duong-officer-1",
            "description": "Hiệu trưởng các trường THPT và trực thuộc … nghiêm túc triển khai thực hiện.",
        },
    ],
}
DELEGATION_93 = {
    "document": LETTER_93.model_dump(mode="json"),
    "idempotency_key": LETTER_93.number,
    "children": [
        {
            "lead_agency_id": "bd-thpt-bd-to-van-phong",
            "officer_in_charge_id": "p-bd-thpt-bd-ke-toan-head",
            "title": "Thu học phí, học phí học thêm, bảo hiểm y tế học sinh qua tài khoản ngân hàng",
            "description": "Bộ phận kế toán, Tổ trưởng tổ văn phòng tiếp tục triển khai thực hiện thu "
            "học phí, thu học học phí học thêm, bảo hiểm y tế học sinh qua tài khoản ngân "
            "hàng để thực hiện nhiệm vụ " + _NHIEM_VU_13 + ".",
        },
    ],
}
AGENCIES = {"ubnd-bd": "UBND tỉnh Bình Định", "bd-sgddt": "Sở GDĐT", "bd-thpt-binh-duong": "Trường THPT Bình Dương"}


def load_demo(console: Console, urls: dict[str, str]) -> None:
    """Called by `dondoc up --demo` once the five services answer at ``urls``."""
    asyncio.run(_main(console, urls))


async def _main(console: Console, urls: dict[str, str]) -> None:
    async with (
        assignment_db(_database_url()) as pool,
        httpx.AsyncClient(base_url=urls["assignment"], timeout=30.0) as http,
    ):
        tokens = await run_demo(pool, http, console, _clock(), get_settings().token_secret)
    for agency_id, name in AGENCIES.items():
        console.print(f"[dim]Token demo của {name} ({agency_id}):[/]")
        # One unbroken line: a token wrapped to the terminal's width is copied with line breaks in it.
        console.print(tokens[agency_id], soft_wrap=True, highlight=False)
    console.print(
        "[dim]Dán token vào ô “Mã xác thực của cơ quan” trên bảng điều khiển để xem cảnh báo trực tiếp "
        "của cán bộ cơ quan đó.[/]"
    )


async def run_demo(pool: Any, http: httpx.AsyncClient, console: Console, clock: Clock, secret: str) -> dict[str, str]:
    """The scenario on the assignment schema (``pool``) and API (``http``); returns the demo tokens."""
    with console.status("Nạp danh bạ mẫu…"):
        counts = await load_directory(pool, clock)
    changed = sum(n for kind, n in counts.items() if kind.endswith(" changed"))
    console.print(f"Danh bạ mẫu: {sum(counts.values())} bản ghi, {changed} thay đổi")
    options = ImportOptions(document=RESOLUTION, letter=LETTER_6958, assigned_by="ubnd-bd")
    await run_import(pool, clock, SEED_DANH_MUC, options, console=console, progress_console=console)
    tokens = {a: (await issue(pool, clock, a, secret, label="demo")).token for a in AGENCIES}
    school = await _delegate(http, TASK_13, DELEGATION_2384, tokens["bd-sgddt"])
    school_task = next(c["task_id"] for c in school if c["lead_agency_id"] == "bd-thpt-binh-duong")
    team = await _delegate(http, school_task, DELEGATION_93, tokens["bd-thpt-binh-duong"])
    parent = (await http.get(f"/v1/tasks/{TASK_13}")).json()
    await reorganise_2025(pool, console, clock)
    await _published(pool, console)
    console.print(_cascade([parent, *school, *team]))
    return tokens


REORGANISATION_2025 = Path(__file__).resolve().parents[1] / "assignment" / "seed" / "reorganisation_2025.json"


async def reorganise_2025(pool: Any, console: Console, clock: Clock) -> None:
    """The 2025 merger of Bình Định into Gia Lai, when the demo lives after it took effect."""
    from services.assignment.directory.handlers import load_document, set_agency
    from services.assignment.directory.model import DirectoryDocument
    from services.assignment.directory.reorganisation import ReorganisationFields
    from services.assignment.directory.reorganise import reorganise
    from services.assignment.provision import OPERATOR, unit_of_work
    from services.assignment.tasks.assign import assign_task
    from services.assignment.tasks.commands import AssignTask

    data = json.loads(REORGANISATION_2025.read_text(encoding="utf-8"))
    fields = ReorganisationFields.model_validate(data["decision"])
    number, effective = fields.decision.number, fields.effective_on
    if clock.now().date() < effective:
        console.print(
            f"[dim]Sắp xếp theo Nghị quyết {number} (từ {effective:%d/%m/%Y}) chưa áp dụng: ngày demo trước đó "
            "(xem với --demo-day 2025-07-15).[/]"
        )
        return
    async with unit_of_work(pool, clock) as uow:
        await load_document(DirectoryDocument.model_validate(data["directory"]), uow, OPERATOR)
    before = data["tasks_before"]
    at = ManualClock(datetime.fromisoformat(before["recorded_at"]))
    for task in before["tasks"]:
        command = AssignTask(source_document=RESOLUTION, assigning_agency_id="cp", lead_agency_id="ubnd-bd", **task)
        async with unit_of_work(pool, at) as uow:
            await assign_task(command, uow)
    async with unit_of_work(pool, clock) as uow:
        applied = await reorganise(data["reorganisation_id"], fields, uow, OPERATOR)
        for a in fields.agencies:  # the seed directory, loaded again on a re-run, says it is still active
            record = (await directory_adapters.agencies(uow.conn, [a.agency_id]))[a.agency_id]
            await set_agency(record.model_copy(update={"active": False, "successor_id": a.successor_id}), uow, OPERATOR)
    console.print(
        f"Sắp xếp theo Nghị quyết {number}: UBND tỉnh Bình Định hợp nhất vào UBND tỉnh Gia Lai từ "
        f"{effective:%d/%m/%Y}; {len(applied.moved_task_ids)} nhiệm vụ đang thực hiện đã chuyển"
        + ("" if applied.changed else " (đã áp dụng trước đó)")
        + f". Xem số liệu theo cơ cấu cũ: as_of {effective - timedelta(days=1):%Y-%m-%d}."
    )


async def _delegate(http: httpx.AsyncClient, task_id: str, body: dict[str, Any], token: str) -> list[dict[str, Any]]:
    response = await http.post(
        f"/v1/tasks/{task_id}/delegations", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    if response.status_code not in (200, 201):
        raise RuntimeError(f"delegation {body['idempotency_key']} refused: {response.status_code} {response.text}")
    return response.json()["children"]  # type: ignore[no-any-return]


async def _published(pool: Any, console: Console, timeout_s: float = 30.0) -> None:
    """Wait (bounded) until the assignment service's relay has put every event on Kafka."""
    deadline = time.monotonic() + timeout_s
    while (left := await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")) > 0:
        if time.monotonic() > deadline:
            console.print(f"[yellow]{left} sự kiện chưa phát lên Kafka sau {timeout_s:.0f}s[/]")
            return
        await asyncio.sleep(0.2)  # polling a condition with a deadline
    console.print("Mọi sự kiện đã lên Kafka (dondoc.task-events, dondoc.directory)")


def _cascade(tasks: list[dict[str, Any]]) -> Table:
    table = Table(
        "Mã",
        "Cơ quan chủ trì",
        "Cán bộ phụ trách",
        "Văn bản giao",
        "Thời hạn",
        title="Nhiệm vụ 13 qua các cấp (như các công văn trong tài liệu gốc)",
    )
    for t in tasks:
        letter = (t.get("assigning_document") or {}).get("number", "")
        table.add_row(
            t["code"],
            t["lead_agency_id"],
            t["officer_in_charge_id"] or "",
            letter,
            (t["deadline_in_force"] or {}).get("text", ""),
        )
    return table
