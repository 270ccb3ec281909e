"""Giao nhiệm vụ: the handler behind POST /v1/tasks, the intake AssignTask and the importer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from events.deadlines import Deadline
from events.envelope import Actor
from events.tasks import TaskAssigned
from services.assignment.errors import conflict
from services.assignment.tasks import adapters, parties
from services.assignment.tasks.commands import AssignTask
from services.assignment.tasks.rules import command_hash, effective, not_before, read_deadline, task_id_for
from services.runtime.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Assigned:
    task_id: str
    created: bool  # False: the same command was already done (a retry)


async def assign_task(command: AssignTask, uow: UnitOfWork) -> Assigned:
    """``command.assigning_agency_id`` is the authenticated agency (see ``AssignTask.acting_as``)."""
    assigner = command.assigning_agency_id
    assert assigner is not None, "bind the command to the authenticated agency first"
    task_id = task_id_for(assigner, command.idempotency_key)
    digest = command_hash(command)
    if (known := await adapters.command_hash_of(uow.conn, task_id)) is not None:
        return _retry(task_id, known, digest, command.idempotency_key)
    await parties.check(
        uow.conn,
        assigner=assigner,
        lead=command.lead_agency_id,
        coordinating=command.coordinating_agency_ids,
        officer=command.officer_in_charge_id,
        groups=command.coordinating_group_ids,
    )
    event = task_assigned(command, _deadline(command))
    key = command.idempotency_key
    now = uow.clock.now()
    effective_at = effective(_assigned_on(command), now, not_before=command.source_document.issued_on)
    if not await adapters.insert_task(uow.conn, task_id, key, event, effective_at or now, digest):
        # A concurrent twin won the insert: it is the same task, or a conflict, exactly as above.
        return _retry(task_id, await adapters.command_hash_of(uow.conn, task_id), digest, key)
    await uow.emit(event, actor=Actor(agency_id=assigner), task_id=task_id, id_parts=(key,), effective_at=effective_at)
    return Assigned(task_id, created=True)


def _assigned_on(command: AssignTask) -> date | None:
    """The day the task counts from: as the command says, else its assigning letter's date (a plan loaded
    months after it was issued counts from its letter), else the day it is recorded. The source document
    alone dates nothing: an agency assigns today under a resolution of last year."""
    if command.assigned_on is not None:
        return command.assigned_on
    return command.assigning_document.issued_on if command.assigning_document else None


def _retry(task_id: str, known: str | None, digest: str, key: str) -> Assigned:
    if known not in (None, digest):
        raise conflict(
            "idempotency-conflict",
            f"the idempotency key {key!r} already assigned task {task_id} with different content",
            f"Khóa {key!r} đã dùng để giao nhiệm vụ {task_id} với nội dung khác",
        )
    return Assigned(task_id, created=False)


def _deadline(command: AssignTask) -> Deadline:
    # The deadline is read as of the letter that passes the task on when there is one (its date fills
    # a missing year), and cannot fall before either document.
    issued = command.source_document.issued_on
    if command.assigning_document is not None:
        issued = max(issued, command.assigning_document.issued_on)
    deadline = read_deadline(command.deadline, issued)
    not_before(deadline, issued)
    return deadline


def task_assigned(command: AssignTask, deadline: Deadline) -> TaskAssigned:
    assert command.assigning_agency_id is not None
    return TaskAssigned(
        code=command.code or f"{command.source_document.number}#{command.idempotency_key}",
        title=command.title,
        description=command.description,
        expected_product=command.expected_product,
        source_document=command.source_document,
        assigning_agency_id=command.assigning_agency_id,
        lead_agency_id=command.lead_agency_id,
        coordinating_agency_ids=command.coordinating_agency_ids,
        officer_in_charge_id=command.officer_in_charge_id,
        deadline=deadline,
        key_task=command.key_task,
        classification=command.classification,
        coordinating_group_ids=command.coordinating_group_ids,
        assigning_document=command.assigning_document,
    )
