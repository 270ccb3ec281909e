"""The monthly report as a Word document in the administrative format of Nghị định 30/2020/NĐ-CP.

What the decree (Phụ lục I) fixes, and how it is laid out here:
* A4 paper, portrait; margins top and bottom 20 mm, left 30 mm, right 15 mm (its ranges are 20-25,
  20-25, 30-35, 15-20 mm: the smallest, so the tables get the width);
* Times New Roman throughout (the decree's Unicode font); body text 14 pt, tables 13 pt;
* the header as two columns without borders: left, the issuing body (upper case, bold) and the
  number and symbol ("Số: …/BC-…"); right, the Quốc hiệu "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" (upper case,
  bold, 13 pt) and the tiêu ngữ "Độc lập - Tự do - Hạnh phúc" (bold, 14 pt), then the place and date
  in italics ("Bình Định, ngày 31 tháng 12 năm 2022");
* the kind of document, "BÁO CÁO" (bold, centred), and its summary line under it;
* the content: the working group's paragraph, the figures table, the table by agency, the overdue list;
* "Nơi nhận:" (bold italic, 12 pt) and its list (11 pt), as the decree sets them, beside the signature
  block (the signer's title upper case, bold).

Figures are the JSON report's (GET /v1/reports/summary), written the Vietnamese way (10.527; 3,2%) by the
same row builders as the CSV and the table (services/reporting/export.py). The document number is left for
the clerk who registers it unless given: a report is numbered when it is issued, not when it is drafted.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.table import Table as WordTable
from docx.text.paragraph import Paragraph

from services.reporting.export import (
    AGENCY_HEADERS,
    OVERDUE_HEADERS,
    _agency_row,
    _figure_rows,
    _overdue_row,
    moment_vi,
)
from services.reporting.responses import ReportBody

FONT = "Times New Roman"
BODY_PT, TABLE_PT, HEADER_PT = 14, 13, 13
MARGINS_MM = {"top": 20, "bottom": 20, "left": 30, "right": 15}
QUOC_HIEU = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
TIEU_NGU = "Độc lập - Tự do - Hạnh phúc"
KIND = "BÁO CÁO"


@dataclass(frozen=True)
class Letterhead:
    """Who issues the report and to whom; what the JSON report cannot know."""

    issuer: str = ""  # defaults to the report's scope ("UBND tỉnh Bình Định")
    parent_body: str = ""  # cơ quan chủ quản, above the issuer when there is one
    number: str = ""  # "125/BC-UBND"; blank: "Số:      /BC-" for the clerk
    place: str = ""  # "Bình Định"; blank: dots to fill in
    signer_title: str = "THỦ TRƯỞNG CƠ QUAN"
    signer_name: str = ""
    recipients: list[str] = field(default_factory=lambda: ["Như trên", "Lưu: VT"])


def to_docx(body: ReportBody, head: Letterhead | None = None) -> bytes:
    head = head or Letterhead()
    doc = Document()
    _page(doc)
    _letterhead(doc, body, head)
    _title(doc, body)
    _paragraph(doc, body.paragraph_vi, indent=True)
    _heading(doc, "1. Số liệu tổng hợp")
    compared = "So với tháng trước" if body.previous.basis == "month" else "So với kỳ trước"
    _table(doc, ("Chỉ tiêu", "Số lượng", compared), _figure_rows(body))
    _heading(doc, f"2. Theo cơ quan (đơn vị thuộc {body.by_agency.parent.name})")
    _table(doc, AGENCY_HEADERS, [_agency_row(r) for r in body.by_agency.rows])
    _heading(doc, f"3. Nhiệm vụ quá hạn chưa hoàn thành ({body.overdue.total})")
    if body.overdue.items:
        _table(doc, OVERDUE_HEADERS, [_overdue_row(i) for i in body.overdue.items])
    else:
        _paragraph(doc, "Không có nhiệm vụ quá hạn chưa hoàn thành.", indent=True)
    _closing(doc, head)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def _page(doc: Any) -> None:
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(MARGINS_MM["top"]), Mm(MARGINS_MM["bottom"])
    section.left_margin, section.right_margin = Mm(MARGINS_MM["left"]), Mm(MARGINS_MM["right"])
    style = doc.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(BODY_PT)
    # East Asian and complex-script slots too, or Word falls back to another font for Vietnamese marks.
    fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    for slot in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(slot), FONT)


def _run(p: Paragraph, text: str, size: int, *, bold: bool = False, italic: bool = False) -> None:
    run = p.add_run(text)
    run.font.name, run.font.size, run.bold, run.italic = FONT, Pt(size), bold, italic


def _centred(
    cell_or_doc: Any, text: str, size: int, *, bold: bool = False, italic: bool = False, first: bool = False
) -> Paragraph:
    p: Paragraph = cell_or_doc.paragraphs[0] if first else cell_or_doc.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.paragraph_format.space_after = Pt(0)
    _run(p, text, size, bold=bold, italic=italic)
    return p


def _letterhead(doc: Any, body: ReportBody, head: Letterhead) -> None:
    grid = doc.add_table(rows=1, cols=2)
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    left, right = grid.rows[0].cells
    left.width, right.width = Mm(65), Mm(100)
    issuer = (head.issuer or body.scope).upper()
    first = True
    if head.parent_body:
        _centred(left, head.parent_body.upper(), HEADER_PT, first=True)
        first = False
    _centred(left, issuer, HEADER_PT, bold=True, first=first)
    _centred(left, "Số: " + (head.number or "       /BC-"), HEADER_PT)
    _centred(right, QUOC_HIEU, HEADER_PT, bold=True, first=True)
    _centred(right, TIEU_NGU, BODY_PT, bold=True)
    day = date.fromisoformat(body.date)
    place = head.place or "…………"
    _centred(right, f"{place}, ngày {day.day:02d} tháng {day.month:02d} năm {day.year}", BODY_PT, italic=True)


def _title(doc: Any, body: ReportBody) -> None:
    _centred(doc, "", BODY_PT)
    _centred(doc, KIND, BODY_PT, bold=True)
    _centred(doc, f"Tình hình thực hiện nhiệm vụ được giao — {body.scope} — {moment_vi(body)}", BODY_PT, bold=True)
    _centred(doc, "", BODY_PT)


def _paragraph(doc: Any, text: str, *, indent: bool = False) -> None:
    p = doc.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    if indent:
        p.paragraph_format.first_line_indent = Mm(10)
    _run(p, text, BODY_PT)


def _heading(doc: Any, text: str) -> None:
    p = doc.add_paragraph()
    p.paragraph_format.space_before = Pt(6)
    _run(p, text, BODY_PT, bold=True)


def _table(doc: Any, headers: tuple[str, ...], rows: list[Any]) -> WordTable:
    table: WordTable = doc.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(table.rows[0].cells, headers, strict=True):
        _centred(cell, text, TABLE_PT, bold=True, first=True)
    for values in rows:
        cells = table.add_row().cells  # type: ignore[no-untyped-call]  # python-docx is untyped
        for i, (cell, text) in enumerate(zip(cells, values, strict=True)):
            p = cell.paragraphs[0]
            p.alignment = WD_ALIGN_PARAGRAPH.LEFT if i == 0 or not _numeric(str(text)) else WD_ALIGN_PARAGRAPH.RIGHT
            _run(p, str(text), TABLE_PT)
    return table


def _numeric(text: str) -> bool:
    return bool(text) and all(ch.isdigit() or ch in ".,%+-/" for ch in text)


def _closing(doc: Any, head: Letterhead) -> None:
    doc.add_paragraph()
    grid = doc.add_table(rows=1, cols=2)
    left, right = grid.rows[0].cells
    p = left.paragraphs[0]
    _run(p, "Nơi nhận:", 12, bold=True, italic=True)
    for i, name in enumerate(head.recipients):
        _run(left.add_paragraph(), f"- {name}{'.' if i == len(head.recipients) - 1 else ';'}", 11)
    _centred(right, head.signer_title.upper(), BODY_PT, bold=True, first=True)
    _centred(right, "(Ký, ghi rõ họ tên, đóng dấu)", BODY_PT, italic=True)
    for _ in range(3):
        _centred(right, "", BODY_PT)
    if head.signer_name:
        _centred(right, head.signer_name, BODY_PT, bold=True)
