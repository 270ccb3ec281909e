"""HTTP entrypoints of the progress service. Writes act as the agency of the bearer token."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, field_serializer
from pydantic.dataclasses import dataclass

from events.envelope import Envelope
from events.progress import Evidence
from events.roles import Action, may
from services.progress import adapters, command_handlers
from services.progress.commands import (
    AddNote,
    ConfirmCompletion,
    ReportCompletion,
    ReportProgress,
    ReturnCompletion,
    SetLeadTimes,
)
from services.progress.config import ProgressConfig
from services.progress.domain import Rollup
from services.progress.domain import Task as TaskRow
from services.runtime.access import may_see, viewer_of
from services.runtime.auth import CurrentAgency, OptionalAgency, needs
from services.runtime.refusals import not_found
from services.runtime.service import runtime_of
from services.runtime.unit_of_work import UnitOfWork


class Accepted(BaseModel):
    """A command's answer: the event it emitted, its id and type, then the event's own fields (as its class
    in events/ types them)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    event_id: str
    event_type: str
    task_id: str | None

    @classmethod
    def of(cls, event: Envelope) -> Accepted:
        fields = event.payload.model_dump(mode="json")
        return cls(event_id=str(event.event_id), event_type=event.event_type, task_id=event.task_id, **fields)


class RollupView(BaseModel):
    model_config = ConfigDict(frozen=True)

    children: int
    completed: int
    earliest_open_due: date | None
    any_overdue: bool
    open: int

    @classmethod
    def of(cls, rollup: Rollup) -> RollupView:
        return cls(open=rollup.open, **vars(rollup))


@dataclass(frozen=True)
class TaskAnswer(TaskRow):
    """GET /v1/tasks/{task_id}: the task as its row reads (the evidence without empty fields), its delegated
    children at a glance, its confirmed completions and its notes."""

    rollup: RollupView
    completions: list[adapters.Completion]
    notes: list[adapters.Note]

    @field_serializer("evidence")
    def _evidence(self, evidence: Evidence | None) -> dict[str, object] | None:
        return evidence.model_dump(mode="json", exclude_none=True) if evidence is not None else None


class Worklist(BaseModel):
    model_config = ConfigDict(frozen=True)

    mine: list[adapters.WorkItem]
    to_decide: list[adapters.WorkItem]


async def _run(request: Request, work: Callable[[UnitOfWork], Awaitable[Envelope]]) -> Accepted:
    # A Refused raised by the rules is answered by the one handler of every service (runtime/refusals.py).
    async with runtime_of(request).unit_of_work() as uow:
        event = await work(uow)
    return Accepted.of(event)


def build_router(config: ProgressConfig) -> APIRouter:
    router = APIRouter(prefix="/v1/tasks", tags=["progress"])
    accepted = status.HTTP_202_ACCEPTED
    h = command_handlers

    @router.post("/{task_id}/progress", status_code=accepted, dependencies=[needs(Action.REPORT_PROGRESS)])
    async def report_progress(
        task_id: str, command: ReportProgress, request: Request, agency: CurrentAgency
    ) -> Accepted:
        """Báo cáo tiến độ: percent and a note (lead agency only)."""
        return await _run(request, lambda uow: h.report_progress(task_id, command, agency.agency_id, uow))

    @router.post("/{task_id}/complete", status_code=accepted, dependencies=[needs(Action.REPORT_COMPLETION)])
    async def report_completion(
        task_id: str, command: ReportCompletion, request: Request, agency: CurrentAgency
    ) -> Accepted:
        """Báo cáo hoàn thành with its product and evidence (lead agency only); awaits confirmation."""
        return await _run(request, lambda uow: h.report_completion(task_id, command, agency.agency_id, uow))

    @router.post("/{task_id}/confirm", status_code=accepted, dependencies=[needs(Action.CONFIRM_COMPLETION)])
    async def confirm_completion(
        task_id: str, request: Request, agency: CurrentAgency, command: ConfirmCompletion | None = None
    ) -> Accepted:
        """Xác nhận hoàn thành (assigning agency only): emits TaskCompleted."""
        cmd = command or ConfirmCompletion()
        return await _run(request, lambda uow: h.confirm_completion(task_id, cmd, agency.agency_id, uow, config))

    @router.post("/{task_id}/return", status_code=accepted, dependencies=[needs(Action.RETURN_COMPLETION)])
    async def return_completion(
        task_id: str, command: ReturnCompletion, request: Request, agency: CurrentAgency
    ) -> Accepted:
        """Trả lại báo cáo hoàn thành with a reason (assigning agency only): back to in progress."""
        return await _run(request, lambda uow: h.return_completion(task_id, command, agency.agency_id, uow, config))

    @router.post("/{task_id}/notes", status_code=accepted, dependencies=[needs(Action.REPORT_PROGRESS)])
    async def add_note(task_id: str, command: AddNote, request: Request, agency: CurrentAgency) -> Accepted:
        """Ghi chú: the lead or a coordinating agency notes progress on its part."""
        return await _run(request, lambda uow: h.add_note(task_id, command, agency.agency_id, uow))

    @router.put("/{task_id}/reminders", status_code=accepted, dependencies=[needs(Action.ASSIGN)])
    async def set_lead_times(task_id: str, command: SetLeadTimes, request: Request, agency: CurrentAgency) -> Accepted:
        """Override this task's reminder lead times (working days; lead or assigning agency)."""
        return await _run(request, lambda uow: h.set_lead_times(task_id, command, agency.agency_id, uow, config))

    @router.get("/{task_id}")
    async def get_task(task_id: str, request: Request, agency: OptionalAgency) -> TaskAnswer:
        """The task's status, deadline in force (and the original), roll-up of delegated children. A secret
        task only to a token of an agency involved; to anyone else it does not exist (runtime/access.py)."""
        rt = runtime_of(request)
        task = await adapters.get_task(rt.pool, task_id)
        if task is None or not may_see(task.classification, adapters.parties(task), viewer_of(agency)):
            raise not_found("task", "nhiệm vụ", task_id, "task-not-found")
        rollup = await adapters.rollup(rt.pool, task_id, rt.clock.now().date())
        return TaskAnswer(
            **vars(task),
            rollup=RollupView.of(rollup),
            completions=await adapters.completions_of(rt.pool, task_id),
            notes=await adapters.notes_of(rt.pool, task_id),
        )

    return router


worklist_router = APIRouter(prefix="/v1/worklist", tags=["progress"])


@worklist_router.get("")
async def worklist(request: Request, principal: CurrentAgency) -> Worklist:
    """Việc của tôi and Chờ lãnh đạo quyết định, for the dashboard (services/reporting/dashboard_actions.py
    relays it): ``mine``, the open tasks whose officer in charge is the signed-in person, led by their
    agency; ``to_decide``, the tasks their agency assigned whose completion report waits to be confirmed or
    returned, only for a role that decides (events/roles.py) and for a machine caller of the agency. Both
    are tasks the agency is involved in (lead or assigner), so the access rule shows them all; the lists
    are bounded, most urgent first."""
    pool = runtime_of(request).pool
    mine: list[adapters.WorkItem] = []
    if principal.person_id is not None:
        mine = await adapters.work_of(pool, principal.person_id, principal.agency_id)
    to_decide: list[adapters.WorkItem] = []
    if principal.person_id is None or may(principal.roles, Action.CONFIRM_COMPLETION):
        to_decide = await adapters.awaiting_decision_of(pool, principal.agency_id)
    return Worklist(mine=mine, to_decide=to_decide)
