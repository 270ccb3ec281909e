"""The envelope every dondoc message travels in (DESIGN §3, Contract).

A payload class names its event type, schema version and topic once; the envelope carries
the who, when and why. ``event_id`` is derived from the cause, so a re-sent command or a
re-processed event yields the same id and every inbox recognises it.
"""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SerializeAsAny

from events.text import NFCStr

# Fixed forever: changing it would change every deterministic event id.
EVENT_ID_NAMESPACE = uuid.UUID("7d1f6a52-3c5e-4b0e-9a55-0d0d0c0d0c00")


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WireModel(BaseModel):
    """Read tolerantly: a field added by a newer producer must not break an older consumer."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class EventPayload(WireModel):
    """Base of every event body. Subclasses set the three class variables."""

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    topic: ClassVar[str]


class Actor(WireModel):
    agency_id: NFCStr
    person_id: NFCStr | None = None


SYSTEM = Actor(agency_id="dondoc")
"""The actor of what dondoc does by itself (timers, alerts, monthly reports) or at its operator's hand on
the server (CLI, demo): no agency token stands behind it."""


def _unset(value: object) -> bool:
    """Fields added after the first published contract are left out of the JSON when unset, so an event
    without them serialises byte for byte as before and readers built before them still read it."""
    return value is None


class Envelope(WireModel):
    event_id: uuid.UUID
    event_type: str
    schema_version: int = Field(ge=1)
    occurred_at: AwareDatetime = Field(description="Recorded time: when dondoc learnt the fact (the event's own time)")
    effective_at: AwareDatetime | None = Field(
        None,
        exclude_if=_unset,
        description="Effective time, when it differs from occurred_at: when the fact took effect as its document "
        "or command says (the day a plan was issued, a completion reported, an extension decided). Never after "
        "occurred_at. Absent: the fact took effect when it was recorded.",
    )
    producer: str
    actor: Actor
    task_id: str | None = None
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None = None
    payload: SerializeAsAny[EventPayload]

    @property
    def topic(self) -> str:
        return self.payload.topic

    @property
    def effective(self) -> datetime:
        """When the fact counts (reports, as_of, the trend); ``occurred_at`` is when it was recorded."""
        return self.effective_at or self.occurred_at

    def log_context(self) -> dict[str, Any]:
        return {
            "event_id": str(self.event_id),
            "event_type": self.event_type,
            "task_id": self.task_id,
            "correlation_id": str(self.correlation_id),
        }


def deterministic_id(*parts: object) -> uuid.UUID:
    """A UUID that is the same for the same cause: ``deterministic_id(cause_id, "TaskOverdue", due)``."""
    # NFC first: the same Vietnamese key typed in another Unicode form is the same cause.
    return uuid.uuid5(EVENT_ID_NAMESPACE, unicodedata.normalize("NFC", "\x1f".join(str(p) for p in parts)))


def new_envelope(
    payload: EventPayload,
    *,
    event_id: uuid.UUID,
    occurred_at: datetime,
    producer: str,
    actor: Actor,
    task_id: str | None = None,
    cause: Envelope | None = None,
    effective_at: datetime | None = None,
) -> Envelope:
    """Build an envelope; with a cause, the new event joins the cause's correlation chain."""
    return Envelope(
        event_id=event_id,
        event_type=payload.event_type,
        schema_version=payload.schema_version,
        occurred_at=occurred_at,
        effective_at=effective_at,
        producer=producer,
        actor=actor,
        task_id=task_id,
        correlation_id=cause.correlation_id if cause else event_id,
        causation_id=cause.event_id if cause else None,
        payload=payload,
    )
