"""Events of alerts, on ``dondoc.alert-events`` keyed by task id."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import Field

from events.envelope import EventPayload
from events.limits import ALERT_IDS_MAX, Id, LongText, Name, Title
from events.topics import ALERT_EVENTS

AlertKind = Literal["assigned", "approaching", "overdue", "escalated", "transferred"]
RecipientRole = Literal["officer", "head", "coordinator", "escalation"]


class AlertEvent(EventPayload):
    topic = ALERT_EVENTS


class AlertRaised(AlertEvent):
    event_type = "AlertRaised"
    alert_id: uuid.UUID
    kind: AlertKind
    threshold: Name
    recipient_person_id: Id
    recipient_role: RecipientRole
    lead_agency_id: Id
    title: Title
    due: date | None
    message_vi: LongText


Channel = Literal["in-app", "webhook", "email"]
ResolvedBecause = Literal["completed", "withdrawn", "deadline-extended", "transferred"]


class AlertDelivered(AlertEvent):
    """One successful delivery of an alert (or of a reminder of it) on one channel."""

    event_type = "AlertDelivered"
    alert_id: uuid.UUID
    channel: Channel
    recipient_person_id: Id
    reminder: int = Field(0, ge=0, description="0: the alert itself; n: its n-th repeated reminder")
    attempts: int = Field(1, ge=1, description="Tries it took on this channel")
    digest_day: date | None = Field(None, description="Delivered inside that day's digest")


class AlertAcknowledged(AlertEvent):
    """The recipient has seen the alert: overdue reminders to them stop."""

    event_type = "AlertAcknowledged"
    alert_id: uuid.UUID
    recipient_person_id: Id
    acknowledged_at: datetime


class AlertEscalated(AlertEvent):
    """A task still overdue after the escalation delay is raised to the assigning agency's head and
    its tracking office."""

    event_type = "AlertEscalated"
    due: date
    overdue_since: datetime
    escalated_to: tuple[Id, ...] = Field(
        max_length=ALERT_IDS_MAX, description="Person ids the escalation alerts went to"
    )
    unacknowledged_alert_ids: tuple[uuid.UUID, ...] = Field(
        (), max_length=ALERT_IDS_MAX, description="Overdue alerts nobody had acknowledged when it escalated"
    )


class AlertResolved(AlertEvent):
    """The alert no longer asks anything of its recipient."""

    event_type = "AlertResolved"
    alert_id: uuid.UUID
    recipient_person_id: Id
    because: ResolvedBecause
