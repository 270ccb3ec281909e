"""Consumed events: the assignment side's decisions change what the progress service tracks."""

from __future__ import annotations

from datetime import date
from typing import Any

from events.clock import VN_TZ
from events.envelope import Envelope, EventPayload
from events.tasks import TaskAssigned, TaskTransferred, parties_after
from services.progress import adapters, planning
from services.progress.config import ProgressConfig
from services.runtime.consuming import BatchHandler, in_one_transaction
from services.runtime.logs import get_logger
from services.runtime.unit_of_work import Handler, UnitOfWork

log = get_logger(__name__)


def extended_due(payload: EventPayload) -> date | None:
    """The deadline in force after an approved extension.

    Read by name so the handler does not depend on how the assignment side shapes the event beyond
    "the new deadline": ``new_due``, or the ``due`` of ``new_deadline``/``deadline``.
    """
    due = getattr(payload, "new_due", None)
    if due is None:
        deadline = getattr(payload, "new_deadline", None) or getattr(payload, "deadline", None)
        due = getattr(deadline, "due", None)
    return due if isinstance(due, date) else None


def handlers(config: ProgressConfig) -> dict[str, Handler]:
    async def on_task_assigned(event: Envelope, uow: UnitOfWork) -> None:
        assert isinstance(event.payload, TaskAssigned) and event.task_id
        assigned_on = event.effective.astimezone(VN_TZ).date()  # as its document dates it
        if not await adapters.insert_task(uow.conn, event.task_id, event.payload, uow.clock.now(), assigned_on):
            return
        task = await adapters.lock_task(uow.conn, event.task_id)
        assert task is not None
        await planning.replan(uow, task, config)

    async def on_deadline_extended(event: Envelope, uow: UnitOfWork) -> None:
        task = await _task(event, uow)
        new_due = extended_due(event.payload)
        if task is None or new_due is None:
            log.warning("extension without a task or a new due date; nothing to re-plan", new_due=new_due)
            return
        # The original stays in original_due: reports can still tell it.
        await adapters.update(uow.conn, task["task_id"], uow.clock.now(), due=new_due)
        await planning.replan(uow, {**task, "due": new_due}, config)

    async def on_task_withdrawn(event: Envelope, uow: UnitOfWork) -> None:
        task = await _task(event, uow)
        if task is None:
            return
        await adapters.update(uow.conn, task["task_id"], uow.clock.now(), status="withdrawn")
        await planning.unplan(uow, task["task_id"])

    async def on_task_transferred(event: Envelope, uow: UnitOfWork) -> None:
        """A reorganisation moved the task: the successor now writes its progress (lead-only writes); the
        status, deadline and schedule stay as they are."""
        payload = event.payload
        assert isinstance(payload, TaskTransferred)
        task = await _task(event, uow)
        if task is None:
            return
        lead, coordinating, officer = parties_after(
            task["lead_agency_id"], tuple(task["coordinating_agency_ids"] or ()), task["officer_in_charge_id"], payload
        )
        await adapters.update(
            uow.conn,
            task["task_id"],
            uow.clock.now(),
            lead_agency_id=lead,
            coordinating_agency_ids=list(coordinating),
            officer_in_charge_id=officer,
        )

    return {
        "TaskAssigned": on_task_assigned,
        "DeadlineExtended": on_deadline_extended,
        "TaskWithdrawn": on_task_withdrawn,
        "TaskTransferred": on_task_transferred,
    }


def batch_handler(config: ProgressConfig) -> BatchHandler:
    """Runs of task events in one transaction each (runtime/consuming.py): a bulk import commits once per run."""
    own = handlers(config)
    return in_one_transaction(own, own)


async def _task(event: Envelope, uow: UnitOfWork) -> dict[str, Any] | None:
    if event.task_id is None:
        return None
    task = await adapters.lock_task(uow.conn, event.task_id)
    if task is None:
        log.warning("event for a task this service has never seen", event_type=event.event_type)
    return task
