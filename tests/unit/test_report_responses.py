"""The reporting routes' typed bodies (services/reporting/responses.py) write the JSON their readers were
written against: the dashboard, ``dondoc report`` and other services read it by field name."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime

from services.reporting.catalog import TreeNode
from services.reporting.export import render
from services.reporting.queries.withdrawn import WithdrawnTask
from services.reporting.responses import DelegationTree, HiddenNode, ReportBody, json_response
from tests.unit.test_reports import report_body

WITHDRAWN_AT = datetime(2023, 3, 1, 2, 0, tzinfo=UTC)  # asyncpg gives timestamptz in UTC


def _withdrawn() -> dict[str, object]:
    task = WithdrawnTask("t-12", "X#12", "Rút", "131/NQ-CP", "btp", WITHDRAWN_AT)
    return {"total": 1, "items": [dataclasses.asdict(task)]}


def test_the_summary_writes_the_fields_its_readers_read_in_their_order() -> None:
    written = json.loads(bytes(json_response(report_body()).body))
    assert list(written) == [
        "as_of", "date", "live", "as_recorded", "adjusted", "scope", "filters", "figures", "key_tasks", "previous",
        "change", "ageing", "by_agency", "by_document", "overdue", "withdrawn", "paragraph_vi", "labels_vi", "colours",
    ]  # fmt: skip
    assert list(written["filters"]) == ["agency_id", "lead_only", "document", "from", "to", "as_recorded"]
    assert list(written["previous"]) == ["basis", "as_of", "from", "to", "figures", "key_tasks"]
    assert {"completed", "in_progress", "overdue_share"} <= set(written["figures"])  # computed, written too


def test_a_utc_instant_is_written_as_python_writes_it_not_with_z() -> None:
    text = bytes(json_response(report_body(withdrawn=_withdrawn())).body).decode()
    assert '"withdrawn_at":"2023-03-01T02:00:00+00:00"' in text
    assert "02:00:00Z" not in text


def test_the_cli_reads_the_summary_back_into_the_same_body() -> None:
    body = report_body(
        withdrawn=_withdrawn(),
        overdue={"items": [{"code": "X#1", "person_name": "Nguyễn Văn A", "due": "2020-10-31"}]},
        by_document=[{"document": "131/NQ-CP", "issued_on": "2020-09-21", "figures": report_body().figures}],
    )
    wire = bytes(json_response(body).body)
    again = ReportBody.model_validate_json(wire)
    assert again == body
    assert again.overdue.items[0].due == date(2020, 10, 31) and again.withdrawn.items[0].withdrawn_at == WITHDRAWN_AT
    assert json.loads(render(again, "json")) == json.loads(wire)


def test_a_hidden_node_keeps_the_fields_of_a_node_all_empty_but_its_place() -> None:
    hidden = HiddenNode(depth=1, task_id="hidden-1", parent_task_id="t-1")
    written = json.loads(bytes(json_response(DelegationTree(task_id="t-1", nodes=[hidden])).body))["nodes"][0]
    assert list(written) == [f.name for f in dataclasses.fields(TreeNode)] + ["hidden"]
    shown = {k: v for k, v in written.items() if v not in (None, [], False)}
    assert shown == {
        "depth": 1,
        "task_id": "hidden-1",
        "parent_task_id": "t-1",
        "code": "(mật)",
        "title": "Nhiệm vụ mật",
        "classification": "mat",
        "hidden": True,
    }
