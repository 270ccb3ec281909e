"""Commands of the assignment service: one function each, message first, dependencies after."""

from __future__ import annotations

from dataclasses import dataclass

from events.envelope import Actor
from services.assignment import adapters
from services.assignment.domain import AssignTask, parse_deadline, task_assigned, task_id_for
from services.runtime.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Assigned:
    task_id: str
    created: bool


async def assign_task(command: AssignTask, uow: UnitOfWork) -> Assigned:
    task_id = task_id_for(command)
    event = task_assigned(command, parse_deadline(command))
    if not await adapters.insert_task(uow.conn, task_id, command.idempotency_key, event, uow.clock.now()):
        return Assigned(task_id, created=False)
    await uow.emit(
        event,
        actor=Actor(agency_id=command.assigning_agency_id),
        task_id=task_id,
        id_parts=(command.idempotency_key,),
    )
    return Assigned(task_id, created=True)
