"""HTTP entrypoints of the assignment service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status

from services.assignment import adapters, handlers
from services.assignment.domain import AssignmentRejected, AssignTask
from services.runtime.logs import bound
from services.runtime.service import runtime_of

router = APIRouter(prefix="/v1", tags=["tasks"])


@router.post("/tasks", status_code=status.HTTP_201_CREATED)
async def assign(command: AssignTask, request: Request, response: Response) -> dict[str, Any]:
    """Giao nhiệm vụ: store the task and emit TaskAssigned (through the outbox)."""
    rt = runtime_of(request)
    try:
        async with rt.unit_of_work() as uow:
            result = await handlers.assign_task(command, uow)
    except AssignmentRejected as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {"code": exc.code, "message": exc.message_en, "message_vi": exc.message_vi},
        ) from exc
    with bound(task_id=result.task_id):
        if not result.created:
            response.status_code = status.HTTP_200_OK
        task = await adapters.get_task(rt.pool, result.task_id)
    assert task is not None
    return task


@router.get("/tasks/{task_id}")
async def get_task(task_id: str, request: Request) -> dict[str, Any]:
    task = await adapters.get_task(runtime_of(request).pool, task_id)
    if task is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, {"code": "task-not-found", "message": f"no task {task_id}"})
    return task
