"""Fired deadline timers: each emits its event in the timer's own transaction (see runtime/timers.py).

Written for many timers of one kind at once (a hundred deadlines pass at one midnight): the tasks locked in
one statement, the events stored in one. A single timer is a batch of one: one code path."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from events.envelope import SYSTEM, Envelope
from events.tasks import DeadlineApproaching, TaskOverdue
from services.progress import adapters
from services.progress.domain import APPROACHING, OPEN, OVERDUE, Task, overdue_at
from services.runtime.timers import BatchTimerHandler, Timer, TimerHandler, traces
from services.runtime.unit_of_work import UnitOfWork, emit_all

# Timer events are caused by the passing of time, not by an agency.


def _applies(timer: Timer, task: Task | None) -> bool:
    """The timer belongs to the task's current plan and the task still owes work."""
    due = date.fromisoformat(timer.data["due"])
    return task is not None and task.status in OPEN and task.due == due and task.plan == timer.data["plan"]
    # else: completed, withdrawn, awaiting confirmation, or re-planned since


async def _still_applying(timers: Sequence[Timer], uow: UnitOfWork) -> list[Timer]:
    tasks = await adapters.lock_tasks(uow.conn, [t.subject_id for t in timers])  # one order for every writer
    return [t for t in timers if _applies(t, tasks.get(t.subject_id))]


async def _emit(uow: UnitOfWork, fired: Sequence[tuple[Timer, Envelope]]) -> None:
    await emit_all(uow.conn, uow.schema, [e for _, e in fired], traceparents=traces([t for t, _ in fired]))


async def fire_approaching_many(timers: Sequence[Timer], uow: UnitOfWork) -> None:
    fired = []
    for timer in await _still_applying(timers, uow):
        due = date.fromisoformat(timer.data["due"])
        if uow.clock.now() >= overdue_at(due):
            continue  # fired late (the service was down): the overdue alert says more than a stale reminder
        days = int(timer.data["working_days_left"])
        # The id is the threshold's, not the plan's: a re-plan with the same deadline never repeats a reminder.
        payload = DeadlineApproaching(due=due, working_days_left=days, fires_at=timer.fire_at)
        fired.append((timer, uow.envelope(payload, actor=SYSTEM, task_id=timer.subject_id, id_parts=(due, days))))
    await _emit(uow, fired)


async def fire_overdue_many(timers: Sequence[Timer], uow: UnitOfWork) -> None:
    fired = []
    for timer in await _still_applying(timers, uow):
        due = date.fromisoformat(timer.data["due"])
        payload = TaskOverdue(due=due, overdue_since=overdue_at(due))
        fired.append((timer, uow.envelope(payload, actor=SYSTEM, task_id=timer.subject_id, id_parts=(due,))))
    await _emit(uow, fired)


async def fire_approaching(timer: Timer, uow: UnitOfWork) -> None:
    await fire_approaching_many([timer], uow)


async def fire_overdue(timer: Timer, uow: UnitOfWork) -> None:
    await fire_overdue_many([timer], uow)


TIMER_HANDLERS: dict[str, TimerHandler] = {APPROACHING: fire_approaching, OVERDUE: fire_overdue}
BATCH_TIMER_HANDLERS: dict[str, BatchTimerHandler] = {APPROACHING: fire_approaching_many, OVERDUE: fire_overdue_many}
