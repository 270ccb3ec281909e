"""Events of a task's life, all on ``dondoc.task-events`` keyed by task id."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from events.deadlines import Deadline
from events.envelope import EventPayload, WireModel
from events.text import NFCStr
from events.topics import TASK_EVENTS

Classification = Literal["cong-khai", "noi-bo", "mat"]
"""công khai / nội bộ / mật: a secret (mật) task is seen only by the agencies involved."""


class SourceDocument(WireModel):
    number: NFCStr = Field(description="Số hiệu văn bản, e.g. 131/NQ-CP")
    issued_on: date
    issuer: NFCStr = Field(description="Cơ quan ban hành")


class TaskEvent(EventPayload):
    topic = TASK_EVENTS


class TaskAssigned(TaskEvent):
    event_type = "TaskAssigned"
    code: NFCStr = Field(description="e.g. 131/NQ-CP/UBND-BD#13")
    title: NFCStr
    description: NFCStr = ""
    expected_product: NFCStr = ""
    source_document: SourceDocument
    assigning_agency_id: str
    lead_agency_id: str
    coordinating_agency_ids: tuple[str, ...] = ()
    officer_in_charge_id: str | None = None
    deadline: Deadline
    key_task: bool = False
    classification: Classification = "cong-khai"
    parent_task_id: str | None = None


class ProgressReported(TaskEvent):
    event_type = "ProgressReported"
    percent: int = Field(ge=0, le=100)
    note: NFCStr = ""


class TaskCompleted(TaskEvent):
    event_type = "TaskCompleted"
    reported_on: date = Field(description="The day completion was reported: compared with the deadline")
    deadline_in_force: date | None
    on_time: bool | None = Field(description="None when the task has no fixed deadline")
    product: NFCStr = Field(description="The product delivered: document number and date, a link")


class DeadlineApproaching(TaskEvent):
    event_type = "DeadlineApproaching"
    due: date
    working_days_left: int = Field(ge=0)
    fires_at: datetime


class TaskOverdue(TaskEvent):
    event_type = "TaskOverdue"
    due: date
    overdue_since: datetime
