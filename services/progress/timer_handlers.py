"""Fired deadline timers: each emits its event in the timer's own transaction (see runtime/timers.py)."""

from __future__ import annotations

from datetime import date

from events.envelope import SYSTEM
from events.tasks import DeadlineApproaching, TaskOverdue
from services.progress import adapters
from services.progress.domain import APPROACHING, OPEN, OVERDUE, Task, overdue_at
from services.runtime.timers import Timer, TimerHandler
from services.runtime.unit_of_work import UnitOfWork

# Timer events are caused by the passing of time, not by an agency.


async def _still_applies(timer: Timer, uow: UnitOfWork) -> Task | None:
    """The task, if this timer belongs to its current plan and the task still owes work."""
    task = await adapters.lock_task(uow.conn, timer.subject_id)
    due = date.fromisoformat(timer.data["due"])
    if task is None or task.status not in OPEN or task.due != due or task.plan != timer.data["plan"]:
        return None  # completed, withdrawn, awaiting confirmation, or re-planned since
    return task


async def fire_approaching(timer: Timer, uow: UnitOfWork) -> None:
    if await _still_applies(timer, uow) is None:
        return
    due = date.fromisoformat(timer.data["due"])
    if uow.clock.now() >= overdue_at(due):
        return  # fired late (the service was down): the overdue alert says more than a stale reminder
    days = int(timer.data["working_days_left"])
    # The id is the threshold's, not the plan's: a re-plan with the same deadline never repeats a reminder.
    await uow.emit(
        DeadlineApproaching(due=due, working_days_left=days, fires_at=timer.fire_at),
        actor=SYSTEM,
        task_id=timer.subject_id,
        id_parts=(due, days),
    )


async def fire_overdue(timer: Timer, uow: UnitOfWork) -> None:
    if await _still_applies(timer, uow) is None:
        return
    due = date.fromisoformat(timer.data["due"])
    await uow.emit(
        TaskOverdue(due=due, overdue_since=overdue_at(due)),
        actor=SYSTEM,
        task_id=timer.subject_id,
        id_parts=(due,),
    )


TIMER_HANDLERS: dict[str, TimerHandler] = {APPROACHING: fire_approaching, OVERDUE: fire_overdue}
