"""Events of a task's life, all on ``dondoc.task-events`` keyed by task id."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from events.deadlines import Deadline
from events.envelope import EventPayload, WireModel
from events.limits import CHILDREN_MAX, Code, Id, IdList, LongText, Name, Text, Title
from events.topics import TASK_EVENTS

Classification = Literal["cong-khai", "noi-bo", "mat"]
"""công khai / nội bộ / mật: a secret (mật) task is seen only by the agencies involved."""


class SourceDocument(WireModel):
    number: Code = Field(description="Số hiệu văn bản, e.g. 131/NQ-CP")
    issued_on: date
    issuer: Name = Field(description="Cơ quan ban hành")


class TaskEvent(EventPayload):
    topic = TASK_EVENTS


class TaskAssigned(TaskEvent):
    event_type = "TaskAssigned"
    code: Code = Field(description="e.g. 131/NQ-CP/UBND-BD#13")
    title: Title
    description: LongText = ""
    expected_product: LongText = ""
    source_document: SourceDocument
    assigning_agency_id: Id
    lead_agency_id: Id
    coordinating_agency_ids: IdList = ()
    officer_in_charge_id: Id | None = None
    deadline: Deadline
    key_task: bool = False
    classification: Classification = "cong-khai"
    parent_task_id: Id | None = None
    coordinating_group_ids: IdList = Field(
        (),
        description="Groups the document names as coordinating ('các cơ quan, đơn vị liên quan'): "
        "only the relevant members take part, so the group is kept, never expanded",
    )
    assigning_document: SourceDocument | None = Field(
        None, description="The letter that passed the task on (e.g. 6958/UBND-KSTT for 131/NQ-CP), if any"
    )


class ProgressReported(TaskEvent):
    event_type = "ProgressReported"
    percent: int = Field(ge=0, le=100)
    note: Text = ""


class TaskCompleted(TaskEvent):
    event_type = "TaskCompleted"
    reported_on: date = Field(description="The day completion was reported: compared with the deadline")
    deadline_in_force: date | None
    on_time: bool | None = Field(description="None when the task has no fixed deadline")
    product: Text = Field(description="The product delivered: document number and date, a link")
    next_due: date | None = Field(
        None, description="Recurring tasks: the next occurrence, now tracked (the task stays open)"
    )


class DeadlineApproaching(TaskEvent):
    event_type = "DeadlineApproaching"
    due: date
    working_days_left: int = Field(ge=0)
    fires_at: datetime


class TaskOverdue(TaskEvent):
    event_type = "TaskOverdue"
    due: date
    overdue_since: datetime


# --- Delegation, extensions and withdrawal (produced by the assignment service) ---------------------

DelegatingRole = Literal["chu-tri", "phoi-hop"]
"""The delegating agency's role on the parent: lead (chủ trì) or coordinating (phối hợp) for its part."""


class DelegatedPart(WireModel):
    task_id: Id
    lead_agency_id: Id
    coordinating_agency_ids: IdList = ()


class TaskDelegated(TaskEvent):
    """On the parent task: an agency on it handed (part of) it down; each child has its TaskAssigned."""

    event_type = "TaskDelegated"
    delegation_id: Id
    delegating_agency_id: Id
    delegating_role: DelegatingRole
    document: SourceDocument | None = Field(None, description="The delegating letter, e.g. 2384/SGDĐT-VP")
    children: tuple[DelegatedPart, ...] = Field(min_length=1, max_length=CHILDREN_MAX)


class DeadlineExtensionRequested(TaskEvent):
    """The lead agency asks the assigning agency for a later deadline (gia hạn)."""

    event_type = "DeadlineExtensionRequested"
    request_id: Id
    requested_by_agency_id: Id
    reason: Text = Field(min_length=1)
    current_due: date | None = Field(description="The deadline in force when asked")
    proposed_due: date


class DeadlineExtended(TaskEvent):
    """The assigning agency approved an extension: ``deadline`` is now the deadline in force."""

    event_type = "DeadlineExtended"
    request_id: Id
    decided_by_agency_id: Id
    previous_due: date | None
    due: date
    deadline: Deadline
    original_due: date | None = Field(description="As first assigned, so reports can still tell it")
    note: Text = ""
    document: SourceDocument | None = None


class DeadlineExtensionRejected(TaskEvent):
    event_type = "DeadlineExtensionRejected"
    request_id: Id
    decided_by_agency_id: Id
    reason: Text = Field(min_length=1)
    document: SourceDocument | None = None


class TaskWithdrawn(TaskEvent):
    """Rút nhiệm vụ: the assigning agency takes the task back; it leaves the counts, listed apart."""

    event_type = "TaskWithdrawn"
    withdrawn_by_agency_id: Id
    reason: Text = Field(min_length=1)
    document: SourceDocument | None = None
    cascaded_from_task_id: Id | None = Field(
        None, description="Set on a delegated child withdrawn because its ancestor was"
    )


# --- Reorganisation (produced by the assignment service) ----------------------------------------------

TransferredRole = Literal["chu-tri", "phoi-hop", "giao"]
"""The old agency's place on the task: lead (chủ trì), coordinating (phối hợp) or assigning (giao)."""


class TaskTransferred(TaskEvent):
    """A reorganisation decision moved an open task from an abolished agency to its successor.

    The task keeps its history, deadlines and extensions; only the agency in ``role`` changes, from the
    moment ``effective_on`` (the day the new structure works) — a report as of an earlier day still reads
    the old agency. The officer in charge belonged to the old agency, so a new lead has none until its head
    names one (``officer_in_charge_id`` is cleared).
    """

    event_type = "TaskTransferred"
    reorganisation_id: Id
    decision: SourceDocument = Field(description="The reorganisation decision, e.g. Nghị quyết 202/2025/QH15")
    effective_on: date = Field(description="The day the successor takes over (the new structure works)")
    from_agency_id: Id
    to_agency_id: Id
    role: TransferredRole


def parties_after(
    lead: str, coordinating: tuple[str, ...], officer: str | None, transfer: TaskTransferred
) -> tuple[str, tuple[str, ...], str | None]:
    """(lead, coordinating agencies, officer in charge) once ``transfer`` holds; every service that keeps a
    task's parties applies the same rule. A coordinating agency that became the lead, or is named twice, is
    listed once; a new lead has no officer in charge until its head names one."""
    old, new = transfer.from_agency_id, transfer.to_agency_id
    if transfer.role == "chu-tri" and lead == old:
        lead, officer = new, None
    elif transfer.role == "phoi-hop":
        coordinating = tuple(new if c == old else c for c in coordinating)
    return lead, tuple(c for c in dict.fromkeys(coordinating) if c != lead), officer
