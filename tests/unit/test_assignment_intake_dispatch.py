"""Intake commands of the assignment service (services/assignment/intake/dispatch.py) run the same handlers
as HTTP, against the in-memory fakes (tests/fakes/): a payload that is not its command is refused with what
was wrong, the command id is the idempotency key when the payload has none, and a handler's refusal is the
agency's answer. tests/integration/test_intake*.py prove the same through Kafka."""

from __future__ import annotations

from typing import Any

import pytest

from events.intake_verdict import Command
from services.assignment.intake import dispatch
from services.runtime.refusals import Refused
from tests.unit.test_assignment_command_refusals import EDUCATION, FINANCE, PROVINCE, RESOLUTION
from tests.unit.test_assignment_command_refusals import world as world

ASSIGN = {
    "title": "Triển khai thanh toán học phí trực tuyến",
    "source_document": RESOLUTION.model_dump(mode="json"),
    "lead_agency_id": EDUCATION,
    "deadline": "31/12/2022",
}


def command(command_type: str, payload: dict[str, Any], command_id: str = "c-1", agency: str = PROVINCE) -> Command:
    return Command(agency, "key-1", command_type, command_id, payload)


async def test_the_command_id_is_the_idempotency_key_of_a_payload_without_one(world: Any) -> None:
    tasks, uow, outbox = world
    first = await dispatch.run(command("AssignTask", ASSIGN), PROVINCE, uow)
    again = await dispatch.run(command("AssignTask", ASSIGN), PROVINCE, uow)
    other = await dispatch.run(command("AssignTask", ASSIGN, "c-2"), PROVINCE, uow)
    assert first == again != other and len(tasks.tasks) == 2 and len(outbox.of_type("TaskAssigned")) == 2


@pytest.mark.parametrize(
    ("command_type", "payload", "named"),
    [
        ("AssignTask", {**ASSIGN, "lead_agency_id": ""}, "lead_agency_id"),
        ("AssignTask", {**ASSIGN, "deadline": None}, "deadline"),
        ("DelegateTask", {"children": [{"lead_agency_id": "truong-a"}]}, "task_id"),
        ("DecideExtension", {"task_id": "t-1", "request_id": "x-1", "decision": "maybe"}, "decision"),
        ("WithdrawTask", {"task_id": "t-1", "reason": "Thôi", "extra": 1}, "extra"),
    ],
)
async def test_a_payload_that_is_not_its_command_is_refused_naming_what_was_wrong(
    world: Any, command_type: str, payload: dict[str, Any], named: str
) -> None:
    tasks, uow, outbox = world
    with pytest.raises(Refused) as caught:
        await dispatch.run(command(command_type, payload), PROVINCE, uow)
    assert (caught.value.status_code, caught.value.code) == (422, "invalid-command")
    assert named in caught.value.message_en and named in caught.value.message_vi
    assert tasks.tasks == {} and outbox.events == {}


async def test_a_handlers_refusal_is_the_intake_answer(world: Any) -> None:
    tasks, uow, _outbox = world
    task_id = await dispatch.run(command("AssignTask", ASSIGN), PROVINCE, uow)
    with pytest.raises(Refused) as caught:
        await dispatch.run(command("WithdrawTask", {"task_id": task_id, "reason": "Thôi"}, "c-2"), FINANCE, uow)
    assert (caught.value.status_code, caught.value.code) == (403, "not-assigner")
    assert tasks.tasks[task_id].withdrawn_at is None


async def test_every_intake_command_type_reaches_its_handler(world: Any) -> None:
    tasks, uow, outbox = world
    task_id = await dispatch.run(command("AssignTask", ASSIGN), PROVINCE, uow)
    delegation = {"task_id": task_id, "children": [{"lead_agency_id": "truong-a"}]}
    await dispatch.run(command("DelegateTask", delegation, "c-2", EDUCATION), EDUCATION, uow)
    asked = {"task_id": task_id, "proposed_due": "31/01/2023", "reason": "Chờ"}
    request_id = await dispatch.run(command("RequestExtension", asked, "c-3", EDUCATION), EDUCATION, uow)
    decision = {"task_id": task_id, "request_id": request_id, "decision": "approve"}
    assert await dispatch.run(command("DecideExtension", decision, "c-4"), PROVINCE, uow) == "approved"
    assert (
        await dispatch.run(command("WithdrawTask", {"task_id": task_id, "reason": "Thôi"}, "c-5"), PROVINCE, uow)
        == task_id
    )
    assert set(dispatch.COMMANDS) == {
        "AssignTask",
        "DelegateTask",
        "RequestExtension",
        "DecideExtension",
        "WithdrawTask",
    }
    assert [e.event_type for e in outbox.events.values()] == [
        "TaskAssigned",
        "TaskDelegated",
        "TaskAssigned",
        "DeadlineExtensionRequested",
        "DeadlineExtended",
        "TaskWithdrawn",
        "TaskWithdrawn",
    ]
    assert len(tasks.tasks) == 2
