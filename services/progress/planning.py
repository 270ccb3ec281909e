"""Deadline timers of a task: planned on assignment, re-planned whenever the deadline in force or the
lead times change, removed when the task no longer owes work.

Invariants:
* A task has the timers of exactly one plan: re-planning cancels the live ones and bumps ``plan``, so
  a stale timer (fired by a slow replica) finds another plan number and does nothing.
* Reminders already in the past are not planned; the overdue timer always is, even when the deadline
  has already passed (it then fires at once): a late plan never skips the overdue alert.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

from events.workdays import WorkingCalendar
from services.progress import adapters
from services.progress.config import ProgressConfig
from services.progress.domain import APPROACHING, OPEN, OVERDUE, lead_days_for, overdue_at, reminder_times
from services.runtime import timers
from services.runtime.unit_of_work import UnitOfWork


@cache
def calendar() -> WorkingCalendar:
    return WorkingCalendar()


async def replan(uow: UnitOfWork, task: dict[str, Any], config: ProgressConfig) -> int:
    """Cancel the task's live timers and plan them anew for its deadline in force (if it still owes
    work: a task awaiting confirmation is re-planned when it is returned); returns the plan."""
    await timers.cancel(uow.conn, task["task_id"])
    plan = int(task["plan"]) + 1
    await adapters.update(uow.conn, task["task_id"], uow.clock.now(), plan=plan)
    due = task["due"]
    if due is not None and task["status"] in OPEN:
        await _schedule(
            uow, task["task_id"], due, plan, lead_days_for(task, config.lead_days, config.key_task_lead_days)
        )
    return plan


async def unplan(uow: UnitOfWork, task_id: str) -> None:
    await timers.cancel(uow.conn, task_id)


async def _schedule(uow: UnitOfWork, task_id: str, due: date, plan: int, lead_days: tuple[int, ...]) -> None:
    for days_left, at in reminder_times(due, uow.clock.now(), calendar(), lead_days):
        await timers.schedule(
            uow.conn,
            kind=APPROACHING,
            subject_id=task_id,
            dedup_key=f"{plan}:{due}:{days_left}",
            fire_at=at,
            data={"due": due.isoformat(), "working_days_left": days_left, "plan": plan},
        )
    await timers.schedule(
        uow.conn,
        kind=OVERDUE,
        subject_id=task_id,
        dedup_key=f"{plan}:{due}",
        fire_at=overdue_at(due),
        data={"due": due.isoformat(), "plan": plan},
    )
