"""Commands of the assignment service: HTTP bodies and intake payloads alike.

The acting agency is never trusted from a body: it comes from the bearer token or the intake
signature. ``AssignTask.assigning_agency_id`` is accepted only to stay compatible with clients that
send it, and must then name the token's own agency.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from events.envelope import Frozen
from events.limits import (
    CHILDREN_MAX,
    ID_MAX,
    IDS_MAX,
    Code,
    DeadlineText,
    Id,
    LongText,
    Text,
    Title,
)
from events.tasks import Classification, SourceDocument
from events.text import NFCStr
from services.assignment.errors import forbidden

_KEY = Field(min_length=1, max_length=ID_MAX, description="Same key, same result: a retry creates nothing new")
_DEADLINE_HELP = "Vietnamese deadline text (e.g. 'Quý I năm 2023', 'Trước ngày 15/9/2023') or an ISO date"


def _unset(value: object) -> bool:
    # Left out of the JSON when unset: a command without it hashes as before (rules.command_hash), so a
    # retry of a command sent before the field existed is still the same command.
    return value is None


def _unique(value: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(value))


Ids = Annotated[tuple[Id, ...], Field(max_length=IDS_MAX), AfterValidator(_unique)]


class AssignTask(Frozen):
    """Giao nhiệm vụ: one lead agency (cơ quan chủ trì), any number of coordinating ones (phối hợp)."""

    title: Title = Field(min_length=1)
    description: LongText = ""
    expected_product: LongText = ""
    source_document: SourceDocument
    assigning_document: SourceDocument | None = Field(
        None, description="The letter passing the source document's task on (e.g. 6958/UBND-KSTT)"
    )
    assigned_on: date | None = Field(
        None,
        exclude_if=_unset,
        description="The day the task was assigned (its effective date: reports count it from then); defaults to "
        "the assigning letter's date, else the day dondoc records it. Not in the future, not before the source "
        "document.",
    )
    assigning_agency_id: Id | None = Field(None, description="Taken from the token; if sent, must equal it")
    lead_agency_id: Id = Field(min_length=1, description="Cơ quan chủ trì: exactly one")
    coordinating_agency_ids: Ids = Field((), description="Cơ quan phối hợp")
    coordinating_group_ids: Ids = Field(
        (), description="Groups named as coordinating ('các cơ quan, đơn vị liên quan'), kept as groups"
    )
    officer_in_charge_id: Id | None = Field(None, description="A person of the lead agency or its units")
    deadline: DeadlineText = Field(min_length=1, description=_DEADLINE_HELP)
    key_task: bool = Field(False, description="Nhiệm vụ trọng tâm")
    classification: Classification = Field("cong-khai", description="mat: seen only by the agencies involved")
    code: Code | None = Field(None, description="Defaults to '<document>#<idempotency key>'")
    idempotency_key: NFCStr = _KEY

    @model_validator(mode="after")
    def _lead_is_not_coordinating(self) -> AssignTask:
        if self.lead_agency_id in self.coordinating_agency_ids:
            raise ValueError(
                "the lead agency (cơ quan chủ trì) cannot also be a coordinating agency (cơ quan phối hợp)"
            )
        return self

    def acting_as(self, agency_id: str) -> AssignTask:
        """This command as assigned by ``agency_id`` (the authenticated agency)."""
        if self.assigning_agency_id not in (None, agency_id):
            raise forbidden(
                "acts-for-another-agency",
                f"the token is {agency_id}'s; it cannot assign as {self.assigning_agency_id}",
                f"Mã xác thực của {agency_id} không thể giao nhiệm vụ thay {self.assigning_agency_id}",
            )
        return self.model_copy(update={"assigning_agency_id": agency_id})


class DelegationPart(Frozen):
    """One child task. Unset fields follow the parent (its deadline in force, title, product)."""

    lead_agency_id: Id = Field(min_length=1)
    coordinating_agency_ids: Ids = ()
    officer_in_charge_id: Id | None = None
    title: Title | None = None
    description: LongText = ""
    expected_product: LongText | None = None
    deadline: DeadlineText | None = Field(None, description="Not later than the parent's. " + _DEADLINE_HELP)
    key_task: bool | None = None

    @model_validator(mode="after")
    def _lead_is_not_coordinating(self) -> DelegationPart:
        if self.lead_agency_id in self.coordinating_agency_ids:
            raise ValueError("the lead agency of a part cannot also coordinate it")
        return self


class DelegateTask(Frozen):
    """Hand all or part of a task down, to agencies under the delegating one."""

    children: tuple[DelegationPart, ...] = Field(min_length=1, max_length=CHILDREN_MAX)
    document: SourceDocument | None = Field(None, description="The delegating letter, e.g. 2384/SGDĐT-VP")
    idempotency_key: NFCStr = _KEY


class RequestExtension(Frozen):
    """Xin gia hạn: by the lead agency, decided by the assigning agency."""

    proposed_due: DeadlineText = Field(min_length=1, description=_DEADLINE_HELP)
    reason: Text = Field(min_length=1)
    idempotency_key: NFCStr = _KEY


class DecideExtension(Frozen):
    decision: Literal["approve", "reject"]
    due: DeadlineText | None = Field(None, description="Approve: the new deadline; defaults to the one proposed")
    reason: Text = Field("", description="Required to reject")
    document: SourceDocument | None = None

    @model_validator(mode="after")
    def _reason_to_reject(self) -> DecideExtension:
        if self.decision == "reject" and not self.reason.strip():
            raise ValueError("a rejection needs a reason (lý do)")
        return self


class WithdrawTask(Frozen):
    """Rút nhiệm vụ: by the assigning agency, with a reason."""

    reason: Text = Field(min_length=1)
    document: SourceDocument | None = None
