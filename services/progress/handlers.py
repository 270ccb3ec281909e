"""Consumed events: the assignment side's decisions change what the progress service tracks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from events.clock import VN_TZ
from events.envelope import Envelope
from events.tasks import DeadlineExtended, TaskAssigned, TaskTransferred, parties_after
from services.progress import adapters, planning
from services.progress.config import ProgressConfig
from services.progress.domain import Task
from services.runtime.consuming import BatchHandler, in_segments
from services.runtime.logs import get_logger
from services.runtime.unit_of_work import Handler, UnitOfWork

log = get_logger(__name__)


def handlers(config: ProgressConfig) -> dict[str, Handler]:
    async def on_task_assigned(event: Envelope, uow: UnitOfWork) -> None:
        await on_tasks_assigned(config, [(event, uow)])

    async def on_deadline_extended(event: Envelope, uow: UnitOfWork) -> None:
        payload = event.payload
        assert isinstance(payload, DeadlineExtended)  # the registry's key is its event type
        task = await _task(event, uow)
        if task is None:
            return
        # The original stays in original_due: reports can still tell it.
        await adapters.update(uow.conn, task.task_id, uow.clock.now(), due=payload.due)
        await planning.replan(uow, replace(task, due=payload.due), config)

    async def on_task_withdrawn(event: Envelope, uow: UnitOfWork) -> None:
        task = await _task(event, uow)
        if task is None:
            return
        await adapters.update(uow.conn, task.task_id, uow.clock.now(), status="withdrawn")
        await planning.unplan(uow, task.task_id)

    async def on_task_transferred(event: Envelope, uow: UnitOfWork) -> None:
        """A reorganisation moved the task: the successor now writes its progress (lead-only writes); the
        status, deadline and schedule stay as they are."""
        payload = event.payload
        assert isinstance(payload, TaskTransferred)
        task = await _task(event, uow)
        if task is None:
            return
        lead, coordinating, officer = parties_after(
            task.lead_agency_id, task.coordinating_agency_ids, task.officer_in_charge_id, payload
        )
        await adapters.update(
            uow.conn,
            task.task_id,
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


async def on_tasks_assigned(config: ProgressConfig, items: Sequence[tuple[Envelope, UnitOfWork]]) -> None:
    """New tasks (each of another id) recorded and their timers planned, in two statements for all."""
    assigned: list[tuple[str, TaskAssigned, date]] = []
    for event, _ in items:
        assert isinstance(event.payload, TaskAssigned) and event.task_id
        # assigned_on: as its document dates it (events/effective.py), not when dondoc learnt it.
        assigned.append((event.task_id, event.payload, event.effective.astimezone(VN_TZ).date()))
    conn, now = items[0][1].conn, items[0][1].clock.now()
    new = await adapters.insert_tasks(conn, assigned, now)
    # Each task's timers carry the trace of its own TaskAssigned (runtime/timers.py), not the batch's.
    traces = {event.task_id: uow.traceparent for event, uow in items if event.task_id}
    await planning.plan_new(conn, [(task_id, e) for task_id, e, _ in assigned if task_id in new], now, config, traces)


async def on_deadlines_extended(config: ProgressConfig, items: Sequence[tuple[Envelope, UnitOfWork]]) -> None:
    """``on_deadline_extended`` for tasks of different ids, in five statements for all: the tasks locked in
    id order, their deadlines set, their timers re-planned together."""
    conn, now = items[0][1].conn, items[0][1].clock.now()
    tasks = await adapters.lock_tasks(conn, [event.task_id for event, _ in items if event.task_id])
    extended: list[Task] = []
    traces: dict[str, str | None] = {}
    for event, uow in items:
        payload = event.payload
        assert isinstance(payload, DeadlineExtended)
        task = tasks.get(event.task_id or "")
        if task is None:
            log.warning("event for a task this service has never seen", event_type=event.event_type)
            continue
        extended.append(replace(task, due=payload.due))
        traces[task.task_id] = uow.traceparent
    if extended:
        await adapters.set_dues(conn, [(task.task_id, task.due) for task in extended], now)
        await planning.replan_many(conn, extended, now, config, traces)


async def on_tasks_withdrawn(items: Sequence[tuple[Envelope, UnitOfWork]]) -> None:
    """``on_task_withdrawn`` for tasks of different ids, in three statements for all."""
    conn, now = items[0][1].conn, items[0][1].clock.now()
    tasks = await adapters.lock_tasks(conn, [event.task_id for event, _ in items if event.task_id])
    for event, _ in items:
        if event.task_id not in tasks:
            log.warning("event for a task this service has never seen", event_type=event.event_type)
    if tasks:
        await adapters.set_statuses(conn, list(tasks), "withdrawn", now)
        await planning.unplan_many(conn, list(tasks))


def batch_handler(config: ProgressConfig) -> BatchHandler:
    """Runs of task events in one transaction each (runtime/consuming.py), new tasks, extended deadlines and
    withdrawals set-based: a bulk import commits once per run and plans its timers in a few statements."""
    own = handlers(config)

    async def assigned(items: Sequence[tuple[Envelope, UnitOfWork]]) -> None:
        await on_tasks_assigned(config, items)

    async def extended(items: Sequence[tuple[Envelope, UnitOfWork]]) -> None:
        await on_deadlines_extended(config, items)

    return in_segments(
        own, own, {"TaskAssigned": assigned, "DeadlineExtended": extended, "TaskWithdrawn": on_tasks_withdrawn}
    )


async def _task(event: Envelope, uow: UnitOfWork) -> Task | None:
    if event.task_id is None:
        return None
    task = await adapters.lock_task(uow.conn, event.task_id)
    if task is None:
        log.warning("event for a task this service has never seen", event_type=event.event_type)
    return task
