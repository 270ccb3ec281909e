"""Projection handlers: one function per event, each a move of the task's read model.

When a change happens is the event's *effective* time (``Envelope.effective``: the day its document
says, else its ``occurred_at``), and when dondoc learnt it its *recorded* time (``occurred_at``, the
domain clock of the producer) — never the time the reporting service got to it: a replay, or a service
that was down for a day, builds the same history, so an as_of summary is the same whenever it is asked.
Both are kept on every history row (migrations/004): as_of reads the first, as_recorded the second.

Each move is made in memory on a ``TaskBatch`` (adapters.py) and written by its flush: the consumer hands
a run of task events to ``apply_batch`` in one transaction; one event alone (a retry, the fallback
after a failed batch) is a batch of one (``handlers()``), so both paths run the same code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date

from events.directory import AgencyChanged, PersonChanged
from events.envelope import Envelope
from events.progress import CompletionReported, CompletionReturned
from events.tasks import ProgressReported, TaskAssigned, TaskCompleted
from services.reporting import directory_store
from services.reporting.adapters import TaskBatch, TaskState
from services.reporting.domain import bucket_of
from services.reporting.transfers import on_task_transferred
from services.runtime.consuming import BatchHandler
from services.runtime.logs import get_logger
from services.runtime.unit_of_work import Handler, UnitOfWork

log = get_logger(__name__)


def _task(event: Envelope, batch: TaskBatch) -> TaskState | None:
    assert event.task_id, f"{event.event_type} without a task id"
    state = batch.load(event.task_id)
    if state is None:
        # Task events are keyed by task id, so TaskAssigned is always read first; a task we never saw
        # assigned is one whose TaskAssigned was dead-lettered. Nothing to move; the log says so.
        log.warning("event for a task the reporting service does not know", event_type=event.event_type)
    return state


def _has_deadline(state: TaskState) -> bool:
    return state.bucket not in ("nodl_open", "nodl_done")


async def on_task_assigned(event: Envelope, batch: TaskBatch) -> None:
    assert isinstance(event.payload, TaskAssigned) and event.task_id
    batch.insert_task(event.task_id, event.payload, event.effective, event.occurred_at)


async def on_progress_reported(event: Envelope, batch: TaskBatch) -> None:
    assert isinstance(event.payload, ProgressReported)
    state = _task(event, batch)
    if state is None or state.bucket not in ("new", "started", "nodl_open"):
        return  # progress on a completed or withdrawn task changes no figure
    batch.update_task(state.task_id, percent=event.payload.percent)
    if state.bucket == "new":
        # Any progress report, even 0 %, means work has begun: the tracker's grey turns blue.
        batch.move(state, event.effective, bucket="started", recorded=event.occurred_at)


async def _complete(
    event: Envelope, batch: TaskBatch, *, reported_on: date, on_time: bool | None, confirmed: bool
) -> None:
    state = _task(event, batch)
    if state is None or state.bucket == "withdrawn":
        return
    bucket = bucket_of(
        withdrawn=False, has_deadline=_has_deadline(state), completed=True, on_time=on_time, started=True
    )
    batch.update_task(
        state.task_id,
        status="completed",
        percent=100,
        completed_on=reported_on,
        on_time=on_time,
        completion_confirmed=confirmed,
    )
    batch.move(state, event.effective, bucket=bucket, recorded=event.occurred_at)


async def on_completion_reported(event: Envelope, batch: TaskBatch) -> None:
    """Counted as completed from the day it is reported: on time or late compares that day with the
    deadline in force (DESIGN §4); the assigner's confirmation later changes no figure."""
    assert isinstance(event.payload, CompletionReported)
    await _complete(event, batch, reported_on=event.payload.reported_on, on_time=event.payload.on_time, confirmed=False)


async def on_completion_returned(event: Envelope, batch: TaskBatch) -> None:
    assert isinstance(event.payload, CompletionReturned)
    state = _task(event, batch)
    if state is None or state.bucket == "withdrawn":
        return
    bucket = "started" if _has_deadline(state) else "nodl_open"
    batch.update_task(state.task_id, status="open", completed_on=None, on_time=None, completion_confirmed=False)
    batch.move(state, event.effective, bucket=bucket, recorded=event.occurred_at)


async def on_task_completed(event: Envelope, batch: TaskBatch) -> None:
    """The assigner's confirmation; for a recurring task, the occurrence is done and the next one runs."""
    assert isinstance(event.payload, TaskCompleted)
    done = event.payload
    if done.next_due is None:
        await _complete(event, batch, reported_on=done.reported_on, on_time=done.on_time, confirmed=True)
        return
    state = _task(event, batch)
    if state is None or state.bucket == "withdrawn":
        return
    batch.update_task(
        state.task_id,
        status="open",
        percent=0,
        completed_on=done.reported_on,
        on_time=done.on_time,
        completion_confirmed=True,
    )
    batch.move(state, event.effective, bucket="new", due=done.next_due, due_changed=True, recorded=event.occurred_at)


async def on_deadline_extended(event: Envelope, batch: TaskBatch) -> None:
    """The deadline in force changes on approval; the original one stays in ``original_due``."""
    state = _task(event, batch)
    new_due = _new_due(event)
    if state is None or new_due is None:
        return
    batch.move(state, event.effective, due=new_due, due_changed=True, recorded=event.occurred_at)


def _new_due(event: Envelope) -> date | None:
    payload = event.payload
    for name in ("new_due", "due", "deadline_in_force"):
        value = getattr(payload, name, None)
        if isinstance(value, date):
            return value
    deadline = getattr(payload, "new_deadline", None) or getattr(payload, "deadline", None)
    due = getattr(deadline, "due", None)
    return due if isinstance(due, date) else None


async def on_task_withdrawn(event: Envelope, batch: TaskBatch) -> None:
    state = _task(event, batch)
    if state is None:
        return
    batch.update_task(state.task_id, status="withdrawn", withdrawn_at=event.effective)
    batch.move(state, event.effective, bucket="withdrawn", recorded=event.occurred_at)


Apply = Callable[[Envelope, TaskBatch], Awaitable[None]]

APPLY: dict[str, Apply] = {
    "TaskAssigned": on_task_assigned,
    "ProgressReported": on_progress_reported,
    "CompletionReported": on_completion_reported,
    "CompletionReturned": on_completion_returned,
    "TaskCompleted": on_task_completed,
    "DeadlineExtended": on_deadline_extended,
    "TaskWithdrawn": on_task_withdrawn,
}


async def apply_batch(items: Sequence[tuple[Envelope, UnitOfWork]]) -> None:
    """Task events in the order the consumer read them, in the transaction of their units of work."""
    if not items:
        return
    events = [event for event, _ in items]
    assigned = [e for e in events if isinstance(e.payload, TaskAssigned) and e.task_id]
    batch = await TaskBatch.open(
        items[0][1].conn,
        (e.task_id for e in events if e.task_id),
        parents=(e.payload.parent_task_id for e in assigned if e.payload.parent_task_id),  # type: ignore[union-attr]
        assigned=(e.task_id for e in assigned if e.task_id),
    )
    for event in events:
        await APPLY[event.event_type](event, batch)
    await batch.flush()


def _alone(apply: Apply) -> Handler:
    async def handler(event: Envelope, uow: UnitOfWork) -> None:
        await apply_batch([(event, uow)])

    handler.__name__ = apply.__name__
    return handler


async def on_agency_changed(event: Envelope, uow: UnitOfWork) -> None:
    assert isinstance(event.payload, AgencyChanged)
    agency = event.payload
    await directory_store.upsert_agency(
        uow.conn,
        agency.agency_id,
        parent_id=agency.parent_id,
        name=agency.name,
        short_name=agency.short_name,
        level=agency.level,
        version=agency.version,
        successor_id=agency.successor_id,
    )


async def on_person_changed(event: Envelope, uow: UnitOfWork) -> None:
    assert isinstance(event.payload, PersonChanged)
    person = event.payload
    await directory_store.upsert_person(
        uow.conn,
        person.person_id,
        agency_id=person.agency_id,
        full_name=person.full_name,
        role=person.role if person.active else "",
        title=person.title,
        version=person.version,
    )


def handlers() -> dict[str, Handler]:
    """The consumed events: each task event alone (a batch of one); a transfer, which rewrites history from its
    effective day, alone in its key's order (transfers.py); the directory's agency tree and who heads each
    agency (directory_store.py)."""
    return {
        **{event_type: _alone(apply) for event_type, apply in APPLY.items()},
        "TaskTransferred": on_task_transferred,
        "AgencyChanged": on_agency_changed,
        "PersonChanged": on_person_changed,
    }


def batch_handler() -> BatchHandler:
    """Runs of task events in one transaction each (runtime/consuming.py), written by one flush."""
    return BatchHandler(frozenset(APPLY), apply_batch)
