"""Rules of assigning, delegating, extending and seeing tasks (pure, services/assignment/tasks)."""

from __future__ import annotations

from datetime import date
from functools import cache

import pytest
from pydantic import ValidationError

from events.deadlines import parse_deadline
from events.tasks import Classification, SourceDocument
from services.assignment.directory.tree import Directory
from services.assignment.errors import Rejected
from services.assignment.provision import read_directory
from services.assignment.tasks.commands import AssignTask, DecideExtension
from services.assignment.tasks.model import Task
from services.assignment.tasks.rules import (
    fixed_deadline_to_extend,
    later_fixed,
    may_assign,
    not_before,
    read_deadline,
    task_id_for,
    within_parent,
)

ISSUED = date(2022, 11, 21)


@cache
def directory() -> Directory:
    return Directory.of(read_directory())


def assignable(assigner: str, target: str) -> bool:
    d = directory()
    return may_assign(assigner, d.chain(target), d.agencies[assigner].can_assign_to)


def deadline(text: str) -> object:
    return parse_deadline(text, ISSUED)


def test_an_agency_assigns_to_its_subtree() -> None:
    assert assignable("ubnd-bd", "bd-sgddt")
    assert assignable("ubnd-bd", "bd-thpt-bd-ke-toan")  # any depth
    assert assignable("bd-sgddt", "bd-thpt-binh-duong")


def test_an_agency_does_not_assign_to_itself() -> None:
    assert not assignable("bd-sgddt", "bd-sgddt")


def test_an_agency_does_not_assign_to_a_sibling_or_above() -> None:
    assert not assignable("bd-sgddt", "bd-stc")
    assert not assignable("bd-sgddt", "ubnd-bd")


def test_can_assign_to_edges_reach_outside_the_subtree() -> None:
    assert assignable("ubnd-bd", "bd-cuc-thong-ke")  # a central agency in the province
    assert assignable("bd-sgddt", "bd-pgddt-phu-my")  # the professional line to the district
    assert not assignable("bd-stc", "bd-cuc-thong-ke")


def test_edges_do_not_extend_to_the_subtree_of_the_target() -> None:
    # Notes of the seed directory: "subtree plus its can_assign_to list", nothing below the list.
    assert not may_assign("ubnd-bd", ["x-unit", "bd-cuc-thong-ke", "tong-cuc-thong-ke"], ["bd-cuc-thong-ke"])


def test_a_child_deadline_may_not_be_later_than_the_parents() -> None:
    with pytest.raises(Rejected) as refused:
        within_parent(parse_deadline("Tháng 4/2023", ISSUED), parse_deadline("Tháng 3/2023", ISSUED))
    assert refused.value.code == "deadline-after-parent"
    assert "31/03/2023" in refused.value.message_vi


def test_a_child_may_be_due_the_same_day_or_earlier() -> None:
    within_parent(parse_deadline("Tháng 3/2023", ISSUED), parse_deadline("Tháng 3/2023", ISSUED))
    within_parent(parse_deadline("Tháng 1/2023", ISSUED), parse_deadline("Tháng 3/2023", ISSUED))


def test_a_child_of_a_fixed_deadline_needs_a_fixed_one() -> None:
    for child in ("Theo tiến độ Kế hoạch của UBND tỉnh", "hằng tháng"):
        with pytest.raises(Rejected):
            within_parent(parse_deadline(child, ISSUED), parse_deadline("Tháng 3/2023", ISSUED))


def test_a_parent_without_deadline_bounds_nothing() -> None:
    within_parent(parse_deadline("Quý IV năm 2024", ISSUED), parse_deadline("thường xuyên", ISSUED))


def test_a_deadline_before_its_document_is_refused() -> None:
    with pytest.raises(Rejected) as refused:
        not_before(parse_deadline("Tháng 10/2022", ISSUED), ISSUED)
    assert refused.value.code == "deadline-before-document"


def test_an_unreadable_deadline_names_the_accepted_forms() -> None:
    with pytest.raises(Rejected) as refused:
        read_deadline("31/02/2023", ISSUED)
    assert refused.value.code == "deadline-unreadable" and "Quý I năm 2023" in refused.value.message_en


def test_an_extension_moves_a_fixed_deadline_later() -> None:
    later_fixed(parse_deadline("Tháng 6/2023", ISSUED), parse_deadline("Tháng 3/2023", ISSUED))
    with pytest.raises(Rejected) as refused:
        later_fixed(parse_deadline("Tháng 2/2023", ISSUED), parse_deadline("Tháng 3/2023", ISSUED))
    assert refused.value.code == "extension-not-later"
    with pytest.raises(Rejected):
        fixed_deadline_to_extend(parse_deadline("Theo tiến độ Kế hoạch của UBND tỉnh", ISSUED))


def test_a_retry_names_the_same_task() -> None:
    assert task_id_for("ubnd-bd", "k1") == task_id_for("ubnd-bd", "k1") != task_id_for("bd-sgddt", "k1")


def _task(classification: Classification) -> Task:
    d = parse_deadline("Tháng 3/2023", ISSUED)
    source = SourceDocument(number="131/NQ-CP", issued_on=date(2022, 10, 6), issuer="Chính phủ")
    return Task(
        task_id="t-1",
        code="X#1",
        title="t",
        description="",
        expected_product="",
        source_document=source,
        assigning_agency_id="ubnd-bd",
        lead_agency_id="vp-ubnd-bd",
        coordinating_agency_ids=("bd-sgddt",),
        officer_in_charge_id=None,
        deadline=d,
        deadline_in_force=d,
        key_task=False,
        classification=classification,
        parent_task_id=None,
        withdrawn_at=None,
    )


def test_a_secret_task_is_visible_only_to_the_agencies_involved() -> None:
    secret = _task("mat")
    assert all(secret.visible_to(a) for a in ("ubnd-bd", "vp-ubnd-bd", "bd-sgddt"))
    assert not secret.visible_to("bd-stc") and not secret.visible_to(None)
    assert _task("noi-bo").visible_to(None)


def test_lead_and_coordinating_roles() -> None:
    task = _task("cong-khai")
    assert (task.role_of("vp-ubnd-bd"), task.role_of("bd-sgddt"), task.role_of("ubnd-bd")) == (
        "chu-tri",
        "phoi-hop",
        None,
    )


def _assign(**fields: object) -> AssignTask:
    body = {
        "title": "t",
        "source_document": {"number": "1/QĐ", "issued_on": "2022-10-06", "issuer": "X"},
        "lead_agency_id": "bd-sgddt",
        "deadline": "Tháng 3/2023",
        "idempotency_key": "k",
        **fields,
    }
    return AssignTask.model_validate(body)


def test_one_task_has_one_lead_that_does_not_also_coordinate() -> None:
    with pytest.raises(ValidationError):
        _assign(coordinating_agency_ids=["bd-sgddt"])


def test_the_assigner_is_the_tokens_agency() -> None:
    assert _assign().acting_as("ubnd-bd").assigning_agency_id == "ubnd-bd"
    assert _assign(assigning_agency_id="ubnd-bd").acting_as("ubnd-bd").assigning_agency_id == "ubnd-bd"
    with pytest.raises(Rejected) as refused:
        _assign(assigning_agency_id="cp").acting_as("ubnd-bd")
    assert refused.value.code == "acts-for-another-agency" and refused.value.status_code == 403


def test_a_rejected_extension_needs_a_reason() -> None:
    with pytest.raises(ValidationError):
        DecideExtension(decision="reject")
    DecideExtension(decision="approve")
