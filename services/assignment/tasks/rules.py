"""Rules of assigning, delegating and extending, and the ids that make retries harmless. Pure, no I/O."""

from __future__ import annotations

import hashlib
from datetime import date, datetime

from pydantic import BaseModel

from events.deadlines import Deadline, DeadlineParseError, parse_deadline_or_date
from events.effective import EffectiveTimeRefused, effective_at
from events.envelope import deterministic_id
from services.assignment.errors import Rejected
from services.runtime.access import may_assign as may_assign  # the authority rule lives there, once


def task_id_for(assigning_agency_id: str, idempotency_key: str) -> str:
    """Stable for an (assigner, idempotency key): the retry of a command names the same task."""
    return "t-" + deterministic_id("task", assigning_agency_id, idempotency_key).hex[:20]


def delegation_id_for(parent_task_id: str, agency_id: str, idempotency_key: str) -> str:
    return "d-" + deterministic_id("delegation", parent_task_id, agency_id, idempotency_key).hex[:20]


def request_id_for(task_id: str, agency_id: str, idempotency_key: str) -> str:
    return "x-" + deterministic_id("extension", task_id, agency_id, idempotency_key).hex[:20]


def command_hash(command: BaseModel) -> str:
    """What a retry must repeat exactly; a different command under the same key is a conflict."""
    return hashlib.sha256(command.model_dump_json().encode()).hexdigest()


def read_deadline(text: str, issued: date) -> Deadline:
    try:
        return parse_deadline_or_date(text, issued)
    except DeadlineParseError as exc:
        raise Rejected("deadline-unreadable", str(exc), exc.message_vi) from exc


def not_before(deadline: Deadline, day: date) -> None:
    """A fixed deadline before the document that sets it cannot be met: it is a typo, never a task."""
    if deadline.kind == "fixed" and deadline.due is not None and deadline.due < day:
        raise Rejected(
            "deadline-before-document",
            f"the deadline {deadline.due.isoformat()} is before the document's date {day.isoformat()}",
            f"Thời hạn {deadline.due:%d/%m/%Y} sớm hơn ngày ban hành văn bản {day:%d/%m/%Y}",
        )


def within_parent(child: Deadline, parent: Deadline) -> None:
    """A delegated part is due no later than the task it is part of (its deadline in force)."""
    if parent.due is None:
        return  # the parent has no fixed deadline: nothing to exceed
    if child.due is None or (child.kind == "recurring" and parent.kind == "fixed"):
        raise Rejected(
            "deadline-after-parent",
            f"the parent task is due {parent.due.isoformat()}: a part cannot have "
            f"{'no fixed deadline' if child.due is None else 'a recurring one'}",
            f"Nhiệm vụ cấp trên có thời hạn {parent.due:%d/%m/%Y}: phần việc giao tiếp phải có thời hạn không muộn hơn",
        )
    if child.due > parent.due:
        raise Rejected(
            "deadline-after-parent",
            f"the part's deadline {child.due.isoformat()} is after the parent's {parent.due.isoformat()}",
            f"Thời hạn {child.due:%d/%m/%Y} muộn hơn thời hạn của nhiệm vụ cấp trên ({parent.due:%d/%m/%Y})",
        )


def later_fixed(proposed: Deadline, current: Deadline) -> None:
    """An extension moves a fixed deadline later, to a fixed date."""
    if proposed.kind != "fixed" or proposed.due is None:
        raise Rejected("extension-needs-date", "an extension needs one fixed date", "Gia hạn phải đến một ngày cụ thể")
    if current.due is not None and proposed.due <= current.due:
        raise Rejected(
            "extension-not-later",
            f"{proposed.due.isoformat()} is not later than the deadline in force {current.due.isoformat()}",
            f"Ngày {proposed.due:%d/%m/%Y} không muộn hơn thời hạn hiện hành {current.due:%d/%m/%Y}",
        )


def fixed_deadline_to_extend(current: Deadline) -> None:
    if current.kind != "fixed":
        raise Rejected(
            "extension-needs-fixed-deadline",
            f"only a fixed deadline can be extended (this one is {current.kind})",
            "Chỉ gia hạn được nhiệm vụ có thời hạn cụ thể"
            + (" (nhiệm vụ định kỳ)" if current.kind == "recurring" else " (nhiệm vụ không có thời hạn)"),
        )


def effective(day: date | None, recorded: datetime, *, not_before: date | None = None) -> datetime | None:
    """When a fact its document dates ``day`` takes effect (None: when recorded); events/effective.py's rule,
    refused here as every assignment rule is."""
    try:
        return effective_at(day, recorded, not_before=not_before)
    except EffectiveTimeRefused as exc:
        raise Rejected(exc.code, exc.message, exc.message_vi) from exc
