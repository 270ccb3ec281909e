"""Intake commands of the assignment service, routed to the same handlers as HTTP.

A payload is the HTTP body plus the task (and request) it is about. The command_id doubles as the
idempotency key when the payload has none, so an agency's retry of one command makes one task.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

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


async def _assign(command: AssignTask, agency: str, uow: UnitOfWork) -> str:
    return (await assign_task(command.acting_as(agency), uow)).task_id


async def _delegate(command: DelegateTaskIntake, agency: str, uow: UnitOfWork) -> str:
    plain = DelegateTask(**command.model_dump(exclude={"task_id"}))
    return (await delegate_task(command.task_id, plain, agency, uow)).delegation_id


async def _request(command: RequestExtensionIntake, agency: str, uow: UnitOfWork) -> str:
    plain = RequestExtension(**command.model_dump(exclude={"task_id"}))
    return (await request_extension(command.task_id, plain, agency, uow)).request_id


async def _decide(command: DecideExtensionIntake, agency: str, uow: UnitOfWork) -> str:
    plain = DecideExtension(**command.model_dump(exclude={"task_id", "request_id"}))
    return (await decide_extension(command.task_id, command.request_id, plain, agency, uow)).status


async def _withdraw(command: WithdrawTaskIntake, agency: str, uow: UnitOfWork) -> str:
    plain = WithdrawTask(**command.model_dump(exclude={"task_id"}))
    return (await withdraw_task(command.task_id, plain, agency, uow)).task_id


C = TypeVar("C", bound=BaseModel)


@dataclass(frozen=True)
class Route(Generic[C]):
    """An intake command type: the model its payload must validate as, and the handler that runs it."""

    model: type[C]
    handle: Callable[[C, str, UnitOfWork], Awaitable[str]]

    async def __call__(self, payload: Mapping[str, object], agency: str, uow: UnitOfWork) -> str:
        return await self.handle(self.model.model_validate(payload), agency, uow)


COMMANDS: dict[str, Route[Any]] = {
    "AssignTask": Route(AssignTask, _assign),
    "DelegateTask": Route(DelegateTaskIntake, _delegate),
    "RequestExtension": Route(RequestExtensionIntake, _request),
    "DecideExtension": Route(DecideExtensionIntake, _decide),
    "WithdrawTask": Route(WithdrawTaskIntake, _withdraw),
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
