"""HTTP entrypoints of the audit service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from services.audit import adapters
from services.runtime.auth import OptionalAgency
from services.runtime.service import runtime_of

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/tasks/{task_id}")
async def task_history(task_id: str, request: Request, agency: OptionalAgency) -> dict[str, Any]:
    """Lịch sử nhiệm vụ: every event of a task in the order it happened (``seq``: the chain's order), with
    its chain hash. A secret (mật) task's history only for a token of an agency involved in it (DESIGN §4:
    seen only by the agencies involved)."""
    events = await adapters.task_history(runtime_of(request).pool, task_id)
    if not events:
        raise HTTPException(404, {"code": "task-not-found", "message": f"no event of task {task_id} was recorded"})
    involved = _secret_task_parties(events)
    if involved is not None and (agency is None or agency.agency_id not in involved):
        raise HTTPException(
            401 if agency is None else 403,
            {
                "code": "secret-task",
                "message": f"{task_id} is a secret task: its history is shown only with a token of an agency "
                f"involved in it ({', '.join(sorted(involved))})",
                "message_vi": "Nhiệm vụ mật: chỉ cơ quan giao, chủ trì hoặc phối hợp (dùng mã xác thực của cơ quan "
                "đó) mới được xem lịch sử",
            },
        )
    return {"task_id": task_id, "events": events}


def _secret_task_parties(events: list[dict[str, Any]]) -> set[str] | None:
    """The agencies involved in the task if its assignment says it is secret; None for any other task."""
    for recorded in events:
        event = recorded["event"]
        if event.get("event_type") == "TaskAssigned":
            payload = event.get("payload", {})
            if payload.get("classification") != "mat":
                return None
            return {payload.get("assigning_agency_id"), payload.get("lead_agency_id"),
                    *payload.get("coordinating_agency_ids", ())} - {None}
    return None
