"""HTTP entrypoints of tasks: every write acts as the agency of its bearer token."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import APIRouter, Query, Request, Response, status

from events.roles import Action, may
from services.assignment.errors import not_found
from services.assignment.tasks import adapters
from services.assignment.tasks import extension_store as extensions
from services.assignment.tasks.assign import assign_task
from services.assignment.tasks.commands import (
    AssignTask,
    DecideExtension,
    DelegateTask,
    RequestExtension,
    WithdrawTask,
)
from services.assignment.tasks.delegate import delegate_task
from services.assignment.tasks.extend import decide_extension, request_extension
from services.assignment.tasks.extension_store import ExtensionRequest
from services.assignment.tasks.model import TaskView
from services.assignment.tasks.views import (
    AwaitingList,
    DecidedExtension,
    DelegationView,
    ExtensionList,
    TaskList,
    WithdrawalView,
)
from services.assignment.tasks.withdraw import withdraw_task
from services.assignment.tokens import ActingAgency, ReadingAgency
from services.runtime.auth import needs
from services.runtime.service import runtime_of
from services.runtime.unit_of_work import UnitOfWork

router = APIRouter(prefix="/v1", tags=["tasks"])
T = TypeVar("T")


async def _in_transaction(request: Request, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    # A refusal (Rejected) is answered by the one handler of every service (runtime/refusals.py).
    async with runtime_of(request).unit_of_work() as uow:
        return await work(uow)


def _retried(response: Response, created: bool) -> None:
    if not created:
        response.status_code = status.HTTP_200_OK  # the same command again: nothing new was made


@router.post("/tasks", status_code=status.HTTP_201_CREATED, dependencies=[needs(Action.ASSIGN)])
async def assign(command: AssignTask, agency: ActingAgency, request: Request, response: Response) -> TaskView:
    """Giao nhiệm vụ. The assigner is the token's agency; its authority over every agency named is checked."""
    bound = command.acting_as(agency.agency_id)
    result = await _in_transaction(request, lambda uow: assign_task(bound, uow))
    _retried(response, result.created)
    return await _view(request, result.task_id, agency.agency_id)


@router.get("/tasks")
async def list_tasks(
    request: Request,
    agency: ReadingAgency,
    document: str | None = Query(None),
    lead_agency_id: str | None = None,
    parent_task_id: str | None = None,
    code: str | None = None,
) -> TaskList:
    """Tasks by source document, lead, parent or code; secret ones only to the agencies involved."""
    tasks = await adapters.task_views(
        runtime_of(request).pool,
        agency_id=agency.agency_id if agency else None,
        document=document,
        lead_agency_id=lead_agency_id,
        parent_task_id=parent_task_id,
        code=code,
    )
    return TaskList(tasks=tasks)


@router.get("/tasks/{task_id}")
async def get_task(task_id: str, request: Request, agency: ReadingAgency) -> TaskView:
    return await _view(request, task_id, agency.agency_id if agency else None)


async def _view(request: Request, task_id: str, agency_id: str | None) -> TaskView:
    pool = runtime_of(request).pool
    task, row = await adapters.task(pool, task_id), await adapters.task_view(pool, task_id)
    if task is None or row is None or not task.visible_to(agency_id):
        raise not_found("task", "nhiệm vụ", task_id, "task-not-found")
    return row


@router.post("/tasks/{task_id}/delegations", status_code=status.HTTP_201_CREATED, dependencies=[needs(Action.DELEGATE)])
async def delegate(
    task_id: str, command: DelegateTask, agency: ActingAgency, request: Request, response: Response
) -> DelegationView:
    """Giao tiếp: hand all or part of the task down; each part becomes a child task."""
    result = await _in_transaction(request, lambda uow: delegate_task(task_id, command, agency.agency_id, uow))
    _retried(response, result.created)
    children = [await _view(request, child, agency.agency_id) for child in result.child_task_ids]
    return DelegationView(delegation_id=result.delegation_id, parent_task_id=task_id, children=children)


@router.post(
    "/tasks/{task_id}/extensions",
    status_code=status.HTTP_201_CREATED,
    dependencies=[needs(Action.REQUEST_EXTENSION)],
)
async def ask_extension(
    task_id: str, command: RequestExtension, agency: ActingAgency, request: Request, response: Response
) -> ExtensionRequest:
    """Đề nghị gia hạn (lead agency)."""
    result = await _in_transaction(request, lambda uow: request_extension(task_id, command, agency.agency_id, uow))
    _retried(response, result.created)
    return await _extension(request, result.request_id)


@router.get("/tasks/{task_id}/extensions")
async def list_extensions(task_id: str, request: Request, agency: ReadingAgency) -> ExtensionList:
    await _view(request, task_id, agency.agency_id if agency else None)
    return ExtensionList(extensions=await extensions.of_task(runtime_of(request).pool, task_id))


@router.get("/extensions/awaiting-decision")
async def awaiting_decision(agency: ActingAgency, request: Request) -> AwaitingList:
    """Đề nghị gia hạn chờ quyết định: pending requests on the tasks the caller's agency assigned; for a
    person, only with a role that decides them (events/roles.py)."""
    if agency.person_id is not None and not may(agency.roles, Action.DECIDE_EXTENSION):
        return AwaitingList(extensions=[])
    return AwaitingList(extensions=await extensions.awaiting_decision(runtime_of(request).pool, agency.agency_id))


@router.post("/tasks/{task_id}/extensions/{request_id}/decision", dependencies=[needs(Action.DECIDE_EXTENSION)])
async def decide(
    task_id: str, request_id: str, command: DecideExtension, agency: ActingAgency, request: Request
) -> DecidedExtension:
    """Quyết định gia hạn (assigning agency): approve with a date, or reject with a reason."""
    result = await _in_transaction(
        request, lambda uow: decide_extension(task_id, request_id, command, agency.agency_id, uow)
    )
    decided = await _extension(request, result.request_id)
    return DecidedExtension(**dict(decided), task=await _view(request, task_id, agency.agency_id))


async def _extension(request: Request, request_id: str) -> ExtensionRequest:
    found = await extensions.get(runtime_of(request).pool, request_id)
    assert found is not None
    return found


@router.post("/tasks/{task_id}/withdrawal", dependencies=[needs(Action.WITHDRAW)])
async def withdraw(task_id: str, command: WithdrawTask, agency: ActingAgency, request: Request) -> WithdrawalView:
    """Rút nhiệm vụ (assigning agency), with its delegated children."""
    result = await _in_transaction(request, lambda uow: withdraw_task(task_id, command, agency.agency_id, uow))
    task = await _view(request, task_id, agency.agency_id)
    return WithdrawalView(task=task, withdrawn_task_ids=result.withdrawn_task_ids)
