"""HTTP entrypoints of the progress service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status

from services.progress import adapters, handlers
from services.progress.domain import ProgressRejected, ReportCompletion, ReportProgress
from services.runtime.service import runtime_of

router = APIRouter(prefix="/v1/tasks", tags=["progress"])


def _reject(exc: ProgressRejected) -> HTTPException:
    return HTTPException(exc.status_code, {"code": exc.code, "message": exc.message_en, "message_vi": exc.message_vi})


@router.post("/{task_id}/progress", status_code=status.HTTP_202_ACCEPTED)
async def report_progress(task_id: str, command: ReportProgress, request: Request) -> dict[str, Any]:
    """Báo cáo tiến độ (lead agency only)."""
    try:
        async with runtime_of(request).unit_of_work() as uow:
            event = await handlers.report_progress(task_id, command, uow)
    except ProgressRejected as exc:
        raise _reject(exc) from exc
    return {"event_id": str(event.event_id), "task_id": task_id}


@router.post("/{task_id}/complete", status_code=status.HTTP_202_ACCEPTED)
async def report_completion(task_id: str, command: ReportCompletion, request: Request) -> dict[str, Any]:
    """Báo cáo hoàn thành, with its product (lead agency only)."""
    try:
        async with runtime_of(request).unit_of_work() as uow:
            event = await handlers.report_completion(task_id, command, uow)
    except ProgressRejected as exc:
        raise _reject(exc) from exc
    payload = event.payload.model_dump(mode="json")
    return {"event_id": str(event.event_id), "task_id": task_id, **payload}


@router.get("/{task_id}")
async def get_task(task_id: str, request: Request) -> dict[str, Any]:
    task = await adapters.get_task(runtime_of(request).pool, task_id)
    if task is None:
        raise HTTPException(404, {"code": "task-not-found", "message": f"no task {task_id}"})
    return task
