"""A task as the assignment service holds it, and who may see and act on it. Pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import asyncpg
from pydantic import BaseModel, ConfigDict, computed_field

from events.deadlines import Deadline
from events.tasks import Classification, DelegatingRole, SourceDocument
from services.runtime.access import may_see


@dataclass(frozen=True)
class Task:
    task_id: str
    code: str
    title: str
    description: str
    expected_product: str
    source_document: SourceDocument
    assigning_agency_id: str
    lead_agency_id: str
    coordinating_agency_ids: tuple[str, ...]
    officer_in_charge_id: str | None
    deadline: Deadline  # as first assigned
    deadline_in_force: Deadline  # after approved extensions
    key_task: bool
    classification: Classification
    parent_task_id: str | None
    withdrawn_at: datetime | None
    assigned_at: datetime | None = None  # effective: when the task counts from (events/effective.py)

    @classmethod
    def of(cls, row: asyncpg.Record) -> Task:
        return cls(
            task_id=row["task_id"],
            code=row["code"],
            title=row["title"],
            description=row["description"],
            expected_product=row["expected_product"],
            source_document=SourceDocument(
                number=row["source_number"], issued_on=row["source_issued_on"], issuer=row["source_issuer"]
            ),
            assigning_agency_id=row["assigning_agency_id"],
            lead_agency_id=row["lead_agency_id"],
            coordinating_agency_ids=tuple(row["coordinating_agency_ids"]),
            officer_in_charge_id=row["officer_in_charge_id"],
            deadline=Deadline.model_validate_json(row["deadline"]),
            deadline_in_force=Deadline.model_validate_json(row["deadline_in_force"]),
            key_task=row["key_task"],
            classification=row["classification"],
            parent_task_id=row["parent_task_id"],
            withdrawn_at=row["withdrawn_at"],
            assigned_at=row["assigned_at"],
        )

    @property
    def parties(self) -> frozenset[str]:
        """The agencies involved: the assigner, the lead and the coordinating agencies."""
        return frozenset({self.assigning_agency_id, self.lead_agency_id, *self.coordinating_agency_ids})

    def visible_to(self, agency_id: str | None) -> bool:
        """A secret (mật) task exists only for the agencies involved; the others are public."""
        return may_see(self.classification, self.parties, agency_id)

    def role_of(self, agency_id: str) -> DelegatingRole | None:
        if agency_id == self.lead_agency_id:
            return "chu-tri"
        return "phoi-hop" if agency_id in self.coordinating_agency_ids else None


class TaskView(BaseModel):
    """A row of ``tasks`` as the HTTP API shows it: every column but the command hash, its documents read
    into their models, and its status."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    code: str
    assigning_agency_id: str
    idempotency_key: str
    title: str
    description: str
    expected_product: str
    source_number: str
    source_issued_on: date
    source_issuer: str
    lead_agency_id: str
    coordinating_agency_ids: tuple[str, ...]
    officer_in_charge_id: str | None
    deadline: Deadline
    key_task: bool
    classification: str
    parent_task_id: str | None
    assigned_at: datetime
    deadline_in_force: Deadline
    coordinating_group_ids: tuple[str, ...]
    assigning_document: SourceDocument | None
    delegation_id: str | None
    withdrawn_at: datetime | None
    withdrawn_by: str | None
    withdrawal_reason: str | None
    completed_at: datetime | None

    @classmethod
    def of(cls, row: asyncpg.Record) -> TaskView:
        document = row["assigning_document"]
        return cls(
            **{
                **dict(row),
                "coordinating_agency_ids": tuple(row["coordinating_agency_ids"]),
                "coordinating_group_ids": tuple(row["coordinating_group_ids"]),
                "deadline": Deadline.model_validate_json(row["deadline"]),
                "deadline_in_force": Deadline.model_validate_json(row["deadline_in_force"]),
                "assigning_document": SourceDocument.model_validate_json(document) if document is not None else None,
            }
        )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> str:
        return "withdrawn" if self.withdrawn_at else "assigned"


VIEW_COLUMNS = ", ".join(TaskView.model_fields)
