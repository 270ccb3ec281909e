"""What assignment reads back of progress: whether a task is still open, so a reorganisation moves only
open tasks (completed ones stay credited to the agency that did them).

Progress owns completion; assignment keeps one timestamp per task, from ``dondoc.task-events``: set when
completion is reported (or confirmed), cleared when it is returned or a recurring task's next occurrence
begins. Every other event on the topic is ignored (most are assignment's own).
"""

from __future__ import annotations

from events.envelope import Envelope
from events.tasks import TaskCompleted
from services.assignment.tasks import adapters
from services.runtime.unit_of_work import Handler, UnitOfWork


async def _set(uow: UnitOfWork, task_id: str | None, done: bool, event: Envelope) -> None:
    if task_id is not None:
        await adapters.set_completed(uow.conn, task_id, done, event.occurred_at)


async def on_completion_reported(event: Envelope, uow: UnitOfWork) -> None:
    await _set(uow, event.task_id, True, event)


async def on_completion_returned(event: Envelope, uow: UnitOfWork) -> None:
    await _set(uow, event.task_id, False, event)


async def on_task_completed(event: Envelope, uow: UnitOfWork) -> None:
    assert isinstance(event.payload, TaskCompleted)
    await _set(uow, event.task_id, event.payload.next_due is None, event)


def handlers() -> dict[str, Handler]:
    """The registry, by event type; every other event on the topic is ignored."""
    return {
        "CompletionReported": on_completion_reported,
        "CompletionReturned": on_completion_returned,
        "TaskCompleted": on_task_completed,
    }
