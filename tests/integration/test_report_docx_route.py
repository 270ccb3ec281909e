"""The dashboard's Word export, GET /v1/reports/summary.docx, on the real service: the figures of /summary."""

from __future__ import annotations

import io
from typing import Any

import pytest
from docx import Document

from services.reporting.vietnamese import vn_number
from tests.integration.report_scenario import Scenario
from tests.integration.test_report_summary import reporting, scenario, summary  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration


async def test_the_word_export_carries_the_figures_and_overdue_list_of_the_summary(
    reporting: Any,  # noqa: F811
    scenario: Scenario,  # noqa: F811
) -> None:
    http, _ = reporting
    params = {"agency_id": scenario.id("ubnd-bd"), "document": "131/NQ-CP", "as_of": "2023-04-01"}
    body = await summary(http, scenario, **params)
    response = await http.get("/v1/reports/summary.docx", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="bao-cao-2023-04-01.docx"' in response.headers["content-disposition"]
    doc = Document(io.BytesIO(response.content))
    figures = {row.cells[0].text: row.cells[1].text for row in doc.tables[1].rows[1:]}
    assert figures["Nhiệm vụ được giao"] == vn_number(body["figures"]["assigned"])
    overdue = [row.cells[0].text for row in doc.tables[3].rows[1:]]
    assert overdue == [item["code"] for item in body["overdue"]["items"]]
