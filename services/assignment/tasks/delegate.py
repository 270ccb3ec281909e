"""Giao tiếp: an agency on a task hands all or part of it down to agencies under it.

The lead agency delegates the task (chủ trì); a coordinating agency may delegate its own part
(phối hợp), as Sở GDĐT did with task 13 of the Danh mục. Each part becomes a child task linked to the
parent: TaskDelegated on the parent, then TaskAssigned for each child, in one transaction. A child is
due no later than the parent's deadline in force, and inherits the parent's classification, so a
secret task cannot be made public by passing it down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from events.clock import VN_TZ
from events.deadlines import Deadline
from events.envelope import Actor
from events.tasks import DelegatedPart, TaskAssigned, TaskDelegated
from services.assignment.errors import conflict, forbidden, not_found
from services.assignment.tasks import adapters, parties
from services.assignment.tasks.commands import DelegateTask, DelegationPart
from services.assignment.tasks.model import Task
from services.assignment.tasks.rules import (
    command_hash,
    delegation_id_for,
    effective,
    not_before,
    read_deadline,
    task_id_for,
    within_parent,
)
from services.runtime.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Delegated:
    delegation_id: str
    parent_task_id: str
    child_task_ids: list[str]
    created: bool


async def delegate_task(task_id: str, command: DelegateTask, agency_id: str, uow: UnitOfWork) -> Delegated:
    parent = await adapters.task(uow.conn, task_id, lock=True)
    if parent is None or not parent.visible_to(agency_id):
        raise not_found("task", "nhiệm vụ", task_id, "task-not-found")
    delegation_id = delegation_id_for(task_id, agency_id, command.idempotency_key)
    digest = command_hash(command)
    if (done := await adapters.delegation(uow.conn, delegation_id)) is not None:
        if done.command_hash != digest:
            raise conflict(
                "idempotency-conflict",
                f"the key {command.idempotency_key!r} already delegated this task differently",
                f"Khóa {command.idempotency_key!r} đã dùng cho một lần giao khác",
            )
        return Delegated(delegation_id, task_id, list(done.child_task_ids), created=False)
    if parent.withdrawn_at is not None:
        raise conflict("task-withdrawn", f"task {task_id} was withdrawn", f"Nhiệm vụ {parent.code} đã bị rút")
    role = parent.role_of(agency_id)
    if role is None:
        raise forbidden(
            "not-task-party",
            f"{agency_id} is neither the lead nor a coordinating agency of {task_id}: it cannot delegate it",
            f"Chỉ cơ quan chủ trì hoặc phối hợp của nhiệm vụ {parent.code} mới được giao tiếp nhiệm vụ",
        )
    now = uow.clock.now()
    issued = command.document.issued_on if command.document else now.date()
    # The children count from the delegating letter's date, never before their parent does.
    effective_at = effective(
        command.document.issued_on if command.document else None, now, not_before=_day(parent.assigned_at)
    )
    first = await adapters.children_count(uow.conn, task_id) + 1
    children: list[tuple[str, TaskAssigned]] = []
    for n, part in enumerate(command.children, start=first):
        await parties.check(
            uow.conn,
            assigner=agency_id,
            lead=part.lead_agency_id,
            coordinating=part.coordinating_agency_ids,
            officer=part.officer_in_charge_id,
        )
        event = _child(parent, part, agency_id, n, _part_deadline(part, parent, issued), command)
        key = f"{delegation_id}/{n}"
        child_id = task_id_for(agency_id, key)
        await adapters.insert_task(uow.conn, child_id, key, event, effective_at or now, digest, delegation_id)
        children.append((child_id, event))
    child_ids = [c for c, _ in children]
    await adapters.insert_delegation(
        uow.conn,
        delegation_id,
        parent,
        agency_id,
        role,
        command.idempotency_key,
        digest,
        command.document,
        child_ids,
        uow.clock.now(),
    )
    actor = Actor(agency_id=agency_id)
    delegated = TaskDelegated(
        delegation_id=delegation_id,
        delegating_agency_id=agency_id,
        delegating_role=role,
        document=command.document,
        children=tuple(
            DelegatedPart(task_id=c, lead_agency_id=e.lead_agency_id, coordinating_agency_ids=e.coordinating_agency_ids)
            for c, e in children
        ),
    )
    await uow.emit(delegated, actor=actor, task_id=task_id, id_parts=(delegation_id,), effective_at=effective_at)
    for child_id, event in children:
        await uow.emit(event, actor=actor, task_id=child_id, id_parts=(delegation_id,), effective_at=effective_at)
    return Delegated(delegation_id, task_id, child_ids, created=True)


def _day(moment: datetime | None) -> date | None:
    return moment.astimezone(VN_TZ).date() if moment else None


def _part_deadline(part: DelegationPart, parent: Task, issued: date) -> Deadline:
    if part.deadline is None:
        return parent.deadline_in_force  # as letters 2384 and 93 pass task 13 down: its deadline holds
    deadline = read_deadline(part.deadline, issued)
    not_before(deadline, issued)
    within_parent(deadline, parent.deadline_in_force)
    return deadline


def _child(
    parent: Task, part: DelegationPart, agency_id: str, n: int, deadline: Deadline, command: DelegateTask
) -> TaskAssigned:
    return TaskAssigned(
        code=f"{parent.code}.{n}",
        title=part.title or parent.title,
        description=part.description,
        expected_product=parent.expected_product if part.expected_product is None else part.expected_product,
        source_document=parent.source_document,
        assigning_document=command.document,
        assigning_agency_id=agency_id,
        lead_agency_id=part.lead_agency_id,
        coordinating_agency_ids=part.coordinating_agency_ids,
        officer_in_charge_id=part.officer_in_charge_id,
        deadline=deadline,
        key_task=parent.key_task if part.key_task is None else part.key_task,
        classification=parent.classification,
        parent_task_id=parent.task_id,
    )
