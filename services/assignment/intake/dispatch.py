"""Intake commands of the assignment service, routed to the same handlers as HTTP.

A payload is the HTTP body plus the task (and request) it is about. The command_id doubles as the
idempotency key when the payload has none, so an agency's retry of one command makes one task.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError

from events.intake_verdict import Command
from services.assignment.errors import Rejected
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
from services.assignment.tasks.withdraw import withdraw_task
from services.runtime.unit_of_work import UnitOfWork


class DelegateTaskIntake(DelegateTask):
    task_id: str


class RequestExtensionIntake(RequestExtension):
    task_id: str


class DecideExtensionIntake(DecideExtension):
    task_id: str
    request_id: str


class WithdrawTaskIntake(WithdrawTask):
    task_id: str


async def _assign(payload: dict[str, Any], agency: str, uow: UnitOfWork) -> str:
    result = await assign_task(AssignTask.model_validate(payload).acting_as(agency), uow)
    return result.task_id


async def _delegate(payload: dict[str, Any], agency: str, uow: UnitOfWork) -> str:
    command = DelegateTaskIntake.model_validate(payload)
    result = await delegate_task(command.task_id, DelegateTask(**command.model_dump(exclude={"task_id"})), agency, uow)
    return result.delegation_id


async def _request(payload: dict[str, Any], agency: str, uow: UnitOfWork) -> str:
    command = RequestExtensionIntake.model_validate(payload)
    plain = RequestExtension(**command.model_dump(exclude={"task_id"}))
    return (await request_extension(command.task_id, plain, agency, uow)).request_id


async def _decide(payload: dict[str, Any], agency: str, uow: UnitOfWork) -> str:
    command = DecideExtensionIntake.model_validate(payload)
    plain = DecideExtension(**command.model_dump(exclude={"task_id", "request_id"}))
    return (await decide_extension(command.task_id, command.request_id, plain, agency, uow)).status


async def _withdraw(payload: dict[str, Any], agency: str, uow: UnitOfWork) -> str:
    command = WithdrawTaskIntake.model_validate(payload)
    return (
        await withdraw_task(command.task_id, WithdrawTask(**command.model_dump(exclude={"task_id"})), agency, uow)
    ).task_id


COMMANDS: dict[str, Callable[[dict[str, Any], str, UnitOfWork], Awaitable[str]]] = {
    "AssignTask": _assign,
    "DelegateTask": _delegate,
    "RequestExtension": _request,
    "DecideExtension": _decide,
    "WithdrawTask": _withdraw,
}
_KEYED = {"AssignTask", "DelegateTask", "RequestExtension"}


async def run(body: Command, agency_id: str, uow: UnitOfWork) -> str:
    """Run an assignment command as ``agency_id``; returns what it made (task, delegation, request id…)."""
    payload = dict(body.payload)
    if body.command_type in _KEYED:
        payload.setdefault("idempotency_key", body.command_id)
    try:
        return await COMMANDS[body.command_type](payload, agency_id, uow)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(payload)'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise Rejected(
            "invalid-command",
            f"invalid {body.command_type} payload: {problems}",
            f"Nội dung lệnh {body.command_type} không hợp lệ: {problems}",
        ) from exc
