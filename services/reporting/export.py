"""A summary (the JSON of GET /v1/reports/summary) as a rich table, JSON, CSV, XLSX or DOCX, in Vietnamese.

Numbers are written the Vietnamese way in text formats (10.527; 3,2%). In XLSX they stay numbers,
with a number format, so a spreadsheet can still add them up (Excel shows its own locale's marks).

Titles, names and paragraphs come from agencies: a cell of theirs that starts like a formula (=, +, -, @,
a tab or a carriage return) must not run as one in the spreadsheet that opens the export. In CSV such a
cell is written after an apostrophe (which spreadsheets hide and read as "text"), unless it is just a
number such as a change "+12" or "-0,5%"; in XLSX every text cell is written as text, never as a formula.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from events.reports import CATEGORIES
from services.reporting.domain import COLOURS, LABELS_VI
from services.reporting.queries.overdue import OverdueTask
from services.reporting.responses import AgencyRow, ReportBody
from services.reporting.vietnamese import vn_date, vn_number

FORMATS = ("table", "json", "csv", "xlsx", "docx")

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?\d[\d.,]*%?$")


def inert(cell: Any) -> Any:
    """A CSV cell that no spreadsheet evaluates (OWASP's advice on CSV injection)."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) and not _NUMBER.match(cell):
        return "'" + cell
    return cell


def _inert_rows(rows: Iterable[Iterable[Any]]) -> list[list[Any]]:
    return [[inert(c) for c in row] for row in rows]


FIGURE_ROWS = (
    "assigned",
    "completed",
    "completed_on_time",
    "completed_late",
    "unfinished_within_deadline",
    "not_started",
    "unfinished_overdue",
    "no_fixed_deadline",
    "withdrawn",
)
AGENCY_HEADERS = (
    "Cơ quan",
    "Người đứng đầu",
    "Được giao",
    "Hoàn thành đúng hạn",
    "Hoàn thành quá hạn",
    "Trong hạn",
    "Quá hạn chưa hoàn thành",
    "Tỷ lệ quá hạn",
)
OVERDUE_HEADERS = ("Mã", "Nhiệm vụ", "Cơ quan chủ trì", "Người chịu trách nhiệm", "Hạn", "Số ngày quá hạn")


def render(body: ReportBody, fmt: str) -> Any:
    """A rich renderable (table), text (json, csv) or bytes (xlsx, docx)."""
    if fmt == "json":
        return body.model_dump_json(indent=2) + "\n"
    if fmt == "csv":
        return to_csv(body)
    if fmt == "xlsx":
        return to_xlsx(body)
    if fmt == "docx":
        from services.reporting.docx_report import to_docx  # it builds on this module's rows

        return to_docx(body)
    return to_rich(body)


def _figure_rows(body: ReportBody) -> list[tuple[str, str, str]]:
    f, change = body.figures.model_dump(), body.change
    # The change is of the working group's categories; the other rows (completed, not started) have none.
    deltas = change.model_dump(include=set(CATEGORIES))
    rows = []
    for name in FIGURE_ROWS:
        delta = deltas.get(name, 0)
        rows.append(
            (LABELS_VI[name], vn_number(f[name]), f"{'+' if delta > 0 else ''}{vn_number(delta)}" if delta else "")
        )
    share = body.figures.overdue_share
    rows.append(
        (
            f"{LABELS_VI['overdue_share']} (trên {vn_number(share.base_count)} nhiệm vụ được giao)",
            share.text,
            change.overdue_share_text,
        )
    )
    return rows


def _agency_row(row: AgencyRow) -> list[str]:
    f = row.figures
    name = f"{row.name} (trực tiếp chủ trì)" if row.own else row.name
    return [
        name,
        (row.head.name if row.head else None) or "",
        vn_number(f.assigned),
        vn_number(f.completed_on_time),
        vn_number(f.completed_late),
        vn_number(f.unfinished_within_deadline),
        vn_number(f.unfinished_overdue),
        f.overdue_share.text,
    ]


def _overdue_row(item: OverdueTask) -> list[str]:
    person = item.person_name or ""
    if person and item.person_role == "head":
        person += " (người đứng đầu)"
    return [
        item.code,
        item.title,
        item.lead_agency_name or item.lead_agency_id,
        person,
        vn_date(item.due),
        vn_number(item.days_overdue),
    ]


def moment_vi(body: ReportBody) -> str:
    """The moment a report stands at, on which reading, and whether its figures changed after they closed."""
    moment = "số liệu trực tiếp" if body.live else f"tính đến hết ngày {vn_date(date.fromisoformat(body.date))}"
    if body.as_recorded:
        moment += " (theo thời điểm ghi nhận vào dondoc)"
    if body.adjusted:
        moment += f" — {body.adjusted.note_vi}"
    return moment


def _title(body: ReportBody) -> str:
    return f"Báo cáo tình hình thực hiện nhiệm vụ — {body.scope} — {moment_vi(body)}"


def to_rich(body: ReportBody) -> Group:
    compared = "So với tháng trước" if body.previous.basis == "month" else "So với kỳ trước"
    figures = Table("Chỉ tiêu", "Số lượng", compared, title=_title(body), title_justify="left")
    for label, value, delta in _figure_rows(body):
        style = "bold red" if label.startswith(("Quá hạn", "Tỷ lệ")) else None
        figures.add_row(label, Text(value, style=style or ""), delta)
    agencies = Table(
        *AGENCY_HEADERS,
        title=f"Theo cơ quan (đơn vị thuộc {body.by_agency.parent.name})",
        title_justify="left",
    )
    for row in body.by_agency.rows:
        agencies.add_row(*_agency_row(row))
    overdue = Table(
        *OVERDUE_HEADERS,
        title=f"Nhiệm vụ quá hạn chưa hoàn thành ({body.overdue.total})",
        title_justify="left",
    )
    for item in body.overdue.items:
        overdue.add_row(*_overdue_row(item))
    return Group(figures, Text(body.paragraph_vi + "\n"), agencies, overdue)


def to_csv(body: ReportBody) -> str:
    rows: list[Iterable[Any]] = [[_title(body)], ["Chỉ tiêu", "Số lượng", "Thay đổi"], *_figure_rows(body)]
    rows += [[], ["Nhận xét", body.paragraph_vi], [], AGENCY_HEADERS]
    rows += [_agency_row(r) for r in body.by_agency.rows]
    rows += [[], OVERDUE_HEADERS, *(_overdue_row(i) for i in body.overdue.items)]
    out = io.StringIO()
    # CRLF as RFC 4180 has it: the csv module quotes a field holding any character of the line terminator,
    # so a carriage return inside an agency's text can no longer start a row (and a formula) of its own.
    csv.writer(out, lineterminator="\r\n").writerows(_inert_rows(rows))
    return out.getvalue()


def to_xlsx(body: ReportBody) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    wb = Workbook()
    bold = Font(bold=True)
    sheet = wb.active
    assert sheet is not None
    sheet.title = "Tổng hợp"
    sheet.append([_title(body)])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append(["Chỉ tiêu", "Số lượng"])
    f = body.figures.model_dump()
    for name in FIGURE_ROWS:
        sheet.append([LABELS_VI[name], f[name]])
        sheet.cell(sheet.max_row, 2).number_format = "#,##0"
    sheet.append([f"{LABELS_VI['overdue_share']} (trên số được giao)", body.figures.overdue_share.percent / 100])
    sheet.cell(sheet.max_row, 2).number_format = "0.0%"
    sheet.append([])
    sheet.append(["Nhận xét", body.paragraph_vi])
    sheet.column_dimensions["A"].width = 52
    sheet.column_dimensions["B"].width = 14

    agencies = wb.create_sheet("Theo cơ quan")
    agencies.append(list(AGENCY_HEADERS))
    fills = [
        None,
        None,
        None,
        COLOURS["completed_on_time"],
        COLOURS["completed_late"],
        COLOURS["in_progress"],
        COLOURS["unfinished_overdue"],
        None,
    ]
    for col, colour in enumerate(fills, start=1):
        cell = agencies.cell(1, col)
        cell.font = Font(bold=True, color="FFFFFF" if colour else "000000")
        if colour:
            cell.fill = PatternFill("solid", fgColor=colour.lstrip("#"))
    for row in body.by_agency.rows:
        fr = row.figures
        agencies.append(
            [
                row.name,
                (row.head.name if row.head else None) or "",
                fr.assigned,
                fr.completed_on_time,
                fr.completed_late,
                fr.unfinished_within_deadline,
                fr.unfinished_overdue,
                fr.overdue_share.percent / 100,
            ]
        )
        agencies.cell(agencies.max_row, 8).number_format = "0.0%"
    agencies.column_dimensions["A"].width = 48

    docs = wb.create_sheet("Theo văn bản")
    docs.append(["Văn bản", "Được giao", "Đã hoàn thành", "Trong hạn", "Quá hạn", "Không có thời hạn", "Đã rút"])
    for d in body.by_document:
        fd = d.figures
        docs.append(
            [
                d.document,
                fd.assigned,
                fd.completed,
                fd.unfinished_within_deadline,
                fd.unfinished_overdue,
                fd.no_fixed_deadline,
                fd.withdrawn,
            ]
        )

    overdue = wb.create_sheet("Quá hạn")
    overdue.append(list(OVERDUE_HEADERS))
    for item in body.overdue.items:
        cells = _overdue_row(item)
        overdue.append([*cells[:4], item.due, item.days_overdue])
        overdue.cell(overdue.max_row, 5).number_format = "DD/MM/YYYY"
    for ws in (agencies, docs, overdue):
        for cell in ws[1]:
            cell.font = cell.font.copy(bold=True) if ws is agencies else bold
    _text_not_formulas(wb.worksheets)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _text_not_formulas(sheets: Iterable[Any]) -> None:
    """openpyxl takes a string starting with '=' for a formula: this export writes none, so every such
    cell (an agency's title, say) is text again."""
    for sheet in sheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
