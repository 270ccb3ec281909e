"""The Danh mục tables of a Word document (.docx): the cells of every table that has a task-list header.

Agencies send plans as Word files, the Danh mục nhiệm vụ a table in a Phụ lục. Each table whose first rows
hold a header like the Danh mục's (services/assignment/importing/table.py) is read as a grid of text; the
others (the Quốc hiệu block laid out as a table, signatures, …) are left alone. How the layout is undone:

* a cell merged across columns (gridSpan: a section row "I. VỀ CẢI CÁCH …") keeps its text in its first
  column and leaves the others empty, so it reads like the same row of a spreadsheet;
* a cell merged down rows (vMerge: one lead agency for several tasks) gives its text to each row it covers;
* the paragraphs and line breaks of a cell are one text, joined with a single space, as a page-break
  continuation row is joined;
* cells skipped at a row's start (gridBefore) are empty cells.
"""

from __future__ import annotations

import re
from pathlib import Path

from docx import Document
from docx.oxml.ns import qn
from docx.table import Table as WordTable
from docx.table import _Cell

_SPACES = re.compile(r"\s+")
_T, _BR, _TAB = qn("w:t"), qn("w:br"), qn("w:tab")


def tables(path: Path) -> list[list[list[str]]]:
    """The cell text of every table in the document, in document order (nested tables are not read)."""
    return [_grid(table) for table in Document(str(path)).tables]


def _grid(table: WordTable) -> list[list[str]]:
    rows: list[list[str]] = []
    above: list[str] = []
    for tr in table._tbl.tr_lst:
        row = [""] * tr.grid_before
        for tc in tr.tc_lst:
            merge = tc.vMerge
            if merge is not None and merge != "restart":  # "continue": the cell above goes on
                text = above[len(row)] if len(row) < len(above) else ""
            else:
                text = _text(_Cell(tc, table))
            row.append(text)
            row.extend([""] * (tc.grid_span - 1))
        rows.append(row)
        above = row
    return rows


def _text(cell: _Cell) -> str:
    # Only this cell's own paragraphs: a table nested in it is not part of its text.
    parts = [
        "".join(el.text or "" if el.tag == _T else " " for el in p.iter(_T, _BR, _TAB))
        for p in cell._tc.iterchildren(qn("w:p"))
    ]
    return _SPACES.sub(" ", " ".join(parts)).strip()
