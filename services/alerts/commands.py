"""Commands of the alerts service: acknowledging an alert."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from events.alerts import AlertAcknowledged
from events.clock import VN_TZ
from events.envelope import Actor
from services.alerts import adapters, inapp
from services.runtime import timers
from services.runtime.refusals import forbidden, not_found
from services.runtime.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """The answer to an acknowledgement: the alert and when it was first acknowledged."""

    alert_id: uuid.UUID
    acknowledged_at: datetime


async def acknowledge(alert_id: uuid.UUID, agency_id: str, uow: UnitOfWork) -> Acknowledgement:
    """Idempotent: a second acknowledgement answers with the first one's time and emits nothing."""
    alert = await adapters.get_alert(uow.conn, alert_id, lock=True)
    if alert is None:
        raise not_found("alert", "cảnh báo", str(alert_id), "alert-not-found")
    if alert.recipient_agency_id not in (None, agency_id):
        raise forbidden(
            "not-recipient-agency",
            f"the alert is addressed to a person of {alert.recipient_agency_id}; only that agency acknowledges it",
            f"Cảnh báo gửi cho cán bộ của {alert.recipient_agency_id}; chỉ cơ quan đó được xác nhận đã nhận",
        )
    acknowledged_at = alert.acknowledged_at
    if acknowledged_at is None:
        acknowledged_at = now = uow.clock.now()
        person = alert.recipient_person_id
        await adapters.acknowledge(uow.conn, alert_id, now)
        await timers.cancel(uow.conn, str(alert_id))  # the overdue repeats to this person stop
        await inapp.lock_people(uow.conn, [person])
        await inapp.append(
            uow.conn,
            person,
            "acknowledged",
            {"event": "acknowledged", "alert_id": alert_id, "task_id": alert.task_id},
        )
        await uow.emit(
            AlertAcknowledged(alert_id=alert_id, recipient_person_id=person, acknowledged_at=now),
            actor=Actor(agency_id=agency_id),
            task_id=alert.task_id,
            id_parts=(alert_id, "ack"),
        )
    return Acknowledgement(alert_id, acknowledged_at.astimezone(VN_TZ))
