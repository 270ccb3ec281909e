"""HTTP entrypoints of the audit service."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request

from services.audit import adapters
from services.audit.adapters import HistoryEntry
from services.runtime.access import involved, may_see, viewer_of
from services.runtime.auth import OptionalAgency
from services.runtime.refusals import not_found
from services.runtime.service import runtime_of

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/tasks/{task_id}")
async def task_history(task_id: str, request: Request, agency: OptionalAgency) -> dict[str, Any]:
    """Lịch sử nhiệm vụ: every event of a task in the order it happened (``seq``: the chain's order), with
    its chain hash. The access rule of every route (runtime/access.py): a public task's history to anyone,
    a secret (mật) task's only to a token of an agency involved in it. A task whose ``TaskAssigned`` was
    not recorded yet has an unknown classification, and unknown is secret: its history is shown to nobody
    until then. A task the caller may not see answers exactly as one never recorded (404): the refusal names
    nothing, not even that the task exists."""
    events = await adapters.task_history(runtime_of(request).pool, task_id)
    classification, parties = _assignment(events)
    if not events or not may_see(classification, parties, viewer_of(agency)):
        raise not_found("task", "nhiệm vụ", task_id, "task-not-found")
    return {"task_id": task_id, "events": [asdict(e) for e in events]}


def _assignment(events: list[HistoryEntry]) -> tuple[str | None, set[str]]:
    """The task's classification and the agencies involved, as its TaskAssigned says; (None, ∅) when it was
    not recorded (or is unreadable): unknown, hence secret to everyone. Read from the JSON as recorded,
    not the model: an assignment recorded under an older schema still counts."""
    for recorded in events:
        payload = recorded.event.get("payload")
        if recorded.event.get("event_type") == "TaskAssigned" and isinstance(payload, dict):
            classification = payload.get("classification")
            parties = involved(
                payload.get("assigning_agency_id"),
                payload.get("lead_agency_id"),
                payload.get("coordinating_agency_ids") or (),
            )
            return (classification if isinstance(classification, str) else None), parties
    return None, set()
