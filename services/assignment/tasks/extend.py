"""Gia hạn: the lead agency asks for a later deadline; only the assigning agency decides.

The deadline in force changes only on approval (DeadlineExtended); the original deadline is kept, so
reports can still tell it. A delegated task cannot be extended past its parent's deadline in force.
"""

from __future__ import annotations

from dataclasses import dataclass

from events.clock import VN_TZ
from events.envelope import Actor
from events.tasks import DeadlineExtended, DeadlineExtensionRejected, DeadlineExtensionRequested
from services.assignment.errors import conflict, forbidden, not_found
from services.assignment.tasks import adapters
from services.assignment.tasks import extension_store as store
from services.assignment.tasks.commands import DecideExtension, RequestExtension
from services.assignment.tasks.model import Task
from services.assignment.tasks.rules import (
    effective,
    fixed_deadline_to_extend,
    later_fixed,
    read_deadline,
    request_id_for,
    within_parent,
)
from services.runtime.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class ExtensionOutcome:
    request_id: str
    task_id: str
    status: str  # pending, approved, rejected
    created: bool  # False: a retry of what was already done


async def open_task(uow: UnitOfWork, task_id: str, agency_id: str) -> Task:
    """The task, locked, if the agency may see it (a secret task is 'not found' to the others)."""
    task = await adapters.task(uow.conn, task_id, lock=True)
    if task is None or not task.visible_to(agency_id):
        raise not_found("task", "nhiệm vụ", task_id, "task-not-found")
    return task


def _not_withdrawn(task: Task) -> None:
    if task.withdrawn_at is not None:
        raise conflict("task-withdrawn", f"task {task.task_id} was withdrawn", f"Nhiệm vụ {task.code} đã bị rút")


async def request_extension(
    task_id: str, command: RequestExtension, agency_id: str, uow: UnitOfWork
) -> ExtensionOutcome:
    task = await open_task(uow, task_id, agency_id)
    request_id = request_id_for(task_id, agency_id, command.idempotency_key)
    if (known := await store.get(uow.conn, request_id)) is not None:
        # A retry answers the first outcome; the same key with another request changes nothing either,
        # and is told so rather than answered as if it had been taken.
        asked = (known.reason, known.proposed_deadline.text)
        if asked != (command.reason, command.proposed_due):
            key = command.idempotency_key
            raise conflict(
                "idempotency-conflict",
                f"the key {key!r} already asked for an extension of this task differently",
                f"Khóa {key!r} đã dùng cho một đề nghị gia hạn khác",
            )
        return ExtensionOutcome(request_id, task_id, known.status, created=False)
    _not_withdrawn(task)
    if agency_id != task.lead_agency_id:
        raise forbidden(
            "not-lead",
            f"only the lead agency {task.lead_agency_id} may ask for an extension",
            "Chỉ cơ quan chủ trì được đề nghị gia hạn",
        )
    current = task.deadline_in_force
    fixed_deadline_to_extend(current)
    proposed = read_deadline(command.proposed_due, uow.clock.now().date())
    later_fixed(proposed, current)
    assert proposed.due is not None
    if not await store.insert(
        uow.conn, request_id, task_id, agency_id, command.idempotency_key, command.reason, proposed, uow.clock.now()
    ):
        raise conflict(
            "extension-pending",
            "an extension request of this task still waits for a decision",
            "Nhiệm vụ đang có đề nghị gia hạn chờ quyết định",
        )
    event = DeadlineExtensionRequested(
        request_id=request_id,
        requested_by_agency_id=agency_id,
        reason=command.reason,
        current_due=current.due,
        proposed_due=proposed.due,
    )
    await uow.emit(event, actor=Actor(agency_id=agency_id), task_id=task_id, id_parts=(request_id,))
    return ExtensionOutcome(request_id, task_id, "pending", created=True)


async def decide_extension(
    task_id: str, request_id: str, command: DecideExtension, agency_id: str, uow: UnitOfWork
) -> ExtensionOutcome:
    task = await open_task(uow, task_id, agency_id)
    request = await store.get(uow.conn, request_id, lock=True)
    if request is None or request.task_id != task_id:
        raise not_found("extension request", "đề nghị gia hạn", request_id, "extension-not-found")
    if agency_id != task.assigning_agency_id:
        raise forbidden(
            "not-assigner",
            f"only the assigning agency {task.assigning_agency_id} decides",
            "Chỉ cơ quan giao nhiệm vụ được quyết định gia hạn",
        )
    wanted = "approved" if command.decision == "approve" else "rejected"
    if request.status != "pending":
        if request.status == wanted:
            return ExtensionOutcome(request_id, task_id, wanted, created=False)
        raise conflict(
            "extension-already-decided",
            f"the request was already {request.status}",
            "Đề nghị gia hạn đã được quyết định",
        )
    _not_withdrawn(task)
    actor, now = Actor(agency_id=agency_id), uow.clock.now()
    # Decided by a document: the decision counts from its date, not before the task was assigned.
    assigned_on = task.assigned_at.astimezone(VN_TZ).date() if task.assigned_at else None
    effective_at = effective(command.document.issued_on if command.document else None, now, not_before=assigned_on)
    if command.decision == "reject":
        await store.decide(uow.conn, request_id, wanted, agency_id, now, command.reason, None, command.document)
        rejected = DeadlineExtensionRejected(
            request_id=request_id, decided_by_agency_id=agency_id, reason=command.reason, document=command.document
        )
        await uow.emit(rejected, actor=actor, task_id=task_id, id_parts=(request_id,), effective_at=effective_at)
        return ExtensionOutcome(request_id, task_id, wanted, created=True)
    deadline = read_deadline(command.due, now.date()) if command.due else request.proposed_deadline
    later_fixed(deadline, task.deadline_in_force)
    assert deadline.due is not None
    if task.parent_task_id and (parent := await adapters.task(uow.conn, task.parent_task_id)) is not None:
        within_parent(deadline, parent.deadline_in_force)
    await adapters.set_deadline_in_force(uow.conn, task_id, deadline)
    await store.decide(uow.conn, request_id, wanted, agency_id, now, command.reason, deadline, command.document)
    extended = DeadlineExtended(
        request_id=request_id,
        decided_by_agency_id=agency_id,
        previous_due=task.deadline_in_force.due,
        due=deadline.due,
        deadline=deadline,
        original_due=task.deadline.due,
        note=command.reason,
        document=command.document,
    )
    await uow.emit(extended, actor=actor, task_id=task_id, id_parts=(request_id,), effective_at=effective_at)
    return ExtensionOutcome(request_id, task_id, wanted, created=True)
