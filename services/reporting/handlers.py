"""Projection handlers of the reporting service."""

from __future__ import annotations

from events.envelope import Envelope
from events.tasks import ProgressReported, TaskAssigned, TaskCompleted
from services.reporting import adapters
from services.runtime.unit_of_work import UnitOfWork


async def on_task_assigned(event: Envelope, uow: UnitOfWork) -> None:
    assert isinstance(event.payload, TaskAssigned) and event.task_id
    await adapters.insert_task(uow.conn, event.task_id, event.payload, event.occurred_at)


async def on_progress_reported(event: Envelope, uow: UnitOfWork) -> None:
    assert isinstance(event.payload, ProgressReported) and event.task_id
    await adapters.set_percent(uow.conn, event.task_id, event.payload.percent)


async def on_task_completed(event: Envelope, uow: UnitOfWork) -> None:
    assert isinstance(event.payload, TaskCompleted) and event.task_id
    await adapters.set_completed(uow.conn, event.task_id, event.payload)


EVENT_HANDLERS = {
    "TaskAssigned": on_task_assigned,
    "ProgressReported": on_progress_reported,
    "TaskCompleted": on_task_completed,
}
