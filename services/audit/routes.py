"""HTTP entrypoints of the audit service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from services.audit import adapters
from services.runtime.access import involved, may_see, viewer_of
from services.runtime.auth import OptionalAgency
from services.runtime.refusals import Refused, not_found
from services.runtime.service import runtime_of

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/tasks/{task_id}")
async def task_history(task_id: str, request: Request, agency: OptionalAgency) -> dict[str, Any]:
    """Lịch sử nhiệm vụ: every event of a task in the order it happened (``seq``: the chain's order), with
    its chain hash. The access rule of every route (runtime/access.py): a public task's history to anyone,
    a secret (mật) task's only to a token of an agency involved in it. A task whose ``TaskAssigned`` was
    not recorded yet has an unknown classification, and unknown is secret: its history is shown to nobody
    until then. A refusal names nothing (no agency, no title)."""
    events = await adapters.task_history(runtime_of(request).pool, task_id)
    if not events:
        raise not_found("recorded event of task", "sự kiện đã ghi của nhiệm vụ", task_id, "task-not-found")
    classification, parties = _assignment(events)
    if not may_see(classification, parties, viewer_of(agency)):
        raise Refused(
            "secret-task",
            "this task's history is shown only with the token of an agency involved in it (a secret task, "
            "or one whose assignment was not recorded yet)",
            "Lịch sử nhiệm vụ này chỉ hiển thị với mã xác thực của cơ quan giao, chủ trì hoặc phối hợp "
            "(nhiệm vụ mật hoặc chưa ghi nhận việc giao)",
            401 if agency is None else 403,
            {"WWW-Authenticate": "Bearer"} if agency is None else None,
        )
    return {"task_id": task_id, "events": events}


def _assignment(events: list[dict[str, Any]]) -> tuple[str | None, set[str]]:
    """The task's classification and the agencies involved, as its TaskAssigned says; (None, ∅) when it was
    not recorded (or is unreadable): unknown, hence secret to everyone."""
    for recorded in events:
        event = recorded["event"]
        if event.get("event_type") == "TaskAssigned":
            payload = event.get("payload") or {}
            classification = payload.get("classification")
            parties = involved(
                payload.get("assigning_agency_id"),
                payload.get("lead_agency_id"),
                payload.get("coordinating_agency_ids") or (),
            )
            return (classification if isinstance(classification, str) else None), parties
    return None, set()
