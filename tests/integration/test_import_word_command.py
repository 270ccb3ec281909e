"""`dondoc import plan.docx` on the real database: the Danh mục table of a Word document imports, and what
cannot be imported is reported row by row as for a spreadsheet."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from docx import Document

from tests.conftest import unique
from tests.integration.test_assignment_import import import_command
from tests.unit.test_import_word import _danh_muc, _quoc_hieu

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_a_word_plan_imports_and_reports_its_refused_rows(infra: Any, tmp_path: Path) -> None:
    with (FIXTURES / "danh_muc_131.merged.tsv").open(encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[:5]  # header, section, tasks 1-3
    rows.append(["4", "Việc của một sở chưa có", "Sở Quy hoạch - Kiến trúc", "", "Tháng 3/2023", ""])
    rows.append(["5", "Báo cáo định kỳ", "Sở Tư pháp", "", "thường kỳ tháng 6 và tháng 12", ""])
    doc = Document()
    _quoc_hieu(doc)
    _danh_muc(doc, rows)
    doc.save(str(path := tmp_path / "ke-hoach.docx"))
    run = import_command(path, unique("DOCX"))
    result = run()
    assert result.exit_code == 1, result.output  # not everything was imported
    assert result.output.count("Đã nhập") == 4 and result.output.count("Không nhập") == 1
    assert "Không khớp danh bạ: 'Sở Quy hoạch - Kiến trúc'" in result.output
    rerun = run()
    assert "4 đã có" in rerun.output
