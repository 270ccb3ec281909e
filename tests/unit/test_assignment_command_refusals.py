"""Every task command handler of the assignment service (services/assignment/tasks/assign.py, delegate.py,
extend.py, withdraw.py) against in-memory fakes of its repositories and outbox (tests/fakes/): each refusal,
with its status and code, stores nothing and emits nothing; each accepted command emits its events; a retry
under the same key answers the first outcome. Milliseconds, no broker or database;
tests/integration/test_assignment_*.py prove the same through the real stack."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from events.clock import VN_TZ
from events.tasks import SourceDocument
from services.assignment.directory.model import AgencyRecord, GroupRecord, PersonRecord
from services.assignment.tasks.assign import assign_task
from services.assignment.tasks.commands import (
    AssignTask,
    DecideExtension,
    DelegateTask,
    DelegationPart,
    RequestExtension,
    WithdrawTask,
)
from services.assignment.tasks.delegate import delegate_task
from services.assignment.tasks.extend import decide_extension, request_extension
from services.assignment.tasks.withdraw import withdraw_task
from services.runtime.refusals import Refused
from services.runtime.unit_of_work import UnitOfWork
from tests.fakes import assignment as fake_assignment
from tests.fakes.runtime import InMemoryOutbox, fake_unit_of_work

NOW = datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ)
PROVINCE, EDUCATION, FINANCE, SCHOOL, FINANCE_UNIT, POLICE, STRANGER = (
    "ubnd-tinh",
    "so-gddt",
    "so-tc",
    "truong-a",
    "phong-tc",
    "ca-tinh",
    "so-xd",
)
TEAM = "to-toan"  # a unit of the school
RESOLUTION = SourceDocument(number="131/NQ-CP", issued_on=date(2022, 10, 6), issuer="Chính phủ")

World = tuple[fake_assignment.InMemoryTasks, UnitOfWork, InMemoryOutbox]


def _agency(agency_id: str, parent: str | None, **fields: Any) -> AgencyRecord:
    return AgencyRecord(agency_id=agency_id, name=f"Cơ quan {agency_id}", level="so-nganh", parent_id=parent, **fields)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    tasks, directory = fake_assignment.install_for_commands(monkeypatch)
    directory.add(
        _agency(PROVINCE, None, can_assign_to=(POLICE,)),
        _agency(POLICE, None),  # a central agency located in the province: not under it
        _agency(EDUCATION, PROVINCE),
        _agency(FINANCE, PROVINCE),
        _agency(STRANGER, PROVINCE),
        _agency(SCHOOL, EDUCATION),
        _agency(TEAM, SCHOOL),
        _agency(FINANCE_UNIT, FINANCE),
        _agency("so-cu", PROVINCE, active=False, successor_id=EDUCATION),
        PersonRecord(person_id="gv-a", agency_id=SCHOOL, full_name="Nguyễn Văn A", role="officer"),
        PersonRecord(person_id="cb-tc", agency_id=FINANCE, full_name="Trần Thị B", role="officer"),
        PersonRecord(person_id="cb-nghi", agency_id=EDUCATION, full_name="Lê C", role="officer", active=False),
        GroupRecord(group_id="cac-so", name="Các sở, ngành liên quan", kind="related"),
    )
    uow, outbox = fake_unit_of_work(monkeypatch, "assignment", NOW)
    return tasks, uow, outbox


def assigning(key: str = "k-1", assigner: str = PROVINCE, **fields: Any) -> AssignTask:
    """The command as the route binds it to the token's agency, ``assigner``."""
    command = {
        "title": "Triển khai thanh toán học phí trực tuyến",
        "source_document": RESOLUTION,
        "lead_agency_id": EDUCATION,
        "coordinating_agency_ids": (FINANCE,),
        "deadline": "31/12/2022",
        "idempotency_key": key,
        **fields,
    }
    return AssignTask.model_validate(command).acting_as(assigner)


async def a_task(uow: UnitOfWork, key: str = "k-1", assigner: str = PROVINCE, **fields: Any) -> str:
    return (await assign_task(assigning(key, assigner, **fields), uow)).task_id


async def refused(work: Any) -> Refused:
    with pytest.raises(Refused) as caught:
        await work
    assert caught.value.message_en and caught.value.message_vi  # both languages, always
    return caught.value


def types(outbox: InMemoryOutbox) -> list[str]:
    return [e.event_type for e in outbox.events.values()]


def part(lead: str, **fields: Any) -> DelegationPart:
    return DelegationPart.model_validate({"lead_agency_id": lead, **fields})


# --- Giao nhiệm vụ (assign_task) ---------------------------------------------------------------


async def test_an_accepted_assignment_stores_the_task_and_emits_one_task_assigned(world: World) -> None:
    tasks, uow, outbox = world
    task_id = await a_task(uow)
    assert types(outbox) == ["TaskAssigned"]
    assert tasks.tasks[task_id].lead_agency_id == EDUCATION and tasks.tasks[task_id].deadline.due == date(2022, 12, 31)


@pytest.mark.parametrize(
    ("assigner", "fields", "status", "code"),
    [
        (EDUCATION, {"lead_agency_id": FINANCE, "coordinating_agency_ids": ()}, 403, "out-of-authority"),
        (EDUCATION, {"lead_agency_id": SCHOOL, "coordinating_agency_ids": (FINANCE,)}, 403, "out-of-authority"),
        (EDUCATION, {"lead_agency_id": EDUCATION, "coordinating_agency_ids": ()}, 403, "out-of-authority"),
        (PROVINCE, {"lead_agency_id": "so-khong-co"}, 422, "unknown-agency"),
        (PROVINCE, {"lead_agency_id": "so-cu"}, 422, "agency-inactive"),
        (PROVINCE, {"coordinating_group_ids": ("nhom-khong-co",)}, 422, "unknown-group"),
        (PROVINCE, {"officer_in_charge_id": "khong-co"}, 422, "unknown-person"),
        (PROVINCE, {"officer_in_charge_id": "cb-nghi"}, 422, "unknown-person"),
        (PROVINCE, {"officer_in_charge_id": "cb-tc"}, 422, "officer-not-in-lead-agency"),
        (PROVINCE, {"deadline": "khi nào xong"}, 422, "deadline-unreadable"),
        (PROVINCE, {"deadline": "01/10/2022"}, 422, "deadline-before-document"),
    ],
)
async def test_an_assignment_the_directory_or_its_deadline_does_not_allow_is_refused(
    world: World, assigner: str, fields: dict[str, Any], status: int, code: str
) -> None:
    tasks, uow, outbox = world
    refusal = await refused(a_task(uow, assigner=assigner, **fields))
    assert (refusal.status_code, refusal.code) == (status, code)
    assert tasks.tasks == {} and outbox.events == {}


async def test_an_agency_assigns_to_its_subtree_and_along_its_can_assign_to_edges(world: World) -> None:
    tasks, uow, _outbox = world
    down = await a_task(uow, "k-1", assigner=EDUCATION, lead_agency_id=SCHOOL, coordinating_agency_ids=())
    edge = await a_task(uow, "k-2", lead_agency_id=POLICE, coordinating_agency_ids=(EDUCATION,))
    assert {tasks.tasks[down].lead_agency_id, tasks.tasks[edge].lead_agency_id} == {SCHOOL, POLICE}


async def test_the_officer_in_charge_may_work_in_a_unit_of_the_lead_agency(world: World) -> None:
    tasks, uow, _outbox = world
    task_id = await a_task(uow, officer_in_charge_id="gv-a")
    assert tasks.tasks[task_id].officer_in_charge_id == "gv-a"


def test_an_agency_never_assigns_in_another_agencys_name() -> None:
    with pytest.raises(Refused) as caught:
        assigning(assigner=FINANCE).acting_as(EDUCATION)
    assert (caught.value.status_code, caught.value.code) == (403, "acts-for-another-agency")


async def test_an_assignment_dated_in_the_future_is_refused(world: World) -> None:
    tasks, uow, outbox = world
    refusal = await refused(a_task(uow, assigned_on=date(2022, 11, 30)))
    assert refusal.status_code == 422 and tasks.tasks == {} and outbox.events == {}


async def test_the_same_key_and_content_again_is_the_same_task_and_emits_nothing_new(world: World) -> None:
    tasks, uow, outbox = world
    first = await assign_task(assigning("k-1"), uow)
    again = await assign_task(assigning("k-1"), uow)
    assert (first.task_id, first.created) == (again.task_id, True) and again.created is False
    assert types(outbox) == ["TaskAssigned"] and len(tasks.tasks) == 1


async def test_the_same_key_with_other_content_is_a_conflict(world: World) -> None:
    tasks, uow, outbox = world
    await a_task(uow, "k-1")
    refusal = await refused(assign_task(assigning("k-1", title="Một việc khác"), uow))
    assert (refusal.status_code, refusal.code) == (409, "idempotency-conflict")
    assert len(tasks.tasks) == 1 and types(outbox) == ["TaskAssigned"]


async def test_the_same_key_of_two_assigners_names_two_tasks(world: World) -> None:
    tasks, uow, _outbox = world
    await a_task(uow, "k-1")
    await a_task(uow, "k-1", assigner=EDUCATION, lead_agency_id=SCHOOL, coordinating_agency_ids=())
    assert len(tasks.tasks) == 2


# --- Giao tiếp (delegate_task) -------------------------------------------------------------------


def delegating(*parts: DelegationPart, key: str = "d-1") -> DelegateTask:
    return DelegateTask(children=parts or (part(SCHOOL),), idempotency_key=key)


async def test_the_lead_delegates_into_child_tasks_that_inherit_the_parents_deadline_in_force(world: World) -> None:
    tasks, uow, outbox = world
    parent = await a_task(uow)
    done = await delegate_task(parent, delegating(part(SCHOOL), part(SCHOOL, title="Phần 2")), EDUCATION, uow)
    children = [tasks.tasks[c] for c in done.child_task_ids]
    assert [c.code for c in children] == [f"{tasks.tasks[parent].code}.1", f"{tasks.tasks[parent].code}.2"]
    assert {c.deadline for c in children} == {tasks.tasks[parent].deadline_in_force}
    assert {(c.parent_task_id, c.assigning_agency_id) for c in children} == {(parent, EDUCATION)}
    assert types(outbox) == ["TaskAssigned", "TaskDelegated", "TaskAssigned", "TaskAssigned"]


async def test_a_coordinating_agency_delegates_its_own_part(world: World) -> None:
    _tasks, uow, outbox = world
    parent = await a_task(uow)
    await delegate_task(parent, delegating(part(FINANCE_UNIT)), FINANCE, uow)
    delegated = next(e for e in outbox.events.values() if e.event_type == "TaskDelegated")
    assert delegated.payload.model_dump()["delegating_role"] == "phoi-hop"


@pytest.mark.parametrize("agency", [PROVINCE, STRANGER])
async def test_only_the_lead_or_a_coordinating_agency_delegates(world: World, agency: str) -> None:
    tasks, uow, outbox = world
    parent = await a_task(uow)
    refusal = await refused(delegate_task(parent, delegating(part(SCHOOL)), agency, uow))
    assert (refusal.status_code, refusal.code) == (403, "not-task-party")
    assert len(tasks.tasks) == 1 and types(outbox) == ["TaskAssigned"]


async def test_a_part_cannot_go_outside_the_delegating_agencys_authority(world: World) -> None:
    tasks, uow, outbox = world
    parent = await a_task(uow)
    refusal = await refused(delegate_task(parent, delegating(part(FINANCE_UNIT)), EDUCATION, uow))
    assert (refusal.status_code, refusal.code) == (403, "out-of-authority")
    assert len(tasks.tasks) == 1 and types(outbox) == ["TaskAssigned"]


@pytest.mark.parametrize("deadline", ["15/01/2023", "Hằng tháng", "Thường xuyên"])
async def test_a_childs_deadline_is_never_later_than_its_parents(world: World, deadline: str) -> None:
    tasks, uow, outbox = world
    parent = await a_task(uow)
    refusal = await refused(delegate_task(parent, delegating(part(SCHOOL, deadline=deadline)), EDUCATION, uow))
    assert (refusal.status_code, refusal.code) == (422, "deadline-after-parent")
    assert len(tasks.tasks) == 1 and types(outbox) == ["TaskAssigned"]


async def test_a_childs_deadline_is_measured_against_the_parents_extended_deadline(world: World) -> None:
    tasks, uow, _outbox = world
    parent = await a_task(uow)
    await request_extension(
        parent, RequestExtension(proposed_due="31/01/2023", reason="Chờ", idempotency_key="x"), EDUCATION, uow
    )
    request_id = next(iter(tasks.requests))
    await decide_extension(parent, request_id, DecideExtension(decision="approve"), PROVINCE, uow)
    done = await delegate_task(parent, delegating(part(SCHOOL, deadline="15/01/2023")), EDUCATION, uow)
    assert tasks.tasks[done.child_task_ids[0]].deadline.due == date(2023, 1, 15)


async def test_a_secret_task_stays_secret_down_the_chain(world: World) -> None:
    tasks, uow, outbox = world
    parent = await a_task(uow, classification="mat")
    child = (await delegate_task(parent, delegating(), EDUCATION, uow)).child_task_ids[0]
    grandchild = (await delegate_task(child, delegating(part(TEAM)), SCHOOL, uow)).child_task_ids[0]
    assert {tasks.tasks[t].classification for t in (child, grandchild)} == {"mat"}
    assert {e.payload.model_dump()["classification"] for e in outbox.of_type("TaskAssigned")} == {"mat"}


async def test_a_secret_task_answers_an_agency_not_involved_as_one_that_does_not_exist(world: World) -> None:
    tasks, uow, outbox = world
    parent = await a_task(uow, classification="mat")
    for work in (
        delegate_task(parent, delegating(), STRANGER, uow),
        request_extension(
            parent, RequestExtension(proposed_due="31/01/2023", reason="r", idempotency_key="x"), STRANGER, uow
        ),
        decide_extension(parent, "x-none", DecideExtension(decision="approve"), STRANGER, uow),
        withdraw_task(parent, WithdrawTask(reason="Thôi"), STRANGER, uow),
    ):
        refusal = await refused(work)
        assert (refusal.status_code, refusal.code) == (404, "task-not-found")
        shown = refusal.message_en + refusal.message_vi
        assert EDUCATION not in shown and PROVINCE not in shown and "học phí" not in shown  # names nothing
    assert len(tasks.tasks) == 1 and types(outbox) == ["TaskAssigned"]


@pytest.mark.parametrize("agency", [EDUCATION, PROVINCE])
async def test_every_command_on_an_unknown_task_is_not_found(world: World, agency: str) -> None:
    _tasks, uow, outbox = world
    for work in (
        delegate_task("t-none", delegating(), agency, uow),
        request_extension(
            "t-none", RequestExtension(proposed_due="31/01/2023", reason="r", idempotency_key="x"), agency, uow
        ),
        decide_extension("t-none", "x-none", DecideExtension(decision="approve"), agency, uow),
        withdraw_task("t-none", WithdrawTask(reason="Thôi"), agency, uow),
    ):
        refusal = await refused(work)
        assert (refusal.status_code, refusal.code) == (404, "task-not-found")
    assert outbox.events == {}


async def test_a_withdrawn_task_is_not_delegated(world: World) -> None:
    tasks, uow, outbox = world
    parent = await a_task(uow)
    await withdraw_task(parent, WithdrawTask(reason="Thôi"), PROVINCE, uow)
    refusal = await refused(delegate_task(parent, delegating(), EDUCATION, uow))
    assert (refusal.status_code, refusal.code) == (409, "task-withdrawn")
    assert len(tasks.tasks) == 1 and types(outbox) == ["TaskAssigned", "TaskWithdrawn"]


async def test_the_same_delegation_again_answers_the_same_children_and_other_content_is_a_conflict(
    world: World,
) -> None:
    tasks, uow, outbox = world
    parent = await a_task(uow)
    first = await delegate_task(parent, delegating(key="d-1"), EDUCATION, uow)
    again = await delegate_task(parent, delegating(key="d-1"), EDUCATION, uow)
    assert again.child_task_ids == first.child_task_ids and (first.created, again.created) == (True, False)
    refusal = await refused(delegate_task(parent, delegating(part(SCHOOL, title="Khác"), key="d-1"), EDUCATION, uow))
    assert (refusal.status_code, refusal.code) == (409, "idempotency-conflict")
    assert len(tasks.tasks) == 2 and types(outbox) == ["TaskAssigned", "TaskDelegated", "TaskAssigned"]


# --- Gia hạn (request_extension, decide_extension) -------------------------------------------------


def asking(due: str = "31/01/2023", key: str = "x-1", reason: str = "Chờ kinh phí") -> RequestExtension:
    return RequestExtension(proposed_due=due, reason=reason, idempotency_key=key)


@pytest.mark.parametrize("agency", [FINANCE, PROVINCE])
async def test_only_the_lead_agency_asks_for_an_extension(world: World, agency: str) -> None:
    tasks, uow, outbox = world
    task_id = await a_task(uow)
    refusal = await refused(request_extension(task_id, asking(), agency, uow))
    assert (refusal.status_code, refusal.code) == (403, "not-lead")
    assert tasks.requests == {} and types(outbox) == ["TaskAssigned"]


@pytest.mark.parametrize(
    ("deadline", "due", "code"),
    [
        ("Hằng tháng", "31/01/2023", "extension-needs-fixed-deadline"),
        ("Thường xuyên", "31/01/2023", "extension-needs-fixed-deadline"),
        ("31/12/2022", "Hằng tháng", "extension-needs-date"),
        ("31/12/2022", "30/12/2022", "extension-not-later"),
        ("31/12/2022", "31/12/2022", "extension-not-later"),
        ("31/12/2022", "một ngày nào đó", "deadline-unreadable"),
    ],
)
async def test_an_extension_moves_a_fixed_deadline_later_to_a_fixed_date(
    world: World, deadline: str, due: str, code: str
) -> None:
    tasks, uow, outbox = world
    task_id = await a_task(uow, deadline=deadline)
    refusal = await refused(request_extension(task_id, asking(due), EDUCATION, uow))
    assert (refusal.status_code, refusal.code) == (422, code)
    assert tasks.requests == {} and types(outbox) == ["TaskAssigned"]


async def test_one_request_at_a_time_waits_for_a_decision(world: World) -> None:
    tasks, uow, outbox = world
    task_id = await a_task(uow)
    await request_extension(task_id, asking(key="x-1"), EDUCATION, uow)
    refusal = await refused(request_extension(task_id, asking("15/02/2023", key="x-2"), EDUCATION, uow))
    assert (refusal.status_code, refusal.code) == (409, "extension-pending")
    assert len(tasks.requests) == 1 and types(outbox) == ["TaskAssigned", "DeadlineExtensionRequested"]


async def test_a_retried_request_answers_the_first_and_other_content_under_its_key_is_a_conflict(
    world: World,
) -> None:
    tasks, uow, outbox = world
    task_id = await a_task(uow)
    first = await request_extension(task_id, asking(), EDUCATION, uow)
    again = await request_extension(task_id, asking(), EDUCATION, uow)
    assert (again.request_id, again.status, again.created) == (first.request_id, "pending", False)
    refusal = await refused(request_extension(task_id, asking("15/02/2023"), EDUCATION, uow))
    assert (refusal.status_code, refusal.code) == (409, "idempotency-conflict")
    assert len(tasks.requests) == 1 and types(outbox) == ["TaskAssigned", "DeadlineExtensionRequested"]


async def test_no_extension_is_asked_or_decided_on_a_withdrawn_task(world: World) -> None:
    tasks, uow, outbox = world
    task_id = await a_task(uow)
    request_id = (await request_extension(task_id, asking(), EDUCATION, uow)).request_id
    await withdraw_task(task_id, WithdrawTask(reason="Thôi"), PROVINCE, uow)
    for work in (
        request_extension(task_id, asking(key="x-2"), EDUCATION, uow),
        decide_extension(task_id, request_id, DecideExtension(decision="approve"), PROVINCE, uow),
    ):
        refusal = await refused(work)
        assert (refusal.status_code, refusal.code) == (409, "task-withdrawn")
    assert types(outbox) == ["TaskAssigned", "DeadlineExtensionRequested", "TaskWithdrawn"]
    assert tasks.requests[request_id].status == "pending" and tasks.tasks[task_id].deadline_in_force.due == date(
        2022, 12, 31
    )


@pytest.mark.parametrize("agency", [EDUCATION, FINANCE])
async def test_only_the_assigning_agency_decides_an_extension(world: World, agency: str) -> None:
    tasks, uow, outbox = world
    task_id = await a_task(uow)
    request_id = (await request_extension(task_id, asking(), EDUCATION, uow)).request_id
    refusal = await refused(decide_extension(task_id, request_id, DecideExtension(decision="approve"), agency, uow))
    assert (refusal.status_code, refusal.code) == (403, "not-assigner")
    assert tasks.requests[request_id].status == "pending" and "DeadlineExtended" not in types(outbox)


async def test_a_request_is_decided_only_on_its_own_task(world: World) -> None:
    tasks, uow, _outbox = world
    one, other = await a_task(uow, "k-1"), await a_task(uow, "k-2")
    request_id = (await request_extension(one, asking(), EDUCATION, uow)).request_id
    refusal = await refused(decide_extension(other, request_id, DecideExtension(decision="approve"), PROVINCE, uow))
    assert (refusal.status_code, refusal.code) == (404, "extension-not-found")
    assert tasks.requests[request_id].status == "pending"


async def test_an_approval_moves_the_deadline_in_force_and_keeps_the_original(world: World) -> None:
    tasks, uow, outbox = world
    task_id = await a_task(uow)
    request_id = (await request_extension(task_id, asking(), EDUCATION, uow)).request_id
    decided = await decide_extension(task_id, request_id, DecideExtension(decision="approve"), PROVINCE, uow)
    assert decided.status == "approved" and tasks.tasks[task_id].deadline_in_force.due == date(2023, 1, 31)
    assert tasks.tasks[task_id].deadline.due == date(2022, 12, 31)
    extended = next(e for e in outbox.events.values() if e.event_type == "DeadlineExtended").payload.model_dump()
    assert (extended["previous_due"], extended["due"], extended["original_due"]) == (
        date(2022, 12, 31),
        date(2023, 1, 31),
        date(2022, 12, 31),
    )


async def test_a_decision_again_answers_the_first_and_the_other_decision_is_a_conflict(world: World) -> None:
    tasks, uow, outbox = world
    task_id = await a_task(uow)
    request_id = (await request_extension(task_id, asking(), EDUCATION, uow)).request_id
    reject = DecideExtension(decision="reject", reason="Không có căn cứ")
    await decide_extension(task_id, request_id, reject, PROVINCE, uow)
    again = await decide_extension(task_id, request_id, reject, PROVINCE, uow)
    assert (again.status, again.created) == ("rejected", False)
    refusal = await refused(decide_extension(task_id, request_id, DecideExtension(decision="approve"), PROVINCE, uow))
    assert (refusal.status_code, refusal.code) == (409, "extension-already-decided")
    assert tasks.tasks[task_id].deadline_in_force.due == date(2022, 12, 31)
    assert types(outbox).count("DeadlineExtensionRejected") == 1 and "DeadlineExtended" not in types(outbox)


async def test_a_rejection_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="reason"):
        DecideExtension(decision="reject", reason=" ")


@pytest.mark.parametrize(
    ("due", "code"), [("15/02/2023", "deadline-after-parent"), ("20/12/2022", "extension-not-later")]
)
async def test_an_approved_childs_deadline_stays_within_its_parent_and_later_than_before(
    world: World, due: str, code: str
) -> None:
    tasks, uow, _outbox = world
    parent = await a_task(uow, deadline="31/01/2023")
    child = (
        await delegate_task(parent, delegating(part(SCHOOL, deadline="31/12/2022")), EDUCATION, uow)
    ).child_task_ids[0]
    request_id = (await request_extension(child, asking("15/01/2023"), SCHOOL, uow)).request_id
    refusal = await refused(
        decide_extension(child, request_id, DecideExtension(decision="approve", due=due), EDUCATION, uow)
    )
    assert (refusal.status_code, refusal.code) == (422, code)
    assert (
        tasks.tasks[child].deadline_in_force.due == date(2022, 12, 31)
        and tasks.requests[request_id].status == "pending"
    )


# --- Rút nhiệm vụ (withdraw_task) ------------------------------------------------------------------


@pytest.mark.parametrize("agency", [EDUCATION, FINANCE])
async def test_only_the_assigning_agency_withdraws_a_task(world: World, agency: str) -> None:
    tasks, uow, outbox = world
    task_id = await a_task(uow)
    refusal = await refused(withdraw_task(task_id, WithdrawTask(reason="Thôi"), agency, uow))
    assert (refusal.status_code, refusal.code) == (403, "not-assigner")
    assert tasks.tasks[task_id].withdrawn_at is None and types(outbox) == ["TaskAssigned"]


async def test_a_withdrawal_takes_every_open_descendant_with_it_once(world: World) -> None:
    tasks, uow, outbox = world
    parent = await a_task(uow)
    child = (await delegate_task(parent, delegating(), EDUCATION, uow)).child_task_ids[0]
    grandchild = (await delegate_task(child, delegating(part(TEAM)), SCHOOL, uow)).child_task_ids[0]
    other = (await delegate_task(parent, delegating(part(FINANCE_UNIT), key="d-2"), FINANCE, uow)).child_task_ids[0]
    await withdraw_task(other, WithdrawTask(reason="Không cần"), FINANCE, uow)  # already withdrawn: not again
    withdrawn = await withdraw_task(parent, WithdrawTask(reason="Thôi"), PROVINCE, uow)
    assert withdrawn.withdrawn_task_ids == [parent, child, grandchild]
    assert all(tasks.tasks[t].withdrawn_at == NOW for t in (parent, child, grandchild, other))
    cascaded = {e.task_id: e.payload.model_dump()["cascaded_from_task_id"] for e in outbox.of_type("TaskWithdrawn")}
    assert cascaded == {other: None, parent: None, child: parent, grandchild: parent}


async def test_withdrawing_twice_changes_nothing(world: World) -> None:
    _tasks, uow, outbox = world
    task_id = await a_task(uow)
    await withdraw_task(task_id, WithdrawTask(reason="Thôi"), PROVINCE, uow)
    again = await withdraw_task(task_id, WithdrawTask(reason="Thôi"), PROVINCE, uow)
    assert again.withdrawn_task_ids == [] and types(outbox) == ["TaskAssigned", "TaskWithdrawn"]
