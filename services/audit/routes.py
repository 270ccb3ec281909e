"""HTTP entrypoints of the audit service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from services.audit import adapters
from services.runtime.service import runtime_of

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/tasks/{task_id}")
async def task_history(task_id: str, request: Request) -> dict[str, Any]:
    """Lịch sử nhiệm vụ: every event of a task, in log order, with its chain hash."""
    events = await adapters.task_history(runtime_of(request).pool, task_id)
    if not events:
        raise HTTPException(404, {"code": "task-not-found", "message": f"no event of task {task_id} was recorded"})
    return {"task_id": task_id, "events": events}
