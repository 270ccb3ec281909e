"""Consumed task events: raise alerts as deadlines near and pass, resolve them when the task no longer
asks anything of anyone, and keep the overdue reminders and the escalation timed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from events.envelope import Envelope
from events.tasks import (
    DeadlineApproaching,
    DeadlineExtended,
    TaskAssigned,
    TaskCompleted,
    TaskOverdue,
    TaskTransferred,
    parties_after,
)
from services.alerts import adapters, raising
from services.alerts.config import AlertsConfig
from services.alerts.domain import REPEATED_ROLES
from services.alerts.raising import ESCALATE, REPEAT
from services.runtime import timers
from services.runtime.consuming import BatchHandler, in_segments
from services.runtime.logs import get_logger
from services.runtime.unit_of_work import Handler, UnitOfWork

log = get_logger(__name__)


async def _open_task(event: Envelope, uow: UnitOfWork) -> dict[str, Any] | None:
    assert event.task_id
    task = await adapters.get_task(uow.conn, event.task_id, lock=True)
    if task is None:
        # Task events of one task share a partition, so TaskAssigned always comes first; reaching here
        # means the assignment predates this service's log: nothing to address.
        log.warning("event for a task this service has never seen", event_type=event.event_type)
        return None
    return task if task["status"] == "open" else None


def handlers(config: AlertsConfig) -> dict[str, Handler]:
    repeat_every = timedelta(seconds=config.overdue_repeat_s)

    async def on_task_assigned(event: Envelope, uow: UnitOfWork) -> None:
        await on_tasks_assigned(config, [(event, uow)])

    async def on_deadline_approaching(event: Envelope, uow: UnitOfWork) -> None:
        assert isinstance(event.payload, DeadlineApproaching)
        if (task := await _open_task(event, uow)) is not None:
            await raising.raise_alerts(
                uow,
                task,
                "approaching",
                due=event.payload.due,
                actor=event.actor,
                config=config,
                working_days_left=event.payload.working_days_left,
            )

    async def on_task_overdue(event: Envelope, uow: UnitOfWork) -> None:
        payload = event.payload
        assert isinstance(payload, TaskOverdue) and event.task_id
        if (task := await _open_task(event, uow)) is None:
            return
        created = await raising.raise_alerts(uow, task, "overdue", due=payload.due, actor=event.actor, config=config)
        for alert in created:
            if alert["recipient_role"] in REPEATED_ROLES:
                await timers.schedule(
                    uow.conn,
                    kind=REPEAT,
                    subject_id=str(alert["alert_id"]),
                    dedup_key="1",
                    fire_at=alert["raised_at"] + repeat_every,
                )
        await timers.schedule(
            uow.conn,
            kind=ESCALATE,
            subject_id=event.task_id,
            dedup_key=str(payload.due),
            fire_at=payload.overdue_since + timedelta(seconds=config.escalation_delay_s),
            data={"due": payload.due.isoformat(), "overdue_since": payload.overdue_since.isoformat()},
        )

    async def on_completion_reported(event: Envelope, uow: UnitOfWork) -> None:
        # Repeats pause while the assigning agency decides; a return resumes them.
        if await _open_task(event, uow) is not None:
            await adapters.set_task(uow.conn, event.task_id or "", status="completion_reported")

    async def on_completion_returned(event: Envelope, uow: UnitOfWork) -> None:
        await adapters.set_task(uow.conn, event.task_id or "", status="open")

    async def on_task_completed(event: Envelope, uow: UnitOfWork) -> None:
        payload = event.payload
        assert isinstance(payload, TaskCompleted) and event.task_id
        # A recurring task resolves only the occurrence just completed; the next one stays followed.
        until = payload.deadline_in_force if payload.next_due else None
        await raising.resolve_alerts(uow, event.task_id, "completed", actor=event.actor, due_until=until)
        await timers.cancel(uow.conn, event.task_id, kinds=(ESCALATE,))
        if payload.next_due:
            await adapters.set_task(uow.conn, event.task_id, status="open", due=payload.next_due)
        else:
            await adapters.set_task(uow.conn, event.task_id, status="completed")

    async def on_task_withdrawn(event: Envelope, uow: UnitOfWork) -> None:
        assert event.task_id
        await raising.resolve_alerts(uow, event.task_id, "withdrawn", actor=event.actor)
        await timers.cancel(uow.conn, event.task_id, kinds=(ESCALATE,))
        await adapters.set_task(uow.conn, event.task_id, status="withdrawn")

    async def on_deadline_extended(event: Envelope, uow: UnitOfWork) -> None:
        payload = event.payload
        assert isinstance(payload, DeadlineExtended) and event.task_id
        # Reminders and overdue alerts of the old deadline no longer hold; the new one gets its own.
        await raising.resolve_alerts(
            uow,
            event.task_id,
            "deadline-extended",
            actor=event.actor,
            kinds=("approaching", "overdue", "escalated"),
        )
        await timers.cancel(uow.conn, event.task_id, kinds=(ESCALATE,))
        await adapters.set_task(uow.conn, event.task_id, due=payload.due)

    async def on_task_transferred(event: Envelope, uow: UnitOfWork) -> None:
        """A reorganisation moved the task: the old agency's alerts no longer ask anything of its people, and
        the successor's people are told once ("nhiệm vụ được chuyển giao")."""
        payload = event.payload
        assert isinstance(payload, TaskTransferred) and event.task_id
        task = await adapters.get_task(uow.conn, event.task_id, lock=True)
        if task is None:
            log.warning("transfer of a task this service has never seen")
            return
        await raising.resolve_alerts(
            uow, event.task_id, "transferred", actor=event.actor, recipient_agency_id=payload.from_agency_id
        )
        lead, coordinating, officer = parties_after(
            task["lead_agency_id"], tuple(task["coordinating_agency_ids"] or ()), task["officer_in_charge_id"], payload
        )
        await adapters.set_parties(uow.conn, event.task_id, lead, list(coordinating), officer)
        if task["status"] not in ("open", "completion_reported"):
            return  # completed or withdrawn meanwhile: nothing to do for the successor
        moved = {
            **task,
            "lead_agency_id": lead,
            "coordinating_agency_ids": list(coordinating),
            "officer_in_charge_id": officer,
        }
        await raising.raise_alerts(
            uow, moved, "transferred", due=task["due"], actor=event.actor, config=config, transfer=payload
        )

    return {
        "TaskTransferred": on_task_transferred,
        "TaskAssigned": on_task_assigned,
        "DeadlineApproaching": on_deadline_approaching,
        "TaskOverdue": on_task_overdue,
        "CompletionReported": on_completion_reported,
        "CompletionReturned": on_completion_returned,
        "TaskCompleted": on_task_completed,
        "TaskWithdrawn": on_task_withdrawn,
        "DeadlineExtended": on_deadline_extended,
    }


async def on_tasks_assigned(config: AlertsConfig, items: Sequence[tuple[Envelope, UnitOfWork]]) -> None:
    """Tasks (each of another id) recorded and their "assigned" alerts raised, in a handful of statements
    for all of them (raising.raise_many)."""
    assigned: list[tuple[str, TaskAssigned]] = []
    for event, _ in items:
        assert isinstance(event.payload, TaskAssigned) and event.task_id
        assigned.append((event.task_id, event.payload))
    conn = items[0][1].conn
    await adapters.insert_tasks(conn, assigned)
    tasks = await adapters.get_tasks(conn, [task_id for task_id, _ in assigned])
    causes = []
    for (task_id, _), (event, uow) in zip(assigned, items, strict=True):
        task = tasks[task_id]
        causes.append(raising.Cause(uow, task, "assigned", task["due"], event.actor))
    await raising.raise_many(causes, config)


def batch_handler(config: AlertsConfig) -> BatchHandler:
    """Runs of task events in one transaction each (runtime/consuming.py), new tasks set-based: a bulk
    import commits once per run and raises its alerts in a few statements."""
    own = handlers(config)

    async def assigned(items: Sequence[tuple[Envelope, UnitOfWork]]) -> None:
        await on_tasks_assigned(config, items)

    return in_segments(own, own, {"TaskAssigned": assigned})
