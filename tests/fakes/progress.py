"""A fake of the progress service's repository (services/progress/adapters.py) and reminder planning
(services/progress/planning.py), for the command handlers (services/progress/command_handlers.py)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import pytest

from events.deadlines import parse_deadline_or_date
from events.progress import Evidence
from services.progress import adapters, command_handlers
from services.progress.domain import OPEN, Rollup, Task
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


def install(monkeypatch: pytest.MonkeyPatch) -> InMemoryProgress:
    """Point the command handlers at an in-memory repository, planner and command keys."""
    store = InMemoryProgress()
    monkeypatch.setattr(command_handlers, "adapters", store)
    monkeypatch.setattr(command_handlers, "planning", store)
    monkeypatch.setattr(command_handlers, "idempotency", InMemoryCommandKeys())
    return store
