"""Reading a task list like the Danh mục (TSV, CSV, XLSX or the tables of a .docx) into task rows. No database.

What a document table looks like, and what is done with each kind of row:
* the header row (STT, Tên nhiệm vụ, Cơ quan chủ trì, Cơ quan phối hợp, Thời hạn hoàn thành, Mô tả sản
  phẩm…) fixes the columns, in any order; it is repeated after page breaks: skipped;
* section rows ("I  VỀ CẢI CÁCH THỦ TỤC HÀNH CHÍNH"): a Roman numeral and a title, no agency: remembered
  as the section of the tasks below;
* task rows: a number in STT ("1", "2.", "3.1");
* continuation rows: no STT, cells that a page break split off the task above: each non-empty cell is
  joined to the same cell of that task with a single space;
* the closing "Tổng cộng: 17 nhiệm vụ": the declared count, checked against the rows read.
Any other row is a problem to report, never skipped silently.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from services.assignment.names import display, scan_form

COLUMNS: dict[str, tuple[str, ...]] = {
    "stt": ("stt", "tt", "số thứ tự"),
    "title": ("tên nhiệm vụ", "nhiệm vụ", "nội dung nhiệm vụ", "nội dung"),
    "lead": ("cơ quan chủ trì", "chủ trì", "đơn vị chủ trì", "cơ quan, đơn vị chủ trì"),
    "coordinating": ("cơ quan phối hợp", "phối hợp", "đơn vị phối hợp", "cơ quan, đơn vị phối hợp"),
    "deadline": ("thời hạn hoàn thành", "thời hạn", "thời gian hoàn thành"),
    "product": ("mô tả sản phẩm của nhiệm vụ", "mô tả sản phẩm", "sản phẩm", "sản phẩm dự kiến"),
}
REQUIRED = ("stt", "title", "lead", "deadline")
HEADER_TEXT = "STT, Tên nhiệm vụ, Cơ quan chủ trì, Cơ quan phối hợp, Thời hạn hoàn thành, Mô tả sản phẩm"
_TASK_NUMBER = re.compile(r"^\d+(?:\.\d+)*\.?$")
_SECTION = re.compile(r"^(?P<number>[IVXLC]+|[A-Z])\.?(?:\s+(?P<title>.+))?$")
_HEADER_ROWS = 5  # a Word table is a Danh mục when one of its first rows is its header
_TOTAL = re.compile(r"^tổng(?:\s+cộng|\s+số)?\s*:?\s*(?P<count>\d+)?", re.IGNORECASE)


class TableError(ValueError):
    """The file cannot be read as a task list at all (no header, unknown format)."""


@dataclass(frozen=True)
class TaskRow:
    line: int  # 1-based row of the file where the task starts
    stt: str
    title: str
    lead: str
    coordinating: str
    deadline: str
    product: str
    section: str = ""


@dataclass(frozen=True)
class RowProblem:
    line: int
    stt: str
    code: str
    message_vi: str
    message_en: str


@dataclass
class Table:
    rows: list[TaskRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # header / section / continuation / total rows
    declared_total: int | None = None


def read_file(path: Path) -> Table:
    if path.suffix.lower() == ".docx":
        return _docx(path)
    return parse(read_cells(path))


def _docx(path: Path) -> Table:
    """Every table of the document with a Danh mục header, read as one list (importing/word.py).

    Rows are numbered through the tables in order, as one long sheet would be. When several tables
    each number their tasks from 1, the tasks of the second and later are told apart as "PL2/1", …
    """
    from services.assignment.importing.word import tables

    found = [grid for grid in tables(path) if any(_header(row) for row in grid[:_HEADER_ROWS])]
    if not found:
        raise TableError(f"{path.name}: no table with a header row; expected the columns {HEADER_TEXT}")
    merged, offset = Table(), 0
    totals: list[int | None] = []
    for number, grid in enumerate(found, start=1):
        part = parse(grid)
        tag = "" if number == 1 else f"PL{number}/"
        merged.rows += [replace(r, line=r.line + offset, stt=tag + r.stt) for r in part.rows]
        merged.problems += [
            replace(p, line=p.line + offset, stt=tag + p.stt if p.stt else p.stt) for p in part.problems
        ]
        for kind, count in part.skipped.items():
            merged.skipped[kind] = merged.skipped.get(kind, 0) + count
        totals.append(part.declared_total)
        offset += len(grid)
    # A total is checked only when every table declares one: a partial sum would flag a good import.
    merged.declared_total = None if None in totals else sum(t for t in totals if t is not None)
    return merged


def read_cells(path: Path) -> list[list[str]]:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _xlsx(path)
    text = path.read_text(encoding="utf-8-sig")
    if suffix in (".tsv", ".tab", ".txt"):
        return [row for row in csv.reader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)]
    if suffix == ".csv":
        # The delimiter is the one the first line uses most (Excel in Vietnamese locales writes ";");
        # quoting is standard CSV (csv.Sniffer guesses it wrong on cells holding HTML quotes).
        first = next((line for line in text.splitlines() if line.strip()), "")
        delimiter = max(",;\t", key=first.count)
        return [row for row in csv.reader(text.splitlines(keepends=True), delimiter=delimiter)]
    raise TableError(f"{path.name}: unknown format {suffix!r}; use .tsv, .csv, .xlsx or .docx")


def _xlsx(path: Path) -> list[list[str]]:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        return [[_cell(v) for v in row] for row in book.worksheets[0].iter_rows(values_only=True)]
    finally:
        book.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()  # a date typed into a spreadsheet: parsed as an ISO date
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _header(cells: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i, cell in enumerate(cells):
        key = scan_form(display(cell)).strip(" .:")
        for column, names in COLUMNS.items():
            if key in names and column not in found:
                found[column] = i
    return found if {"stt", "title"} <= found.keys() and len(found) >= 3 else {}


def parse(cells: list[list[str]]) -> Table:
    start = next(((i, cols) for i, row in enumerate(cells[:50]) if (cols := _header(row))), None)
    if start is None:
        raise TableError(f"no header row found; expected the columns {HEADER_TEXT}")
    first, columns = start
    if missing := [c for c in REQUIRED if c not in columns]:
        raise TableError(f"the header lacks {', '.join(missing)}; expected the columns {HEADER_TEXT}")
    return _Reader(columns).read(cells, first)


@dataclass
class _Reader:
    columns: dict[str, int]
    table: Table = field(default_factory=Table)
    section: str = ""
    joinable: bool = False  # may a row without STT continue the last task (no section since)?

    def get(self, row: list[str], column: str) -> str:
        i = self.columns.get(column)
        return row[i].strip() if i is not None and i < len(row) else ""

    def skip(self, kind: str) -> None:
        self.table.skipped[kind] = self.table.skipped.get(kind, 0) + 1

    def read(self, cells: list[list[str]], header_index: int) -> Table:
        self.skip("header")
        for index in range(header_index + 1, len(cells)):
            self.row(index + 1, [c or "" for c in cells[index]])
        return self.table

    def row(self, line: int, row: list[str]) -> None:
        if not any(c.strip() for c in row):
            return
        if _header(row):
            return self.skip("header")
        stt = display(self.get(row, "stt"))
        if (total := _TOTAL.match(stt)) is not None:
            self.table.declared_total = int(total["count"]) if total["count"] else None
            return self.skip("total")
        if _TASK_NUMBER.match(stt):
            return self.task(line, stt.rstrip("."), row)
        rest = [self.get(row, c) for c in ("lead", "coordinating", "deadline")]
        if (section := _SECTION.match(stt)) is not None and not any(rest):
            self.section = display(f"{section['number']}. {section['title'] or self.get(row, 'title')}")
            self.joinable = False
            return self.skip("section")
        if not stt and self.joinable:
            return self.join(row)
        self.table.problems.append(
            RowProblem(
                line,
                stt,
                "row-unreadable",
                f"Dòng {line}: không nhận ra (STT {stt!r} không phải số thứ tự nhiệm vụ)",
                f"row {line}: not a task, section, header or continuation row (STT {stt!r})",
            )
        )

    def task(self, line: int, stt: str, row: list[str]) -> None:
        if any(r.stt == stt for r in self.table.rows):
            self.table.problems.append(
                RowProblem(
                    line,
                    stt,
                    "duplicate-stt",
                    f"Dòng {line}: STT {stt} bị trùng",
                    f"row {line}: STT {stt} appears twice",
                )
            )
            self.joinable = False
            return
        self.table.rows.append(
            TaskRow(
                line,
                stt,
                title=self.get(row, "title"),
                lead=self.get(row, "lead"),
                coordinating=self.get(row, "coordinating"),
                deadline=self.get(row, "deadline"),
                product=self.get(row, "product"),
                section=self.section,
            )
        )
        self.joinable = True

    def join(self, row: list[str]) -> None:
        last = self.table.rows[-1]

        def joined(column: str) -> str:
            return " ".join(p for p in (getattr(last, column), self.get(row, column)) if p)

        self.table.rows[-1] = replace(
            last,
            title=joined("title"),
            lead=joined("lead"),
            coordinating=joined("coordinating"),
            deadline=joined("deadline"),
            product=joined("product"),
        )
        self.skip("continuation")
