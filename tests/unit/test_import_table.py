"""Reading task lists like the Danh mục (services/assignment/importing/table.py)."""

from __future__ import annotations

import csv
import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from services.assignment.importing.table import Table, TableError, parse, read_cells, read_file
from services.assignment.provision import SEED_DANH_MUC

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
VERBATIM, MERGED = FIXTURES / "danh_muc_131.tsv", FIXTURES / "danh_muc_131.merged.tsv"
EXPECTED: list[dict[str, Any]] = json.loads((FIXTURES / "danh_muc_131.expected.json").read_text())["tasks"]
HEADER = [
    "STT",
    "Tên nhiệm vụ",
    "Cơ quan chủ trì",
    "Cơ quan phối hợp",
    "Thời hạn Hoàn thành",
    "Mô tả sản phẩm của nhiệm vụ",
]


def cells(table: Table) -> list[tuple[str, ...]]:
    return [(r.stt, r.title, r.lead, r.coordinating, r.deadline, r.product) for r in table.rows]


def expected_cells() -> list[tuple[str, ...]]:
    return [
        (e["stt"], e["title"], e["lead_text"], e["coordinating_text"], e["deadline_text"], e["product"])
        for e in EXPECTED
    ]


def test_the_seed_table_reads_as_its_17_tasks_cell_for_cell() -> None:
    table = read_file(VERBATIM)
    assert cells(table) == expected_cells()
    assert table.problems == [] and table.declared_total == 17


def test_the_verbatim_and_merged_tables_read_the_same() -> None:
    assert cells(read_file(VERBATIM)) == cells(read_file(MERGED))


def test_repeated_headers_sections_continuations_and_the_total_are_skipped_not_lost() -> None:
    assert read_file(VERBATIM).skipped == {"header": 7, "section": 3, "continuation": 3, "total": 1}


def test_a_page_break_continuation_joins_its_cells_with_one_space() -> None:
    task14 = read_file(VERBATIM).rows[13]
    assert task14.coordinating.endswith("Cục Thống kê tỉnh và các cơ quan, đơn vị, địa phương có liên quan")


def test_section_rows_become_the_section_of_their_tasks() -> None:
    rows = read_file(VERBATIM).rows
    assert rows[0].section == "I. VỀ CẢI CÁCH THỦ TỤC HÀNH CHÍNH"
    assert rows[13].section.startswith("III. Hiện đại hóa")


def test_the_demo_ships_the_fixture_byte_for_byte() -> None:
    assert SEED_DANH_MUC.read_bytes() == VERBATIM.read_bytes()


def test_csv_with_semicolons_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "danh_muc.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as f:  # as Excel saves it, BOM included
        csv.writer(f, delimiter=";").writerows(read_cells(VERBATIM))
    assert cells(read_file(path)) == expected_cells()


def test_xlsx_reads_the_same(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    for row in read_cells(MERGED):
        book.active.append(row)  # type: ignore[union-attr]
    path = tmp_path / "danh_muc.xlsx"
    book.save(path)
    assert cells(read_file(path)) == expected_cells()


def test_columns_are_found_by_name_in_any_order_and_form() -> None:
    header = [unicodedata.normalize("NFD", h.upper()) for h in reversed(HEADER)]
    table = parse([header, list(reversed(["1", "Việc", "Sở Tư pháp", "", "Tháng 3/2023", "SP"]))])
    assert cells(table) == [("1", "Việc", "Sở Tư pháp", "", "Tháng 3/2023", "SP")]


def test_a_file_without_the_header_is_refused_naming_the_columns() -> None:
    with pytest.raises(TableError, match="Tên nhiệm vụ"):
        parse([["a", "b"], ["1", "x"]])


def test_an_unreadable_row_is_reported_never_skipped() -> None:
    table = parse(
        [
            HEADER,
            ["1", "Việc một", "Sở Tư pháp", "", "Tháng 3/2023", ""],
            ["a)", "Việc lạ", "Sở Tư pháp", "", "Tháng 3/2023", ""],
        ]
    )
    assert [(p.line, p.code) for p in table.problems] == [(3, "row-unreadable")]


def test_a_repeated_number_is_reported() -> None:
    table = parse(
        [
            HEADER,
            ["1", "Việc", "Sở Tư pháp", "", "Tháng 3/2023", ""],
            ["1", "Việc khác", "Sở Tài chính", "", "Tháng 3/2023", ""],
        ]
    )
    assert [p.code for p in table.problems] == ["duplicate-stt"] and len(table.rows) == 1


def test_a_row_without_number_after_a_section_is_not_a_continuation() -> None:
    table = parse(
        [
            HEADER,
            ["1", "Việc", "Sở Tư pháp", "", "Tháng 3/2023", ""],
            ["II", "MỤC HAI", "", "", "", ""],
            ["", "mồ côi", "", "", "", ""],
        ]
    )
    assert table.rows[0].title == "Việc" and [p.code for p in table.problems] == ["row-unreadable"]
