"""Fakes of the progress service's repository (services/progress/adapters.py), reminder planning
(services/progress/planning.py) and timer table (services/runtime/timers.py), for its command, event and
timer handlers (command_handlers.py, handlers.py, timer_handlers.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import pytest

from events.deadlines import parse_deadline_or_date
from events.progress import Evidence
from events.tasks import TaskAssigned
from services.progress import adapters, command_handlers, handlers, planning, timer_handlers
from services.progress.domain import FIRST_PLAN, OPEN, Rollup, Task
from services.runtime import timers
from tests.fakes.runtime import InMemoryCommandKeys


def a_task(task_id: str, **columns: Any) -> Task:
    """A task as ``adapters.lock_task`` returns it; ``columns`` override the defaults."""
    task = Task(
        task_id=task_id,
        code="131/NQ-CP#1",
        title="Triển khai thanh toán học phí trực tuyến",
        assigning_agency_id="ubnd-tinh",
        lead_agency_id="so-gddt",
        officer_in_charge_id=None,
        key_task=False,
        deadline=parse_deadline_or_date("31/12/2022", date(2022, 10, 6)),
        original_due=date(2022, 12, 31),
        due=date(2022, 12, 31),
        status="assigned",
        percent=0,
        completed_on=None,
        on_time=None,
        product=None,
        updated_at=None,
        coordinating_agency_ids=("so-tc",),
        parent_task_id=None,
        lead_days=None,
        plan=0,
        note="",
        reported_on=None,
        evidence=None,
        open_children_override=None,
        return_reason=None,
        classification="cong-khai",
        assigned_on=None,
    )
    return replace(task, **columns)


@dataclass
class InMemoryProgress:
    """The adapters' functions the handlers call, on a dict of tasks."""

    tasks: dict[str, Task] = field(default_factory=dict)
    notes: list[tuple[str, str, str]] = field(default_factory=list)
    completions: list[tuple[Task, datetime]] = field(default_factory=list)
    planned: list[str] = field(default_factory=list)
    unplanned: list[str] = field(default_factory=list)

    parties = staticmethod(adapters.parties)
    evidence_json = staticmethod(adapters.evidence_json)

    async def lock_task(self, _conn: Any, task_id: str) -> Task | None:
        return self.tasks.get(task_id)

    async def lock_tasks(self, _conn: Any, task_ids: Sequence[str]) -> dict[str, Task]:
        return {t: self.tasks[t] for t in sorted(task_ids) if t in self.tasks}

    async def insert_tasks(
        self, _conn: Any, assigned: Sequence[tuple[str, TaskAssigned, date | None]], at: datetime
    ) -> set[str]:
        """As the INSERT … ON CONFLICT DO NOTHING: a task id already known is left as it is."""
        new = set()
        for task_id, e, assigned_on in assigned:
            if task_id in self.tasks:
                continue
            self.tasks[task_id] = replace(
                a_task(task_id),
                code=e.code,
                title=e.title,
                assigning_agency_id=e.assigning_agency_id,
                lead_agency_id=e.lead_agency_id,
                officer_in_charge_id=e.officer_in_charge_id,
                key_task=e.key_task,
                deadline=e.deadline,
                original_due=e.deadline.due,
                due=e.deadline.due,
                coordinating_agency_ids=tuple(e.coordinating_agency_ids),
                parent_task_id=e.parent_task_id,
                classification=e.classification,
                assigned_on=assigned_on,
                updated_at=at,
                plan=FIRST_PLAN,
            )
            new.add(task_id)
        return new

    async def set_plans(self, _conn: Any, plans: Sequence[tuple[str, int]], at: datetime) -> None:
        for task_id, plan in plans:
            self.tasks[task_id] = replace(self.tasks[task_id], plan=plan, updated_at=at)

    async def set_dues(self, _conn: Any, dues: Sequence[tuple[str, date | None]], at: datetime) -> None:
        for task_id, due in dues:
            self.tasks[task_id] = replace(self.tasks[task_id], due=due, updated_at=at)

    async def set_statuses(self, _conn: Any, task_ids: Sequence[str], status: str, at: datetime) -> None:
        for task_id in task_ids:
            self.tasks[task_id] = replace(self.tasks[task_id], status=status, updated_at=at)

    async def update(self, _conn: Any, task_id: str, at: datetime, **columns: Any) -> None:
        # A column the task does not have is a TypeError here, as the real UPDATE would fail.
        self.tasks[task_id] = replace(self.tasks[task_id], **_typed(columns), updated_at=at)

    async def rollup(self, _conn: Any, task_id: str, today: date) -> Rollup:
        children = [t for t in self.tasks.values() if t.parent_task_id == task_id and t.status != "withdrawn"]
        open_ = [t for t in children if t.status != "completed"]
        dues = [t.due for t in open_ if t.due is not None]
        overdue = any(t.status in OPEN and t.due is not None and t.due < today for t in children)
        return Rollup(len(children), len(children) - len(open_), min(dues, default=None), overdue)

    async def insert_completion(self, _conn: Any, task: Task, at: datetime) -> None:
        self.completions.append((task, at))

    async def insert_note(self, _conn: Any, task_id: str, agency_id: str, note: str, at: datetime) -> None:
        self.notes.append((task_id, agency_id, note))

    # planning.replan / unplan: which tasks had their reminders re-planned or removed.
    async def replan(self, _uow: Any, task: Task, _config: Any) -> int:
        self.planned.append(task.task_id)
        return 0

    async def unplan(self, _uow: Any, task_id: str) -> None:
        self.unplanned.append(task_id)


def _typed(columns: dict[str, Any]) -> dict[str, Any]:
    """``adapters.update``'s column values as the row reads them back (arrays as tuples, JSON parsed)."""
    typed = dict(columns)
    for name in ("coordinating_agency_ids", "lead_days"):
        if typed.get(name) is not None:
            typed[name] = tuple(typed[name])
    if isinstance(typed.get("evidence"), str):
        typed["evidence"] = Evidence.model_validate_json(typed["evidence"])
    return typed


class InMemoryTimers:
    """The timer table as planning sees it: ``schedule_many`` adds live timers, ``cancel`` removes them."""

    PlannedTimer = timers.PlannedTimer

    def __init__(self) -> None:
        self.live: list[timers.PlannedTimer] = []

    async def schedule_many(self, _conn: Any, planned: Sequence[timers.PlannedTimer]) -> None:
        self.live += [t for t in planned if t not in self.live]

    async def cancel_many(
        self, _conn: Any, subject_ids: Sequence[str], kinds: tuple[str, ...] | None = None, *, skip_firing: bool = False
    ) -> None:
        self.live = [t for t in self.live if t.subject_id not in subject_ids or (kinds and t.kind not in kinds)]

    async def cancel(
        self, conn: Any, subject_id: str, kinds: tuple[str, ...] | None = None, *, skip_firing: bool = False
    ) -> None:
        await self.cancel_many(conn, [subject_id], kinds, skip_firing=skip_firing)

    def of(self, task_id: str) -> list[timers.PlannedTimer]:
        return [t for t in self.live if t.subject_id == task_id]


def install_for_events(monkeypatch: pytest.MonkeyPatch) -> tuple[InMemoryProgress, InMemoryTimers]:
    """Point the event and timer handlers, and the real reminder planning under them, at an in-memory
    repository and timer table: a test then sees which reminders a consumed event left planned."""
    store, table = InMemoryProgress(), InMemoryTimers()
    for module in (handlers, planning, timer_handlers):
        monkeypatch.setattr(module, "adapters", store)
    monkeypatch.setattr(planning, "timers", table)
    return store, table


def install(monkeypatch: pytest.MonkeyPatch) -> InMemoryProgress:
    """Point the command handlers at an in-memory repository, planner and command keys."""
    store = InMemoryProgress()
    monkeypatch.setattr(command_handlers, "adapters", store)
    monkeypatch.setattr(command_handlers, "planning", store)
    monkeypatch.setattr(command_handlers, "idempotency", InMemoryCommandKeys())
    return store
