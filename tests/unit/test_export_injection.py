"""CSV and XLSX exports never let an agency's text run as a formula in the spreadsheet that opens them."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from services.reporting.export import inert, to_csv, to_xlsx
from services.reporting.responses import ReportBody
from services.reporting.summary import change_between
from tests.unit.test_reports import report_body, working_group_figures

PAYLOADS = ('=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1")


def _body() -> ReportBody:
    figures = working_group_figures().model_dump()
    return report_body(
        change=change_between(working_group_figures(), working_group_figures(300)).model_dump(),
        scope=PAYLOADS[0],
        paragraph_vi=PAYLOADS[2],
        by_agency={
            "parent": {"agency_id": None, "name": "UBND tỉnh"},
            "rows": [
                {"name": p, "own": False, "head": {"person_id": "p", "name": p, "title": p}, "figures": figures}
                for p in PAYLOADS
            ],
        },
        by_document=[{"document": p, "issuer": p, "figures": figures} for p in PAYLOADS],
        overdue={
            "total": len(PAYLOADS),
            "items": [
                {"code": p, "title": p, "lead_agency_id": p, "person_name": p, "due": "2021-01-15", "days_overdue": 44}
                for p in PAYLOADS
            ],
        },
    )


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_cell_that_starts_like_a_formula_is_written_as_text(payload: str) -> None:
    assert inert(payload) == "'" + payload


@pytest.mark.parametrize("number", ["+12", "-3", "-0,5%", "10.527", "3,2%"])
def test_numbers_with_a_sign_stay_numbers(number: str) -> None:
    assert inert(number) == number


def test_csv_export_has_no_cell_a_spreadsheet_would_evaluate() -> None:
    cells = [c for row in csv.reader(io.StringIO(to_csv(_body()), newline="")) for c in row]
    dangerous = [
        c for c in cells if c.startswith(("=", "@", "\t", "\r")) or (c[:1] in ("+", "-") and not c[1:2].isdigit())
    ]
    assert dangerous == []
    assert "'" + PAYLOADS[1] in cells and "'" + PAYLOADS[0] in " ".join(cells)


def test_xlsx_export_writes_agency_text_as_text_never_as_a_formula() -> None:
    book = load_workbook(io.BytesIO(to_xlsx(_body())))
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    texts = {c.value for c in cells if isinstance(c.value, str)}
    assert set(PAYLOADS[:5]) <= texts  # shown as sent, only inert (XML keeps no lone carriage return)
