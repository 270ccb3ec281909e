"""The monthly report as a Word document (services/reporting/docx_report.py), read back with python-docx: the
layout Nghị định 30/2020/NĐ-CP fixes, and headings, table cells and figures equal to the JSON report."""

from __future__ import annotations

import io
from typing import Any

import pytest
from docx import Document

from services.reporting.docx_report import Letterhead, to_docx
from services.reporting.domain import LABELS_VI, change_between
from services.reporting.export import FIGURE_ROWS, FORMATS, render
from services.reporting.responses import ReportBody
from services.reporting.vietnamese import vn_number
from tests.unit.test_reports import report_body, working_group_figures

OVERDUE = [
    {
        "code": "131/NQ-CP/UBND-BD#7",
        "title": "Số hóa hồ sơ, kết quả giải quyết thủ tục hành chính",
        "lead_agency_id": "stttt-bd",
        "lead_agency_name": "Sở Thông tin và Truyền thông",
        "person_name": "Trần Văn B",
        "person_role": "officer",
        "due": "2022-12-31",
        "days_overdue": 1210,
    },
    {
        "code": "131/NQ-CP/UBND-BD#13",
        "title": "Tái cấu trúc quy trình",
        "lead_agency_id": "sgddt-bd",
        "lead_agency_name": "Sở Giáo dục và Đào tạo",
        "person_name": "Nguyễn Văn A",
        "person_role": "head",
        "due": "2023-01-31",
        "days_overdue": 31,
    },
]


@pytest.fixture
def body() -> ReportBody:
    f = working_group_figures()
    head = {"person_id": "p-stp-head", "name": "Lê Thị C", "title": None}
    return report_body(
        change=change_between(f, working_group_figures(overdue=330)).model_dump(),
        date="2023-03-03",
        scope="UBND tỉnh Bình Định",
        paragraph_vi="Tính đến hết ngày 03/03/2023, tổng số nhiệm vụ được giao là 10.527 nhiệm vụ …",
        by_agency={"rows": [{"name": "Sở Tư pháp", "own": False, "head": head, "figures": f.model_dump()}]},
        overdue={"total": 2, "items": OVERDUE},
    )


def _read(data: bytes) -> Any:
    return Document(io.BytesIO(data))


def test_the_page_is_a4_with_the_decrees_margins_in_times_new_roman(body: ReportBody) -> None:
    doc = _read(to_docx(body))
    section = doc.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    margins = [section.top_margin, section.bottom_margin, section.left_margin, section.right_margin]
    assert [round(m.mm) for m in margins] == [20, 20, 30, 15]
    assert 19.9 <= section.top_margin.mm <= 25 and 29.9 <= section.left_margin.mm <= 35  # the decree's ranges
    runs = [r for p in _paragraphs(doc) for r in p.runs if r.text.strip()]
    assert runs and {r.font.name for r in runs} == {"Times New Roman"}
    recipients = {"Nơi nhận:", "- Như trên;", "- Lưu: VT."}
    # Body 13-14 pt; only "Nơi nhận" and its list are smaller, as the decree sets them (12 and 11 pt).
    assert {r.font.size.pt for r in runs if r.text not in recipients} <= {13.0, 14.0}
    assert {r.font.size.pt for r in runs if r.text in recipients} == {12.0, 11.0}


def test_the_letterhead_has_quoc_hieu_tieu_ngu_issuer_number_place_and_date(body: ReportBody) -> None:
    head = Letterhead(issuer="UBND tỉnh Bình Định", number="125/BC-UBND", place="Bình Định")
    doc = _read(to_docx(body, head))
    left, right = (c.text.split("\n") for c in doc.tables[0].rows[0].cells)
    assert left == ["UBND TỈNH BÌNH ĐỊNH", "Số: 125/BC-UBND"]
    assert right == [
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "Bình Định, ngày 03 tháng 03 năm 2023",
    ]
    bold = {r.text for p in doc.tables[0].rows[0].cells[1].paragraphs for r in p.runs if r.bold}
    assert bold == {"CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"}
    texts = [p.text for p in doc.paragraphs]
    assert "BÁO CÁO" in texts
    assert any("UBND tỉnh Bình Định" in t and "tính đến hết ngày 03/03/2023" in t for t in texts)
    assert body.paragraph_vi in texts
    closing = doc.tables[-1].rows[0].cells
    assert closing[0].text.split("\n") == ["Nơi nhận:", "- Như trên;", "- Lưu: VT."]
    assert closing[1].text.startswith("THỦ TRƯỞNG CƠ QUAN")


def test_an_unnumbered_draft_leaves_the_number_and_place_for_the_clerk(body: ReportBody) -> None:
    left, right = _read(to_docx(body)).tables[0].rows[0].cells
    assert left.text.split("\n") == ["UBND TỈNH BÌNH ĐỊNH", "Số:        /BC-"]
    assert right.text.endswith("…………, ngày 03 tháng 03 năm 2023")


def test_tables_and_figures_equal_the_json_report(body: ReportBody) -> None:
    doc = _read(render(body, "docx"))
    assert "docx" in FORMATS
    figures, agencies, overdue = ([[c.text for c in row.cells] for row in t.rows] for t in doc.tables[1:4])
    f = body.figures.model_dump()
    assert figures[0] == ["Chỉ tiêu", "Số lượng", "So với tháng trước"]
    by_label = {row[0]: row[1:] for row in figures[1:]}
    assert {name: by_label[LABELS_VI[name]][0] for name in FIGURE_ROWS} == {
        name: vn_number(f[name]) for name in FIGURE_ROWS
    }
    assert by_label[LABELS_VI["assigned"]] == ["10.527", "+13"]
    assert by_label[LABELS_VI["completed_on_time"]][0] == "6.185"
    assert by_label[LABELS_VI["unfinished_overdue"]] == ["343", "+13"]
    share = [row for row in figures if row[0].startswith(LABELS_VI["overdue_share"])]
    assert share == [
        [f"{LABELS_VI['overdue_share']} (trên 10.527 nhiệm vụ được giao)", "3,2%", body.change.overdue_share_text]
    ]
    assert agencies[1] == ["Sở Tư pháp", "Lê Thị C", "10.527", "6.185", "769", "3.230", "343", "3,2%"]
    assert [row[0] for row in overdue[1:]] == [item["code"] for item in OVERDUE]
    assert overdue[1][2:] == ["Sở Thông tin và Truyền thông", "Trần Văn B", "31/12/2022", "1.210"]
    assert overdue[2][3] == "Nguyễn Văn A (người đứng đầu)"
    headings = [p.text for p in doc.paragraphs if p.runs and p.runs[0].bold]
    assert "3. Nhiệm vụ quá hạn chưa hoàn thành (2)" in headings


def _paragraphs(doc: Any) -> list[Any]:
    cells = [c for t in doc.tables for row in t.rows for c in row.cells]
    return [*doc.paragraphs, *(p for c in cells for p in c.paragraphs)]
