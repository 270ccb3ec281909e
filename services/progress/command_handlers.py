"""Commands of the progress service, from HTTP or intake: one function each, message first.

``agency_id`` is the acting agency as authenticated (token or intake envelope), never a body field.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from events.effective import EffectiveTimeRefused, effective_at
from events.envelope import Actor, Envelope
from events.progress import (
    CompletionReported,
    CompletionReturned,
    CoordinationNoteAdded,
    ReminderLeadTimesSet,
)
from events.tasks import ProgressReported, TaskCompleted
from services.progress import adapters, planning
from services.progress.commands import (
    AddNote,
    ConfirmCompletion,
    ReportCompletion,
    ReportProgress,
    ReturnCompletion,
    SetLeadTimes,
)
from services.progress.config import ProgressConfig
from services.progress.domain import (
    OPEN,
    Task,
    is_on_time,
    require_assigner,
    require_involved,
    require_lead,
    require_status,
)
from services.runtime import idempotency
from services.runtime.access import may_see
from services.runtime.refusals import Refused
from services.runtime.unit_of_work import UnitOfWork

_AWAITING = frozenset({"completion_reported"})
_NOT_CLOSED = frozenset({*OPEN, "completion_reported"})


async def _task(uow: UnitOfWork, task_id: str, agency_id: str) -> Task:
    """The task, locked; a secret task the agency is not involved in answers as one that does not exist
    (runtime/access.py), so the refusals below never name its agencies."""
    task = await adapters.lock_task(uow.conn, task_id)
    if task is None or not may_see(task.classification, adapters.parties(task), agency_id):
        raise Refused(
            "task-not-found",
            f"no task {task_id} is known to the progress service",
            f"Không tìm thấy nhiệm vụ {task_id}",
            404,
        )
    return task


def _ids(key: str | None) -> tuple[object, ...]:
    # A client's idempotency key makes a retried request the same event; without one, each is new.
    return (key or uuid.uuid4(),)


H = TypeVar("H", bound=Callable[..., Awaitable[Envelope]])


def _once(handler: H) -> H:
    """A command with an idempotency key runs once per task and acting agency: sent again with the same
    body it answers the first event and changes nothing; with another body it is refused with 409
    (services/runtime/idempotency.py). The task row is locked first, so concurrent twins queue."""

    @functools.wraps(handler)
    async def once(task_id: str, command: Any, agency_id: str, uow: UnitOfWork, *rest: Any) -> Envelope:
        key: str | None = command.idempotency_key
        if key is None:
            return await handler(task_id, command, agency_id, uow, *rest)
        await _task(uow, task_id, agency_id)
        subject, digest = f"task:{task_id}:{agency_id}", idempotency.fingerprint(type(command).__name__, command)
        # A reused key with another body raises idempotency.KeyReused, a 409 Refused.
        if (first := await idempotency.recall(uow.conn, subject, key, digest)) is not None:
            return first
        event = await handler(task_id, command, agency_id, uow, *rest)
        await idempotency.remember(uow.conn, subject, key, digest, event)
        return event

    return once  # type: ignore[return-value]


@_once
async def report_progress(task_id: str, command: ReportProgress, agency_id: str, uow: UnitOfWork) -> Envelope:
    task = await _task(uow, task_id, agency_id)
    require_lead(task, agency_id)
    require_status(task, OPEN, "báo cáo tiến độ")
    await adapters.update(
        uow.conn, task_id, uow.clock.now(), status="in_progress", percent=command.percent, note=command.note
    )
    return await uow.emit(
        ProgressReported(percent=command.percent, note=command.note),
        actor=Actor(agency_id=agency_id),
        task_id=task_id,
        id_parts=_ids(command.idempotency_key),
    )


@_once
async def report_completion(task_id: str, command: ReportCompletion, agency_id: str, uow: UnitOfWork) -> Envelope:
    task = await _task(uow, task_id, agency_id)
    require_lead(task, agency_id)
    require_status(task, OPEN, "báo cáo hoàn thành")
    today = uow.clock.now().date()
    # Reported on the day the command says (its report's date), else today: on time or late is judged on it.
    effective = _effective(command.reported_on, uow.clock.now(), task.assigned_on)
    reported_on = command.reported_on or today
    children = await adapters.rollup(uow.conn, task_id, today)
    if children.open and not command.open_children_override:
        raise Refused(
            "children-open",
            f"{children.open} of {children.children} delegated tasks are still open; report completion with "
            "open_children_override (the reason) to complete the parent anyway",
            f"Còn {children.open}/{children.children} nhiệm vụ giao tiếp chưa hoàn thành; muốn báo cáo "
            "hoàn thành nhiệm vụ này phải nêu lý do (open_children_override)",
            409,
        )
    on_time = is_on_time(reported_on, task.due)
    await adapters.update(
        uow.conn,
        task_id,
        uow.clock.now(),
        status="completion_reported",
        percent=100,
        reported_on=reported_on,
        on_time=on_time,
        product=command.product,
        evidence=adapters.evidence_json(command.evidence),
        open_children_override=command.open_children_override if children.open else None,
    )
    # Reminders pause while the assigning agency decides; a return re-plans them.
    await planning.unplan(uow, task_id)
    return await uow.emit(
        CompletionReported(
            reported_on=reported_on,
            deadline_in_force=task.due,
            original_deadline=task.original_due,
            on_time=on_time,
            product=command.product,
            evidence=command.evidence,
            open_children_override=command.open_children_override if children.open else None,
        ),
        actor=Actor(agency_id=agency_id),
        task_id=task_id,
        id_parts=_ids(command.idempotency_key),
        effective_at=effective,
    )


def _effective(day: date | None, now: datetime, assigned_on: date | None) -> datetime | None:
    try:
        return effective_at(day, now, not_before=assigned_on)
    except EffectiveTimeRefused as exc:
        raise Refused(exc.code, exc.message, exc.message_vi) from exc


@_once
async def confirm_completion(
    task_id: str, command: ConfirmCompletion, agency_id: str, uow: UnitOfWork, config: ProgressConfig
) -> Envelope:
    task = await _task(uow, task_id, agency_id)
    require_assigner(task, agency_id)
    require_status(task, _AWAITING, "xác nhận hoàn thành")
    now = uow.clock.now()
    await adapters.insert_completion(uow.conn, task, now)
    next_due = _next_occurrence(task)
    if next_due is None:
        await adapters.update(uow.conn, task_id, now, status="completed", completed_on=task.reported_on)
    else:
        # A recurring obligation: this occurrence is counted; the next one is now the one tracked.
        opened = replace(task, status="in_progress", due=next_due)
        await adapters.update(
            uow.conn,
            task_id,
            now,
            status="in_progress",
            percent=0,
            due=next_due,
            reported_on=None,
            on_time=None,
            product=None,
            evidence=None,
        )
        await planning.replan(uow, opened, config)
    return await uow.emit(
        TaskCompleted(
            reported_on=task.reported_on,
            deadline_in_force=task.due,
            on_time=task.on_time,
            product=task.product,
            next_due=next_due,
        ),
        actor=Actor(agency_id=agency_id),
        task_id=task_id,
        id_parts=(task.due, *_ids(command.idempotency_key)),
    )


def _next_occurrence(task: Task) -> date | None:
    if task.deadline.recurrence is None or task.due is None:
        return None
    return task.deadline.occurrence_on_or_after(task.due + timedelta(days=1))


@_once
async def return_completion(
    task_id: str, command: ReturnCompletion, agency_id: str, uow: UnitOfWork, config: ProgressConfig
) -> Envelope:
    task = await _task(uow, task_id, agency_id)
    require_assigner(task, agency_id)
    require_status(task, _AWAITING, "trả lại báo cáo hoàn thành")
    await adapters.update(
        uow.conn, task_id, uow.clock.now(), status="in_progress", return_reason=command.reason, on_time=None
    )
    await planning.replan(uow, replace(task, status="in_progress"), config)
    return await uow.emit(
        CompletionReturned(reason=command.reason, reported_on=task.reported_on, deadline_in_force=task.due),
        actor=Actor(agency_id=agency_id),
        task_id=task_id,
        id_parts=_ids(command.idempotency_key),
    )


@_once
async def add_note(task_id: str, command: AddNote, agency_id: str, uow: UnitOfWork) -> Envelope:
    task = await _task(uow, task_id, agency_id)
    require_involved(task, agency_id)
    require_status(task, _NOT_CLOSED, "ghi chú tiến độ")
    await adapters.insert_note(uow.conn, task_id, agency_id, command.note, uow.clock.now())
    return await uow.emit(
        CoordinationNoteAdded(agency_id=agency_id, note=command.note),
        actor=Actor(agency_id=agency_id),
        task_id=task_id,
        id_parts=_ids(command.idempotency_key),
    )


@_once
async def set_lead_times(
    task_id: str, command: SetLeadTimes, agency_id: str, uow: UnitOfWork, config: ProgressConfig
) -> Envelope:
    task = await _task(uow, task_id, agency_id)
    if agency_id != task.assigning_agency_id:
        require_lead(task, agency_id)
    require_status(task, _NOT_CLOSED, "đặt lịch nhắc hạn")
    lead_days = tuple(sorted({d for d in command.lead_days if d > 0}, reverse=True))
    await adapters.update(uow.conn, task_id, uow.clock.now(), lead_days=list(lead_days))
    await planning.replan(uow, replace(task, lead_days=lead_days), config)
    return await uow.emit(
        ReminderLeadTimesSet(lead_days=lead_days),
        actor=Actor(agency_id=agency_id),
        task_id=task_id,
        id_parts=_ids(command.idempotency_key),
    )
