"""Assigning a task: pure rules, no I/O."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from events.deadlines import Deadline, DeadlineParseError, parse_deadline_or_date
from events.envelope import Frozen, deterministic_id
from events.tasks import Classification, SourceDocument, TaskAssigned
from events.text import NFCStr


class AssignTask(Frozen):
    """The command to assign a task (HTTP body of POST /v1/tasks, or an intake AssignTask)."""

    title: NFCStr = Field(min_length=1, max_length=2000)
    description: NFCStr = ""
    expected_product: NFCStr = ""
    source_document: SourceDocument
    assigning_agency_id: str = Field(min_length=1)
    lead_agency_id: str = Field(min_length=1, description="Cơ quan chủ trì: exactly one")
    coordinating_agency_ids: tuple[str, ...] = Field((), description="Cơ quan phối hợp")
    officer_in_charge_id: str | None = None
    deadline: NFCStr = Field(
        min_length=1, description="Vietnamese deadline text (e.g. 'Quý I năm 2023') or an ISO date"
    )
    key_task: bool = False
    classification: Classification = "cong-khai"
    code: NFCStr | None = Field(None, description="Defaults to '<document>#<n>' from the idempotency key")
    idempotency_key: NFCStr = Field(
        min_length=1, max_length=200, description="Same key, same task: a retried request creates nothing new"
    )

    @field_validator("coordinating_agency_ids")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _lead_is_not_coordinating(self) -> AssignTask:
        if self.lead_agency_id in self.coordinating_agency_ids:
            raise ValueError(
                "the lead agency (cơ quan chủ trì) cannot also be a coordinating agency (cơ quan phối hợp)"
            )
        return self


class AssignmentRejected(ValueError):
    def __init__(self, code: str, message_en: str, message_vi: str) -> None:
        super().__init__(message_en)
        self.code, self.message_en, self.message_vi = code, message_en, message_vi


def task_id_for(command: AssignTask) -> str:
    """Stable for a (assigner, idempotency key): the retry of a command names the same task."""
    return "t-" + deterministic_id("task", command.assigning_agency_id, command.idempotency_key).hex[:20]


def parse_deadline(command: AssignTask) -> Deadline:
    try:
        return parse_deadline_or_date(command.deadline, command.source_document.issued_on)
    except DeadlineParseError as exc:
        raise AssignmentRejected("deadline-unreadable", str(exc), exc.message_vi) from exc


def task_assigned(command: AssignTask, deadline: Deadline) -> TaskAssigned:
    if deadline.due is not None and deadline.kind == "fixed" and deadline.due < command.source_document.issued_on:
        raise AssignmentRejected(
            "deadline-before-document",
            f"the deadline {deadline.due.isoformat()} is before the document's date "
            f"{command.source_document.issued_on.isoformat()}",
            f"Thời hạn {deadline.due:%d/%m/%Y} sớm hơn ngày ban hành văn bản "
            f"{command.source_document.issued_on:%d/%m/%Y}",
        )
    return TaskAssigned(
        code=command.code or f"{command.source_document.number}#{command.idempotency_key}",
        title=command.title,
        description=command.description,
        expected_product=command.expected_product,
        source_document=command.source_document,
        assigning_agency_id=command.assigning_agency_id,
        lead_agency_id=command.lead_agency_id,
        coordinating_agency_ids=command.coordinating_agency_ids,
        officer_in_charge_id=command.officer_in_charge_id,
        deadline=deadline,
        key_task=command.key_task,
        classification=command.classification,
    )
