"""A Danh mục in a Word document (.docx) reads as the same task rows as the TSV it was typed from, with the
same row-level problems (services/assignment/importing/word.py and table.py). The documents are built
here with python-docx, laid out as agencies lay them: a Quốc hiệu block as a table, a title row merged
across, section rows merged across, cells of several lines, one lead merged down several rows, numbered
sub-rows, and a second annex table."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from docx import Document
from docx.table import Table as WordTable

from services.assignment.importing.plan import plan_rows
from services.assignment.importing.table import Table, TableError, read_file
from tests.unit.test_import_plan import OPTIONS, directory
from tests.unit.test_import_table import VERBATIM, cells, expected_cells


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8") as f:
        return [row for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]


def _quoc_hieu(doc: Document) -> None:
    block = doc.add_table(rows=2, cols=2)
    block.cell(0, 0).text, block.cell(0, 1).text = (
        "ỦY BAN NHÂN DÂN\nTỈNH BÌNH ĐỊNH",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    )
    block.cell(1, 0).text, block.cell(1, 1).text = "Số: 6958/UBND-KSTT", "Độc lập - Tự do - Hạnh phúc"
    doc.add_paragraph("Phụ lục: DANH MỤC NHIỆM VỤ")


def _fill(table: WordTable, index: int, row: list[str]) -> None:
    width = len(table.columns)
    row = (row + [""] * width)[:width]
    if row[0] and not any(row[2:]):  # a section row ("I", "VỀ CẢI CÁCH …"): one cell across
        merged = table.cell(index, 0).merge(table.cell(index, width - 1))
        merged.text = f"{row[0]}. {row[1]}" if row[1] else row[0]
        return
    for j, text in enumerate(row):
        cell = table.cell(index, j)
        words = text.split(" ")
        if j == 1 and len(words) > 6:  # a title of several lines: paragraphs in the cell
            cell.text = " ".join(words[:3])
            cell.add_paragraph(" ".join(words[3:]))
        else:
            cell.text = text


def _danh_muc(doc: Document, rows: list[list[str]], *, title: bool = True) -> WordTable:
    width = max(len(r) for r in rows)
    table = doc.add_table(rows=len(rows) + title, cols=width)
    if title:
        table.cell(0, 0).merge(table.cell(0, width - 1)).text = "DANH MỤC NHIỆM VỤ THỰC HIỆN NGHỊ QUYẾT 131/NQ-CP"
    for i, row in enumerate(rows):
        _fill(table, i + title, row)
    return table


@pytest.fixture
def seed_docx(tmp_path: Path) -> Path:
    doc = Document()
    _quoc_hieu(doc)
    _danh_muc(doc, _rows(VERBATIM))
    doc.add_paragraph("Nơi nhận: - Như trên;")
    path = tmp_path / "ke-hoach.docx"
    doc.save(str(path))
    return path


def test_the_seed_danh_muc_as_a_word_table_reads_as_the_tsv_does(seed_docx: Path) -> None:
    from_word, from_tsv = read_file(seed_docx), read_file(VERBATIM)
    assert cells(from_word) == expected_cells() == cells(from_tsv)
    assert from_word.problems == [] and from_word.declared_total == 17
    assert from_word.skipped == from_tsv.skipped
    assert [r.section for r in from_word.rows] == [r.section for r in from_tsv.rows]


def test_the_word_plan_assigns_what_the_tsv_plan_assigns(seed_docx: Path) -> None:
    def commands(table: Table) -> list[tuple[str, ...]]:
        return [
            (c.code or "", c.lead_agency_id, str(c.deadline))
            for p in plan_rows(table.rows, directory(), OPTIONS)
            for c in p.commands
        ]

    assert commands(read_file(seed_docx)) == commands(read_file(VERBATIM))


def _simple(tmp_path: Path, *tables: list[list[str]], merge_lead: tuple[int, int] | None = None) -> Path:
    doc = Document()
    _quoc_hieu(doc)
    for k, rows in enumerate(tables):
        table = _danh_muc(doc, rows, title=False)
        if k == 0 and merge_lead is not None:
            top, bottom = merge_lead
            table.cell(top, 2).merge(table.cell(bottom, 2)).text = rows[top][2]
    path = tmp_path / "plan.docx"
    doc.save(str(path))
    return path


HEADER = ["STT", "Tên nhiệm vụ", "Cơ quan chủ trì", "Cơ quan phối hợp", "Thời hạn hoàn thành", "Sản phẩm"]


def test_a_lead_merged_down_rows_leads_each_of_them_and_numbered_sub_rows_are_tasks(tmp_path: Path) -> None:
    rows = [
        HEADER,
        ["1", "Rà soát thủ tục", "Sở Tư pháp", "", "Tháng 11/2022", "Báo cáo"],
        ["2", "Số hóa hồ sơ", "Sở Thông tin và Truyền thông", "", "Quý I năm 2023", ""],
        ["2.1", "Số hóa cấp tỉnh", "", "", "Tháng 01/2023", ""],
        ["2.2", "Số hóa cấp huyện", "", "", "Tháng 3/2023", ""],
    ]
    table = read_file(_simple(tmp_path, rows, merge_lead=(2, 4)))
    assert [(r.stt, r.lead, r.deadline) for r in table.rows] == [
        ("1", "Sở Tư pháp", "Tháng 11/2022"),
        ("2", "Sở Thông tin và Truyền thông", "Quý I năm 2023"),
        ("2.1", "Sở Thông tin và Truyền thông", "Tháng 01/2023"),
        ("2.2", "Sở Thông tin và Truyền thông", "Tháng 3/2023"),
    ]


def test_row_problems_are_those_of_a_tsv_and_a_second_annex_is_told_apart(tmp_path: Path) -> None:
    first = [
        HEADER,
        ["1", "Rà soát", "Sở Tư pháp", "", "Tháng 11/2022", ""],
        ["1", "Trùng", "Sở Nội vụ", "", "", ""],
        ["ghi chú", "không phải nhiệm vụ", "Sở Nội vụ", "", "", ""],
    ]
    second = [HEADER, ["1", "Công khai kết quả", "Sở Nội vụ", "", "Tháng 12/2022", ""]]
    table = read_file(_simple(tmp_path, first, second))
    assert [r.stt for r in table.rows] == ["1", "PL2/1"]
    assert [(p.code, p.stt) for p in table.problems] == [("duplicate-stt", "1"), ("row-unreadable", "ghi chú")]
    assert all(p.message_vi and p.message_en for p in table.problems)
    # Rows are numbered through the tables, as one sheet would be: the second table's task is after them.
    assert table.rows[1].line > max(p.line for p in table.problems)


def test_a_document_without_a_danh_muc_table_is_refused_with_the_columns_expected(tmp_path: Path) -> None:
    doc = Document()
    _quoc_hieu(doc)
    path = tmp_path / "letter.docx"
    doc.save(str(path))
    with pytest.raises(TableError, match="Tên nhiệm vụ"):
        read_file(path)
