"""``dondoc report`` end to end: the command, as a process, asks the running reporting service and
prints the same figures as the API, in Vietnamese, as a table, JSON, CSV or an XLSX workbook, with
Vietnamese number formatting (26,6%; dates 31/03/2023) and the working group's paragraph."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO, free_port, unique
from tests.e2e.reporting_server import serving_reporting
from tests.integration.report_scenario import Scenario

pytestmark = pytest.mark.e2e

AS_OF = "2023-04-01"


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario(unique("c")).directory().danh_muc().cascade_of_13().timeline()


@pytest.fixture(scope="module")
async def service(settings: Any, infra: Any, scenario: Scenario) -> AsyncIterator[int]:
    """The reporting service on a real port, having read the scenario; yields the port."""
    async with serving_reporting(settings, infra, scenario) as port:
        yield port


async def dondoc(port: int, *args: str) -> tuple[int, str, str]:
    """Run ``dondoc`` as a process against the service on ``port``: (exit code, stdout, stderr)."""
    env = {**os.environ, "DONDOC_REPORTING_PORT": str(port), "DONDOC_HTTP_HOST": "127.0.0.1", "COLUMNS": "160"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli.main",
        *args,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_report_in_every_format_shows_the_figures_of_the_api(
    service: int, scenario: Scenario, tmp_path: Path
) -> None:
    province = scenario.id("ubnd-bd")
    params = {"agency_id": province, "document": "131/NQ-CP", "as_of": AS_OF}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service}") as http:
        api = (await http.get("/v1/reports/summary", params=params)).json()
    common = ("report", "--agency", province, "--document", "131/NQ-CP", "--as-of", AS_OF)
    workbook = tmp_path / "bao-cao.xlsx"
    (table, as_json, as_csv, xlsx, unknown, away) = await asyncio.gather(
        dondoc(service, *common, "--format", "table"),
        dondoc(service, *common, "--format", "json"),
        dondoc(service, *common, "--format", "csv"),
        dondoc(service, *common, "--format", "xlsx", "--output", str(workbook)),
        dondoc(service, *common, "--format", "pdf"),
        dondoc(free_port(), *common, "--format", "json"),
    )
    for code, _, err in (table, as_json, as_csv, xlsx):
        assert code == 0, err

    # JSON: exactly what the API gives.
    assert json.loads(as_json[1]) == api

    # The rich table: the working group's categories, the share with a decimal comma, the paragraph.
    text = table[1]
    assert "Báo cáo tình hình thực hiện nhiệm vụ" in text and "tính đến hết ngày 01/04/2023" in text
    for label in ("Nhiệm vụ được giao", "Hoàn thành đúng hạn", "Quá hạn chưa hoàn thành", "Tỷ lệ quá hạn"):
        assert label in text
    assert "26,6%" in text and "26.6%" not in text
    assert "15 nhiệm vụ được giao; 4 nhiệm vụ đã hoàn thành" in " ".join(text.split())
    assert "Sở Tư pháp" in text  # the agency table and the overdue list name the agencies

    # CSV: one row per category, Vietnamese numbers and dates, the agency and overdue tables.
    rows = list(csv.reader(io.StringIO(as_csv[1])))
    figures = {r[0]: r[1] for r in rows if len(r) >= 2}
    assert figures["Nhiệm vụ được giao"] == "15" and figures["Quá hạn chưa hoàn thành"] == "4"
    assert figures["Tỷ lệ quá hạn (trên 15 nhiệm vụ được giao)"] == "26,6%"
    assert figures["Nhận xét"] == api["paragraph_vi"]
    overdue = [r for r in rows if r and r[0] == "131/NQ-CP/UBND-BD#9"]
    assert overdue and overdue[0][4] == "31/12/2022" and overdue[0][5] == "91"
    assert overdue[0][3].endswith("(người đứng đầu)")  # no officer named: the head of the lead answers

    # XLSX: numbers stay numbers, formatted (thousands, one-decimal percent, dd/mm/yyyy).
    from openpyxl import load_workbook

    book = load_workbook(workbook)
    assert book.sheetnames == ["Tổng hợp", "Theo cơ quan", "Theo văn bản", "Quá hạn"]
    summary = {row[0].value: row[1] for row in book["Tổng hợp"].iter_rows(min_row=3) if row[0].value}
    assert summary["Nhiệm vụ được giao"].value == api["figures"]["assigned"] == 15
    assert summary["Nhiệm vụ được giao"].number_format == "#,##0"
    share = summary["Tỷ lệ quá hạn (trên số được giao)"]
    assert share.value == pytest.approx(0.266) and share.number_format == "0.0%"
    agencies = [[c.value for c in row] for row in book["Theo cơ quan"].iter_rows(min_row=2)]
    assert [r[0] for r in agencies] == [r["name"] for r in api["by_agency"]["rows"]]
    due = book["Quá hạn"]["E2"]
    assert due.is_date and due.number_format == "DD/MM/YYYY"
    assert due.value.date() == date.fromisoformat(api["overdue"]["items"][0]["due"])

    # Mistakes say what to do, in Vietnamese where it is the service's answer.
    assert unknown[0] == 2 and "table, json, csv, xlsx" in " ".join(unknown[2].split())
    assert away[0] == 1 and "Không kết nối được dịch vụ báo cáo" in " ".join(away[2].split())


async def test_report_for_a_period_and_a_mistake_in_it(service: int, scenario: Scenario) -> None:
    province = scenario.id("ubnd-bd")
    code, out, err = await dondoc(
        service, "report", "--agency", province, "--from", "2022-11-01", "--to", "2022-11-30", "--format", "json"
    )
    assert code == 0, err
    body = json.loads(out)
    assert body["previous"]["basis"] == "period" and body["figures"]["assigned"] == 16
    code, _, err = await dondoc(service, "report", "--from", "2022-12-01", "--to", "2022-11-01", "--format", "json")
    assert code == 1 and "Ngày bắt đầu sau ngày kết thúc kỳ" in " ".join(err.split())


async def test_report_as_recorded_asks_what_dondoc_showed_then_and_says_so(service: int, scenario: Scenario) -> None:
    province = scenario.id("ubnd-bd")
    common = ("report", "--agency", province, "--document", "131/NQ-CP", "--as-of", "2022-11-20", "--as-recorded")
    (code, out, err), (table_code, table, table_err) = await asyncio.gather(
        dondoc(service, *common, "--format", "json"), dondoc(service, *common, "--format", "table")
    )
    assert code == 0 and table_code == 0, err + table_err
    body = json.loads(out)
    assert body["as_recorded"] is True and body["filters"]["as_recorded"] is True
    assert body["figures"]["assigned"] == 0  # the day before the scenario's letter: nothing recorded yet
    assert "(theo thời điểm ghi nhận vào dondoc)" in " ".join(table.split())
