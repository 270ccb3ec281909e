"""Commands of the progress service (HTTP bodies and intake payloads). The acting agency is not in
the body: it comes from the caller's token, or the intake envelope's actor."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import Field

from events.envelope import Frozen
from events.limits import ID_MAX, LEAD_DAYS_MAX, Text
from events.progress import Evidence
from events.text import NFCStr

Key = Annotated[NFCStr, Field(min_length=1, max_length=ID_MAX)]
"""A client's idempotency key: the same key with the same body is the same command; with another, 409."""


class ReportProgress(Frozen):
    percent: int = Field(ge=0, le=100)
    note: Text = ""
    idempotency_key: Key | None = None


class ReportCompletion(Frozen):
    product: Text = Field(min_length=1, description="Sản phẩm: document number and date, or a link")
    reported_on: date | None = Field(
        None,
        exclude_if=lambda v: v is None,  # unset: the body hashes as before (idempotency of older retries)
        description="The day completion was reported (the report's date), if not today: it is compared with the "
        "deadline and reports count the completion from then. Not in the future, not before the task was assigned.",
    )
    evidence: Evidence = Evidence()
    open_children_override: Text | None = Field(
        None, min_length=1, description="Required when delegated children are still open: why complete anyway"
    )
    idempotency_key: Key | None = None


class ConfirmCompletion(Frozen):
    idempotency_key: Key | None = None


class ReturnCompletion(Frozen):
    reason: Text = Field(min_length=1, description="Lý do trả lại")
    idempotency_key: Key | None = None


class AddNote(Frozen):
    note: Text = Field(min_length=1)
    idempotency_key: Key | None = None


class SetLeadTimes(Frozen):
    lead_days: tuple[int, ...] = Field(
        max_length=LEAD_DAYS_MAX, description="Working days before the deadline, e.g. [10, 5, 1]"
    )
    idempotency_key: Key | None = None
