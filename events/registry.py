"""Every event type, known once: the codec decodes through it, contracts are generated from it."""

from __future__ import annotations

from events.alerts import AlertRaised
from events.envelope import EventPayload
from events.tasks import DeadlineApproaching, ProgressReported, TaskAssigned, TaskCompleted, TaskOverdue

EVENT_TYPES: tuple[type[EventPayload], ...] = (
    TaskAssigned,
    ProgressReported,
    TaskCompleted,
    DeadlineApproaching,
    TaskOverdue,
    AlertRaised,
)

BY_TYPE_AND_VERSION: dict[tuple[str, int], type[EventPayload]] = {
    (cls.event_type, cls.schema_version): cls for cls in EVENT_TYPES
}


def payload_class(event_type: str, schema_version: int) -> type[EventPayload] | None:
    return BY_TYPE_AND_VERSION.get((event_type, schema_version))
