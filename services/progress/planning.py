"""Deadline timers of a task: planned on assignment, re-planned whenever the deadline in force or the
lead times change, removed when the task no longer owes work.

Invariants:
* A task has the timers of exactly one plan: re-planning cancels the live ones and bumps ``plan``, so
  a stale timer (fired by a slow replica) finds another plan number and does nothing.
* Reminders already in the past are not planned; the overdue timer always is, even when the deadline
  has already passed (it then fires at once): a late plan never skips the overdue alert.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from functools import cache

import asyncpg

from events.tasks import TaskAssigned
from events.workdays import WorkingCalendar
from services.progress import adapters
from services.progress.config import ProgressConfig
from services.progress.domain import (
    APPROACHING,
    FIRST_PLAN,
    OPEN,
    OVERDUE,
    Task,
    lead_days_for,
    overdue_at,
    reminder_times,
)
from services.runtime import timers
from services.runtime.unit_of_work import UnitOfWork


@cache
def calendar() -> WorkingCalendar:
    return WorkingCalendar()


async def replan(uow: UnitOfWork, task: Task, config: ProgressConfig) -> int:
    """Cancel the task's live timers and plan them anew for its deadline in force (if it still owes
    work: a task awaiting confirmation is re-planned when it is returned); returns the plan."""
    return (await replan_many(uow.conn, [task], uow.clock.now(), config))[0]


async def replan_many(
    conn: asyncpg.Connection,
    tasks: Sequence[Task],
    now: datetime,
    config: ProgressConfig,
    traces: Mapping[str, str | None] | None = None,
) -> list[int]:
    """``replan`` for tasks of different ids in three statements, whatever their number; ``traces``: the
    trace each task's timers continue (its own cause's), where it is not the current one."""
    # Timers firing right now are skipped, not waited for: their handler re-checks the plan (timer_handlers.py).
    await timers.cancel_many(conn, [t.task_id for t in tasks], skip_firing=True)
    plans = [t.plan + 1 for t in tasks]
    await adapters.set_plans(conn, [(t.task_id, plan) for t, plan in zip(tasks, plans, strict=True)], now)
    await _schedule(conn, [replace(t, plan=plan) for t, plan in zip(tasks, plans, strict=True)], now, config, traces)
    return plans


async def plan_new(
    conn: asyncpg.Connection,
    new: Sequence[tuple[str, TaskAssigned]],
    now: datetime,
    config: ProgressConfig,
    traces: Mapping[str, str | None] | None = None,
) -> None:
    """The timers of tasks inserted in this transaction (adapters.insert_tasks: at plan ``FIRST_PLAN``, status
    assigned, no lead-time override), from the events that assigned them: what ``replan_many`` gives them
    in one statement, not four, for a new task has no timers to cancel and its row need not be read back."""
    planned = [
        timer
        for task_id, assigned in new
        if assigned.deadline.due is not None
        for timer in _timers(
            task_id,
            assigned.deadline.due,
            FIRST_PLAN,
            now,
            config.key_task_lead_days if assigned.key_task else config.lead_days,
            (traces or {}).get(task_id),
        )
    ]
    await timers.schedule_many(conn, planned)


async def _schedule(
    conn: asyncpg.Connection,
    tasks: Sequence[Task],
    now: datetime,
    config: ProgressConfig,
    traces: Mapping[str, str | None] | None,
) -> None:
    """The timers of each task's plan in force, those that owe work."""
    planned = [
        timer
        for task in tasks
        if task.due is not None and task.status in OPEN
        for timer in _timers(
            task.task_id,
            task.due,
            task.plan,
            now,
            lead_days_for(task, config.lead_days, config.key_task_lead_days),
            (traces or {}).get(task.task_id),
        )
    ]
    await timers.schedule_many(conn, planned)


async def unplan(uow: UnitOfWork, task_id: str) -> None:
    await unplan_many(uow.conn, [task_id])


async def unplan_many(conn: asyncpg.Connection, task_ids: Sequence[str]) -> None:
    await timers.cancel_many(conn, task_ids, skip_firing=True)


def _timers(
    task_id: str, due: date, plan: int, now: datetime, lead_days: tuple[int, ...], traceparent: str | None
) -> list[timers.PlannedTimer]:
    planned = [
        timers.PlannedTimer(
            kind=APPROACHING,
            subject_id=task_id,
            dedup_key=f"{plan}:{due}:{days_left}",
            fire_at=at,
            data={"due": due.isoformat(), "working_days_left": days_left, "plan": plan},
            traceparent=traceparent,
        )
        for days_left, at in reminder_times(due, now, calendar(), lead_days)
    ]
    planned.append(
        timers.PlannedTimer(
            kind=OVERDUE,
            subject_id=task_id,
            dedup_key=f"{plan}:{due}",
            fire_at=overdue_at(due),
            data={"due": due.isoformat(), "plan": plan},
            traceparent=traceparent,
        )
    )
    return planned
