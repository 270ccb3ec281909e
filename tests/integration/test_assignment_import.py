"""Bulk import of a task list into the real database (the runner and `dondoc import`), and the demo."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner, Result

from events.clock import VN_TZ, ManualClock
from events.tasks import SourceDocument
from services import registry
from services.assignment import provision
from services.assignment.importing.plan import ImportOptions
from services.assignment.importing.runner import import_file
from services.cli import assignment_cli
from services.cli.demo import TASK_13, run_demo
from tests.conftest import running, unique
from tests.integration.test_assignment_support import clock, outbox_events

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RESOLUTION = SourceDocument(number="131/NQ-CP", issued_on=date(2022, 10, 6), issuer="Chính phủ")
LETTER = SourceDocument(number="6958/UBND-KSTT", issued_on=date(2022, 11, 21), issuer="UBND tỉnh Bình Định")


async def count(database_url: str, sql: str, *args: Any) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(sql, *args))
    finally:
        await conn.close()


async def test_all_17_rows_import_and_a_rerun_creates_nothing(settings: Any) -> None:
    prefix = unique("131/NQ-CP/TEST")  # its own codes: independent of the demo's import of the same table
    options = ImportOptions(document=RESOLUTION, letter=LETTER, assigned_by="ubnd-bd", code_prefix=prefix)
    async with provision.assignment_db(settings.database_url) as pool:
        await provision.load_directory(pool, clock())
        first = await import_file(pool, clock(), FIXTURES / "danh_muc_131.tsv", options)
        outbox = await count(settings.database_url, "SELECT count(*) FROM assignment.outbox")
        again = await import_file(pool, clock(), FIXTURES / "danh_muc_131.merged.tsv", options)
    assert [o.status for o in first.outcomes] == ["imported"] * 17 and first.tasks_made == 66
    assert [o.status for o in again.outcomes] == ["unchanged"] * 17
    assert await count(settings.database_url, "SELECT count(*) FROM assignment.outbox") == outbox
    assert (
        await count(settings.database_url, "SELECT count(*) FROM assignment.tasks WHERE code LIKE $1", f"{prefix}#%")
        == 66
    )
    [task13] = first.outcomes[12].task_ids
    [event] = await outbox_events(settings.database_url, task13)
    assert event["payload"]["coordinating_group_ids"] == ["g-co-quan-don-vi-dia-phuong"]
    assert event["payload"]["assigning_document"]["number"] == "6958/UBND-KSTT"
    assert event["payload"]["deadline"]["due"] == "2023-03-31"


def test_the_import_command_reports_what_was_not_imported_and_why(infra: Any, tmp_path: Path) -> None:
    from openpyxl import Workbook

    with (FIXTURES / "danh_muc_131.merged.tsv").open(encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[:5]  # header, section, tasks 1-3
    rows.append(["4", "Việc của một sở chưa có", "Sở Quy hoạch - Kiến trúc", "", "Tháng 3/2023", ""])
    rows.append(["5", "Việc không rõ hạn", "Sở Tư pháp", "", "sớm nhất có thể", ""])
    book = Workbook()
    for row in rows:
        book.active.append(row)  # type: ignore[union-attr]
    book.save(path := tmp_path / "danh_muc.xlsx")
    run = import_command(path, unique("TEST"))
    result = run()
    assert result.exit_code == 1, result.output  # not everything was imported
    assert result.output.count("Đã nhập") == 3 and result.output.count("Không nhập") == 2
    assert "Không khớp danh bạ: 'Sở Quy hoạch - Kiến trúc'" in result.output
    assert "Thời hạn 'sớm nhất có thể'" in result.output
    assert "5 dòng: 3 đã nhập (22 nhiệm vụ mới), 0 đã có, 2 không nhập" in result.output
    rerun = run()
    assert "3 đã có" in rerun.output


def import_command(path: Path, code_prefix: str) -> Callable[[], Result]:
    """`dondoc import PATH` of 131/NQ-CP by UBND tỉnh Bình Định, the directory loaded: call it to run it."""
    app, bench = typer.Typer(), typer.Typer()
    app.add_typer(bench, name="bench")
    assignment_cli.register(app, bench)
    args = [
        "import",
        str(path),
        "--document",
        "131/NQ-CP",
        "--issued",
        "2022-10-06",
        "--assigned-by",
        "ubnd-bd",
        "--issuer",
        "Chính phủ",
        "--code-prefix",
        code_prefix,
    ]
    runner = CliRunner()
    runner.invoke(app, ["directory", "load"])
    return lambda: runner.invoke(app, args, env={"COLUMNS": "250"})


DEMO_DAY = datetime(2023, 2, 15, 9, 0, tzinfo=VN_TZ)  # `dondoc up --demo`'s default day: after all three letters


async def test_the_demo_loads_the_seeds_scenario_and_a_rerun_changes_nothing(settings: Any) -> None:
    console = Console(file=io.StringIO(), width=200)
    async with (
        running(registry.definition("assignment"), settings, ManualClock(DEMO_DAY)) as http,
        provision.assignment_db(settings.database_url) as pool,
    ):
        await run_demo(pool, http, console, ManualClock(DEMO_DAY), settings.token_secret)
        outbox = await count(settings.database_url, "SELECT count(*) FROM assignment.outbox")
        await run_demo(pool, http, console, ManualClock(DEMO_DAY), settings.token_secret)
        assert await count(settings.database_url, "SELECT count(*) FROM assignment.outbox") == outbox
        danh_muc = (await http.get("/v1/tasks", params={"document": "131/NQ-CP"})).json()["tasks"]
        by_code = {t["code"]: t for t in danh_muc}
        assert sum(code.startswith("131/NQ-CP/UBND-BD#") and "." not in code for code in by_code) == 66
        sgddt = (await http.get("/v1/tasks", params={"parent_task_id": TASK_13})).json()["tasks"]
        school = next(t for t in sgddt if t["lead_agency_id"] == "bd-thpt-binh-duong")
        team = (await http.get("/v1/tasks", params={"parent_task_id": school["task_id"]})).json()["tasks"]
    assert by_code["131/NQ-CP/UBND-BD#13"]["task_id"] == TASK_13
    assert {t["lead_agency_id"] for t in sgddt} == {"bd-sgddt-pkhtc", "bd-thpt-binh-duong"}
    assert {t["assigning_document"]["number"] for t in sgddt} == {"2384/SGDĐT-VP"}
    [to_van_phong] = team
    assert (to_van_phong["lead_agency_id"], to_van_phong["officer_in_charge_id"]) == (
        "bd-thpt-bd-to-van-phong",
        "p-bd-thpt-bd-ke-toan-head",
    )
    assert to_van_phong["deadline_in_force"]["due"] == "2023-03-31"  # task 13's, down the chain
    assert to_van_phong["code"] == "131/NQ-CP/UBND-BD#13.2.1"
    assert "Nhiệm vụ 13 qua các cấp" in console.file.getvalue()  # type: ignore[attr-defined]
    # Loaded on the demo day, each task counts from its letter: 6958 (21/11/2022), 2384, 93.
    assigned = [e for e in await outbox_events(settings.database_url, TASK_13) if e["event_type"] == "TaskAssigned"]
    assert [e["effective_at"] for e in assigned] == ["2022-11-21T00:00:00+07:00"]
    [team_assigned] = [
        e
        for e in await outbox_events(settings.database_url, to_van_phong["task_id"])
        if e["event_type"] == "TaskAssigned"
    ]
    assert team_assigned["effective_at"] == "2022-12-23T00:00:00+07:00"
