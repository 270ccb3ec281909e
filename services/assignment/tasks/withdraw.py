"""Rút nhiệm vụ: the assigning agency takes a task back, with a reason.

What was delegated from it goes with it: every open descendant gets its own TaskWithdrawn (naming
the task it was withdrawn with), so no agency down the chain keeps being reminded of work that was
called off. Withdrawing twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from events.envelope import Actor
from events.tasks import TaskWithdrawn
from services.assignment.errors import forbidden
from services.assignment.tasks import adapters
from services.assignment.tasks.commands import WithdrawTask
from services.assignment.tasks.extend import open_task
from services.runtime.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Withdrawn:
    task_id: str
    withdrawn_task_ids: list[str]  # empty: it was already withdrawn


async def withdraw_task(task_id: str, command: WithdrawTask, agency_id: str, uow: UnitOfWork) -> Withdrawn:
    task = await open_task(uow, task_id, agency_id)
    if agency_id != task.assigning_agency_id:
        raise forbidden(
            "not-assigner",
            f"only the assigning agency {task.assigning_agency_id} withdraws",
            "Chỉ cơ quan giao nhiệm vụ được rút nhiệm vụ",
        )
    if task.withdrawn_at is not None:
        return Withdrawn(task_id, [])
    subtree = await adapters.open_subtree(uow.conn, task_id)
    await adapters.withdraw(uow.conn, subtree, agency_id, command.reason, uow.clock.now())
    for withdrawn_id in subtree:
        event = TaskWithdrawn(
            withdrawn_by_agency_id=agency_id,
            reason=command.reason,
            document=command.document,
            cascaded_from_task_id=None if withdrawn_id == task_id else task_id,
        )
        await uow.emit(event, actor=Actor(agency_id=agency_id), task_id=withdrawn_id, id_parts=(task_id,))
    return Withdrawn(task_id, subtree)
