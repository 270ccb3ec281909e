"""Events of a task's progress (produced by the progress service), on ``dondoc.task-events`` keyed by
task id. TaskCompleted (the assigning agency's confirmation) lives in ``events.tasks`` with the other
lifecycle milestones; what leads up to it is here."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from events.envelope import WireModel
from events.limits import LEAD_DAYS_MAX, Code, Id, Link, Text
from events.tasks import TaskEvent


class Evidence(WireModel):
    """What proves the product exists: a document (number and date), a link, or a file reference."""

    document_number: Code | None = Field(None, description="Số hiệu văn bản báo cáo, e.g. 125/BC-SGDĐT")
    document_date: date | None = None
    link: Link | None = None
    file_ref: Link | None = Field(None, description="Reference of a file kept by the reporting agency")


class CompletionReported(TaskEvent):
    """The lead agency reports the task done; it waits for the assigning agency's confirmation."""

    event_type = "CompletionReported"
    reported_on: date = Field(description="The day completion was reported: compared with the deadline")
    deadline_in_force: date | None = Field(description="For a recurring task, the occurrence reported")
    original_deadline: date | None = None
    on_time: bool | None = Field(description="None when the task has no fixed deadline")
    product: Text = Field(description="The product delivered (sản phẩm)")
    evidence: Evidence = Evidence()
    open_children_override: Text | None = Field(
        None, description="Why the parent is reported complete while delegated children are still open"
    )


class CompletionReturned(TaskEvent):
    """The assigning agency sends the completion report back (back to in progress), with its reason."""

    event_type = "CompletionReturned"
    reason: Text = Field(min_length=1)
    reported_on: date = Field(description="The day of the completion report that is returned")
    deadline_in_force: date | None


class CoordinationNoteAdded(TaskEvent):
    """A coordinating agency (cơ quan phối hợp), or the lead, notes progress on its part."""

    event_type = "CoordinationNoteAdded"
    agency_id: Id
    note: Text = Field(min_length=1)


class ReminderLeadTimesSet(TaskEvent):
    """The reminders of one task no longer follow the defaults: working days before the deadline."""

    event_type = "ReminderLeadTimesSet"
    lead_days: tuple[int, ...] = Field(
        max_length=LEAD_DAYS_MAX, description="e.g. (10, 5, 1); empty means no reminder before the deadline"
    )
