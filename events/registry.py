"""Every event type, known once: the codec decodes through it, contracts are generated from it."""

from __future__ import annotations

from events.alerts import AlertAcknowledged, AlertDelivered, AlertEscalated, AlertRaised, AlertResolved
from events.directory import AgencyChanged, AgencyGroupChanged, PersonChanged, TokenRevoked
from events.envelope import EventPayload
from events.intake import IntakeRejected
from events.progress import (
    CompletionReported,
    CompletionReturned,
    CoordinationNoteAdded,
    ReminderLeadTimesSet,
)
from events.reports import ReportPublished
from events.tasks import (
    DeadlineApproaching,
    DeadlineExtended,
    DeadlineExtensionRejected,
    DeadlineExtensionRequested,
    ProgressReported,
    TaskAssigned,
    TaskCompleted,
    TaskDelegated,
    TaskOverdue,
    TaskTransferred,
    TaskWithdrawn,
)

EVENT_TYPES: tuple[type[EventPayload], ...] = (
    TaskAssigned,
    ProgressReported,
    TaskCompleted,
    DeadlineApproaching,
    TaskOverdue,
    TaskDelegated,
    DeadlineExtensionRequested,
    DeadlineExtended,
    DeadlineExtensionRejected,
    TaskWithdrawn,
    TaskTransferred,
    AgencyChanged,
    PersonChanged,
    AgencyGroupChanged,
    TokenRevoked,
    IntakeRejected,
    AlertRaised,
    CompletionReported,
    CompletionReturned,
    CoordinationNoteAdded,
    ReminderLeadTimesSet,
    AlertDelivered,
    AlertAcknowledged,
    AlertEscalated,
    AlertResolved,
    ReportPublished,
)

BY_TYPE_AND_VERSION: dict[tuple[str, int], type[EventPayload]] = {
    (cls.event_type, cls.schema_version): cls for cls in EVENT_TYPES
}


def payload_class(event_type: str, schema_version: int) -> type[EventPayload] | None:
    return BY_TYPE_AND_VERSION.get((event_type, schema_version))
