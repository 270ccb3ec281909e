"""Handlers of the progress service: consumed events, HTTP commands and fired timers."""

from __future__ import annotations

import uuid
from datetime import date
from functools import cache

from events.envelope import Actor, Envelope
from events.tasks import DeadlineApproaching, ProgressReported, TaskAssigned, TaskCompleted, TaskOverdue
from events.workdays import WorkingCalendar
from services.progress import adapters
from services.progress.domain import (
    APPROACHING,
    OVERDUE,
    ProgressRejected,
    ReportCompletion,
    ReportProgress,
    is_on_time,
    overdue_at,
    reminder_times,
)
from services.runtime import timers
from services.runtime.timers import Timer
from services.runtime.unit_of_work import UnitOfWork

# Timer events are caused by the passing of time, not by an agency.
SYSTEM = Actor(agency_id="dondoc")


@cache
def calendar() -> WorkingCalendar:
    return WorkingCalendar()


async def on_task_assigned(event: Envelope, uow: UnitOfWork) -> None:
    assert isinstance(event.payload, TaskAssigned) and event.task_id
    task_id, assigned = event.task_id, event.payload
    if not await adapters.insert_task(uow.conn, task_id, assigned, uow.clock.now()):
        return
    due = assigned.deadline.due
    if due is None:
        return  # no fixed deadline: followed, counted apart, never reminded
    await schedule_deadline(uow, task_id, due)


async def schedule_deadline(uow: UnitOfWork, task_id: str, due: date) -> None:
    for days_left, at in reminder_times(due, uow.clock.now(), calendar()):
        await timers.schedule(
            uow.conn, kind=APPROACHING, subject_id=task_id, dedup_key=f"{due}:{days_left}", fire_at=at,
            data={"due": due.isoformat(), "working_days_left": days_left},
        )
    await timers.schedule(
        uow.conn, kind=OVERDUE, subject_id=task_id, dedup_key=str(due), fire_at=overdue_at(due),
        data={"due": due.isoformat()},
    )


async def _open_task_of(uow: UnitOfWork, task_id: str, agency_id: str) -> dict[str, object]:
    task = await adapters.lock_task(uow.conn, task_id)
    if task is None:
        raise ProgressRejected(404, "task-not-found", f"no task {task_id} is known to the progress service",
                               f"Không tìm thấy nhiệm vụ {task_id}")
    if task["lead_agency_id"] != agency_id:
        raise ProgressRejected(
            403, "not-lead-agency",
            f"only the lead agency ({task['lead_agency_id']}) reports progress or completion of this task",
            f"Chỉ cơ quan chủ trì ({task['lead_agency_id']}) được báo cáo tiến độ, kết quả nhiệm vụ này",
        )
    if task["status"] == "completed":
        raise ProgressRejected(409, "task-completed", "the task is already completed",
                               "Nhiệm vụ đã hoàn thành")
    return task


async def report_progress(task_id: str, command: ReportProgress, uow: UnitOfWork) -> Envelope:
    await _open_task_of(uow, task_id, command.agency_id)
    await adapters.set_progress(uow.conn, task_id, command.percent, uow.clock.now())
    return await uow.emit(
        ProgressReported(percent=command.percent, note=command.note),
        actor=Actor(agency_id=command.agency_id), task_id=task_id,
        id_parts=(command.idempotency_key or uuid.uuid4(),),
    )


async def report_completion(task_id: str, command: ReportCompletion, uow: UnitOfWork) -> Envelope:
    task = await _open_task_of(uow, task_id, command.agency_id)
    reported_on = uow.clock.now().date()
    due = task["due"]
    assert due is None or isinstance(due, date)
    on_time = is_on_time(reported_on, due)
    await adapters.set_completed(uow.conn, task_id, reported_on, on_time, command.product, uow.clock.now())
    await timers.cancel(uow.conn, task_id)
    return await uow.emit(
        TaskCompleted(reported_on=reported_on, deadline_in_force=due, on_time=on_time, product=command.product),
        actor=Actor(agency_id=command.agency_id), task_id=task_id,
        id_parts=(command.idempotency_key or uuid.uuid4(),),
    )


async def fire_approaching(timer: Timer, uow: UnitOfWork) -> None:
    task = await adapters.lock_task(uow.conn, timer.subject_id)
    due = date.fromisoformat(timer.data["due"])
    if task is None or task["status"] == "completed" or task["due"] != due:
        return  # completed, or the deadline moved: this reminder no longer applies
    if uow.clock.now() >= overdue_at(due):
        return  # fired late (the service was down): the overdue alert says more than a stale reminder
    await uow.emit(
        DeadlineApproaching(due=due, working_days_left=timer.data["working_days_left"], fires_at=timer.fire_at),
        actor=SYSTEM, task_id=timer.subject_id, id_parts=(due, timer.data["working_days_left"]),
    )


async def fire_overdue(timer: Timer, uow: UnitOfWork) -> None:
    task = await adapters.lock_task(uow.conn, timer.subject_id)
    due = date.fromisoformat(timer.data["due"])
    if task is None or task["status"] == "completed" or task["due"] != due:
        return
    await uow.emit(
        TaskOverdue(due=due, overdue_since=timer.fire_at), actor=SYSTEM, task_id=timer.subject_id, id_parts=(due,)
    )


EVENT_HANDLERS = {"TaskAssigned": on_task_assigned}
TIMER_HANDLERS = {APPROACHING: fire_approaching, OVERDUE: fire_overdue}
