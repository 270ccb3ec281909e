"""Events of alerts, on ``dondoc.alert-events`` keyed by task id."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from events.envelope import EventPayload
from events.text import NFCStr
from events.topics import ALERT_EVENTS

AlertKind = Literal["assigned", "approaching", "overdue"]
RecipientRole = Literal["officer", "head", "coordinator", "escalation"]


class AlertEvent(EventPayload):
    topic = ALERT_EVENTS


class AlertRaised(AlertEvent):
    event_type = "AlertRaised"
    alert_id: uuid.UUID
    kind: AlertKind
    threshold: str
    recipient_person_id: str
    recipient_role: RecipientRole
    lead_agency_id: str
    title: NFCStr
    due: date | None
    message_vi: NFCStr
