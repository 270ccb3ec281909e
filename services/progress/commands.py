"""Commands of the progress service (HTTP bodies and intake payloads). The acting agency is not in
the body: it comes from the caller's token, or the intake envelope's actor."""

from __future__ import annotations

from pydantic import Field

from events.envelope import Frozen
from events.progress import Evidence
from events.text import NFCStr


class ReportProgress(Frozen):
    percent: int = Field(ge=0, le=100)
    note: NFCStr = ""
    idempotency_key: NFCStr | None = None


class ReportCompletion(Frozen):
    product: NFCStr = Field(min_length=1, description="Sản phẩm: document number and date, or a link")
    evidence: Evidence = Evidence()
    open_children_override: NFCStr | None = Field(
        None, min_length=1, description="Required when delegated children are still open: why complete anyway"
    )
    idempotency_key: NFCStr | None = None


class ConfirmCompletion(Frozen):
    idempotency_key: NFCStr | None = None


class ReturnCompletion(Frozen):
    reason: NFCStr = Field(min_length=1, description="Lý do trả lại")
    idempotency_key: NFCStr | None = None


class AddNote(Frozen):
    note: NFCStr = Field(min_length=1, max_length=4000)
    idempotency_key: NFCStr | None = None


class SetLeadTimes(Frozen):
    lead_days: tuple[int, ...] = Field(max_length=10, description="Working days before the deadline, e.g. [10, 5, 1]")
    idempotency_key: NFCStr | None = None
