"""Handlers of the alerts service: task events in, AlertRaised out (through the outbox)."""

from __future__ import annotations

from events.alerts import AlertKind, AlertRaised, RecipientRole
from events.envelope import Envelope
from events.tasks import DeadlineApproaching, TaskAssigned, TaskOverdue
from services.alerts import adapters
from services.alerts.domain import alert_id, message
from services.runtime.logs import get_logger
from services.runtime.unit_of_work import UnitOfWork

log = get_logger(__name__)


async def on_task_assigned(event: Envelope, uow: UnitOfWork) -> None:
    assert isinstance(event.payload, TaskAssigned) and event.task_id
    await adapters.upsert_task(uow.conn, event.task_id, event.payload)
    await _raise(event, uow, kind="assigned", threshold="assigned")


async def on_deadline_approaching(event: Envelope, uow: UnitOfWork) -> None:
    assert isinstance(event.payload, DeadlineApproaching)
    days = event.payload.working_days_left
    await _raise(event, uow, kind="approaching", threshold=f"{event.payload.due}:{days}wd", working_days_left=days)


async def on_task_overdue(event: Envelope, uow: UnitOfWork) -> None:
    assert isinstance(event.payload, TaskOverdue)
    await _raise(event, uow, kind="overdue", threshold=f"{event.payload.due}:overdue")


async def _raise(event: Envelope, uow: UnitOfWork, *, kind: AlertKind, threshold: str,
                 working_days_left: int | None = None) -> None:
    assert event.task_id
    task = await adapters.get_task(uow.conn, event.task_id)
    if task is None:
        # Task events of one task share a partition, so TaskAssigned always comes first;
        # reaching here means the assignment predates this service's log: nothing to address.
        log.warning("event for a task this service has never seen", kind=kind)
        return
    recipients: list[tuple[str, RecipientRole]] = []
    if task["officer_in_charge_id"]:
        recipients.append((task["officer_in_charge_id"], "officer"))
    for person_id, role in recipients:
        aid = alert_id(event.task_id, kind, threshold, person_id)
        text = message(kind, title=task["title"], code=task["code"], source_number=task["source_number"],
                       due=task["due"], working_days_left=working_days_left)
        created = await adapters.insert_alert(
            uow.conn, alert_id=aid, task_id=event.task_id, kind=kind, threshold=threshold,
            recipient_person_id=person_id, recipient_role=role, message_vi=text, due=task["due"],
            raised_at=uow.clock.now(),
        )
        if not created:
            continue
        await uow.emit(
            AlertRaised(alert_id=aid, kind=kind, threshold=threshold, recipient_person_id=person_id,
                        recipient_role=role, lead_agency_id=task["lead_agency_id"], title=task["title"],
                        due=task["due"], message_vi=text),
            actor=event.actor, task_id=event.task_id, id_parts=(aid,),
        )


EVENT_HANDLERS = {
    "TaskAssigned": on_task_assigned,
    "DeadlineApproaching": on_deadline_approaching,
    "TaskOverdue": on_task_overdue,
}
