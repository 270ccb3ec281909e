"""From task rows to commands, against the seed directory (services/assignment/importing/plan.py).

The oracle is tests/fixtures/danh_muc_131.expected.json.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from events.deadlines import parse_deadline_or_date
from events.tasks import SourceDocument
from services.assignment.directory.tree import Directory
from services.assignment.importing.plan import ImportOptions, PlannedRow, plan_row, plan_rows
from services.assignment.importing.table import TaskRow, read_file
from services.assignment.provision import read_directory

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXPECTED: list[dict[str, Any]] = json.loads((FIXTURES / "danh_muc_131.expected.json").read_text())["tasks"]
OPTIONS = ImportOptions(
    document=SourceDocument(number="131/NQ-CP", issued_on=date(2022, 10, 6), issuer="Chính phủ"),
    letter=SourceDocument(number="6958/UBND-KSTT", issued_on=date(2022, 11, 21), issuer="UBND tỉnh Bình Định"),
    assigned_by="ubnd-bd",
)


@cache
def directory() -> Directory:
    return Directory.of(read_directory())


@cache
def planned() -> list[PlannedRow]:
    return plan_rows(read_file(FIXTURES / "danh_muc_131.tsv").rows, directory(), OPTIONS)


def row(lead: str, coordinating: str = "", deadline: str = "Tháng 3/2023") -> PlannedRow:
    return plan_row(TaskRow(2, "1", "Việc", lead, coordinating, deadline, ""), directory(), OPTIONS)


def test_all_17_rows_of_the_danh_muc_plan_without_problems() -> None:
    assert [p.problem for p in planned()] == [None] * 17


@pytest.mark.parametrize("expected", EXPECTED, ids=lambda e: f"task-{e['stt']}")
def test_each_row_matches_the_oracle(expected: dict[str, Any]) -> None:
    plan = planned()[int(expected["stt"]) - 1]
    assert [c.lead_agency_id for c in plan.commands] == expected["lead_agency_ids"]
    related = [
        g["group_id"] for g in expected["coordinating_groups"] if directory().groups[g["group_id"]].kind == "related"
    ]
    for command in plan.commands:
        assert list(command.coordinating_agency_ids) == [
            a for a in expected["coordinating_agency_ids"] if a != command.lead_agency_id
        ]
        assert list(command.coordinating_group_ids) == related
        deadline = parse_deadline_or_date(command.deadline, OPTIONS.letter.issued_on)  # type: ignore[union-attr]
        assert deadline.kind == expected["deadline_expected"]["kind"]
        assert (deadline.due.isoformat() if deadline.due else None) == expected["deadline_expected"].get("due_date")
        assert command.title == expected["title"] and command.expected_product == expected["product"]


def test_a_row_with_one_lead_keeps_the_documents_code() -> None:
    assert [c.code for c in planned()[12].commands] == ["131/NQ-CP/UBND-BD#13"]


def test_several_leads_make_one_task_each_sharing_the_number_with_a_suffix() -> None:
    task8 = planned()[7].commands
    assert len(task8) == 12 and task8[0].lead_agency_id == "vp-ubnd-bd"
    assert [c.code for c in task8[:3]] == [
        "131/NQ-CP/UBND-BD#8a",
        "131/NQ-CP/UBND-BD#8b",
        "131/NQ-CP/UBND-BD#8c",
    ]
    assert len({c.idempotency_key for c in task8}) == 12
    assert task8[1].idempotency_key == "131/NQ-CP/UBND-BD#8@bd-ubnd-quy-nhon"  # stable if the directory grows


def test_a_group_of_all_expands_to_the_agencies_the_directory_holds_under_it() -> None:
    assert len(planned()[1].commands) == 20  # "Các sở, ban, ngành thuộc tỉnh"
    assert sum(len(p.commands) for p in planned()) == 66


def test_an_unmatched_name_refuses_the_row_and_says_which() -> None:
    problem = row("Sở Tư pháp", "Sở Quy hoạch - Kiến trúc").problem
    assert problem is not None and problem.code == "agency-unmatched"
    assert "Sở Quy hoạch - Kiến trúc" in problem.message_vi


def test_an_unmatched_name_without_diacritics_is_suggested_not_taken() -> None:
    problem = row("So Tu phap").problem
    assert problem is not None and "có phải Sở Tư pháp?" in problem.message_vi


def test_a_related_group_cannot_lead() -> None:
    problem = row("Các sở, ban, ngành liên quan").problem
    assert problem is not None and problem.code == "lead-is-related-group"


def test_an_empty_lead_is_refused() -> None:
    problem = row("").problem
    assert problem is not None and problem.code == "lead-missing"


def test_an_unreadable_deadline_refuses_the_row() -> None:
    problem = row("Sở Tư pháp", deadline="sớm nhất có thể").problem
    assert problem is not None and problem.code == "deadline-unreadable"


def test_an_agency_outside_the_assigners_authority_refuses_the_row() -> None:
    problem = row("Bộ Tư pháp").problem
    assert problem is not None and problem.code == "out-of-authority"


def test_cells_in_decomposed_unicode_and_other_case_match() -> None:
    plan = row(unicodedata.normalize("NFD", "VĂN PHÒNG UBND TỈNH"), "sở tài chính và các cơ quan liên quan")
    assert plan.problem is None
    [command] = plan.commands
    assert (command.lead_agency_id, command.coordinating_agency_ids, command.coordinating_group_ids) == (
        "vp-ubnd-bd",
        ("bd-stc",),
        ("g-co-quan-don-vi-lien-quan",),
    )
