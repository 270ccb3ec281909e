"""Fakes of the assignment service's repositories: tasks and delegations (services/assignment/tasks/adapters.py),
extension requests (tasks/extension_store.py) and the directory (directory/adapters.py), on dicts. The
command handlers (tasks/assign.py, delegate.py, extend.py, withdraw.py, directory/handlers.py), the
directory's admin rules (directory/admin.py) and the
consumed-event handlers (services/assignment/handlers.py) run against them with no database."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import pytest

from events.deadlines import Deadline
from events.envelope import Actor
from events.tasks import SourceDocument, TaskAssigned
from services.assignment import handlers
from services.assignment.directory import admin, reorganise
from services.assignment.directory import handlers as directory_handlers
from services.assignment.directory.model import AgencyRecord, GroupRecord, PersonRecord
from services.assignment.directory.reorganisation import OpenTask, ReorganisationFields
from services.assignment.directory.reorganise import Recorded
from services.assignment.tasks import assign, delegate, extend, parties, withdraw
from services.assignment.tasks.adapters import Delegation
from services.assignment.tasks.extension_store import ExtensionRequest
from services.assignment.tasks.model import Task
from services.runtime.access import is_secret


class InMemoryCompletion:
    """``adapters.set_completed``: done keeps the first time, not done clears it, unknown tasks are left."""

    def __init__(self, *task_ids: str) -> None:
        self.completed_at: dict[str, datetime | None] = dict.fromkeys(task_ids)

    async def set_completed(self, _conn: Any, task_id: str, done: bool, at: datetime) -> None:
        if task_id in self.completed_at:
            self.completed_at[task_id] = (self.completed_at[task_id] or at) if done else None


def install(monkeypatch: pytest.MonkeyPatch, *task_ids: str) -> InMemoryCompletion:
    store = InMemoryCompletion(*task_ids)
    monkeypatch.setattr(handlers, "adapters", store)
    return store


@dataclass
class InMemoryDirectory:
    """``directory/adapters.py``'s reads and upserts: a version per record, bumped only by a real change."""

    agencies_: dict[str, AgencyRecord] = field(default_factory=dict)
    people: dict[str, PersonRecord] = field(default_factory=dict)
    groups: dict[str, GroupRecord] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    name_keys: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # id -> (kind, keys)

    def add(self, *records: AgencyRecord | PersonRecord | GroupRecord) -> None:
        """Records as already stored (version 1), their names taken."""
        for r in records:
            if isinstance(r, AgencyRecord):
                self.agencies_[r.agency_id], ident = r, r.agency_id
                self.name_keys[ident] = ("agency", directory_handlers._keys(r.name, r.short_name, *r.aliases))
            elif isinstance(r, PersonRecord):
                self.people[r.person_id], ident = r, r.person_id
            else:
                self.groups[r.group_id], ident = r, r.group_id
                self.name_keys[ident] = ("group", directory_handlers._keys(r.name, *r.aliases))
            self.versions[ident] = 1

    async def agencies(self, _conn: Any, ids: Collection[str]) -> dict[str, AgencyRecord]:
        return {i: self.agencies_[i] for i in ids if i in self.agencies_}

    async def chains(self, _conn: Any, ids: Collection[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for start in ids:
            current: str | None = start
            while current is not None and current in self.agencies_ and current not in found.get(start, []):
                found.setdefault(start, []).append(current)
                current = self.agencies_[current].parent_id
        return found

    async def group_ids(self, _conn: Any, ids: Collection[str]) -> set[str]:
        return {i for i in ids if i in self.groups}

    async def person(self, _conn: Any, person_id: str) -> PersonRecord | None:
        return self.people.get(person_id)

    async def other_head(self, _conn: Any, agency_id: str, person_id: str) -> str | None:
        heads = (
            p.person_id
            for p in self.people.values()
            if p.agency_id == agency_id and p.role == "head" and p.active and p.person_id != person_id
        )
        return next(heads, None)

    async def name_owners(
        self, _conn: Any, name_keys: list[str], *, agency_id: str = "", group_id: str = ""
    ) -> list[str]:
        owners = []
        for ident, (kind, keys) in self.name_keys.items():
            if not set(keys) & set(name_keys) or ident in ((agency_id if kind == "agency" else group_id),):
                continue
            if kind == "agency" and not self.agencies_[ident].active:
                continue
            record = self.agencies_[ident] if kind == "agency" else self.groups[ident]
            owners.append(f"{ident} ({record.name})")
        return owners

    def _bump(self, ident: str) -> int:
        self.versions[ident] = self.versions.get(ident, 0) + 1
        return self.versions[ident]

    async def upsert_agency(self, _conn: Any, record: AgencyRecord, keys: list[str], _now: datetime) -> int | None:
        if self.agencies_.get(record.agency_id) == record:
            return None
        self.agencies_[record.agency_id], self.name_keys[record.agency_id] = record, ("agency", keys)
        return self._bump(record.agency_id)

    async def upsert_person(self, _conn: Any, record: PersonRecord, _now: datetime) -> int | None:
        if self.people.get(record.person_id) == record:
            return None
        self.people[record.person_id] = record
        return self._bump(record.person_id)

    async def upsert_group(self, _conn: Any, record: GroupRecord, keys: list[str], _now: datetime) -> int | None:
        if self.groups.get(record.group_id) == record:
            return None
        self.groups[record.group_id], self.name_keys[record.group_id] = record, ("group", keys)
        return self._bump(record.group_id)


@dataclass
class InMemoryTasks:
    """``tasks/adapters.py`` and ``tasks/extension_store.py`` as the command handlers call them."""

    tasks: dict[str, Task] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    keys: dict[tuple[str, str], str] = field(default_factory=dict)  # (assigner, idempotency key) -> task id
    delegations: dict[str, Delegation] = field(default_factory=dict)
    requests: dict[str, ExtensionRequest] = field(default_factory=dict)

    async def command_hash_of(self, _conn: Any, task_id: str) -> str | None:
        return self.hashes.get(task_id)

    async def insert_task(
        self,
        _conn: Any,
        task_id: str,
        idempotency_key: str,
        event: TaskAssigned,
        assigned_at: datetime,
        command_hash: str,
        delegation_id: str | None = None,
    ) -> bool:
        """As the INSERT … ON CONFLICT DO NOTHING on the task id and on (assigner, key)."""
        if task_id in self.tasks or (event.assigning_agency_id, idempotency_key) in self.keys:
            return False
        self.tasks[task_id] = Task(
            task_id=task_id,
            code=event.code,
            title=event.title,
            description=event.description,
            expected_product=event.expected_product,
            source_document=event.source_document,
            assigning_agency_id=event.assigning_agency_id,
            lead_agency_id=event.lead_agency_id,
            coordinating_agency_ids=tuple(event.coordinating_agency_ids),
            officer_in_charge_id=event.officer_in_charge_id,
            deadline=event.deadline,
            deadline_in_force=event.deadline,
            key_task=event.key_task,
            classification=event.classification,
            parent_task_id=event.parent_task_id,
            withdrawn_at=None,
            assigned_at=assigned_at,
        )
        self.hashes[task_id], self.keys[(event.assigning_agency_id, idempotency_key)] = command_hash, task_id
        return True

    async def task(self, _conn: Any, task_id: str, *, lock: bool = False) -> Task | None:
        return self.tasks.get(task_id)

    async def children_count(self, _conn: Any, parent_task_id: str) -> int:
        return sum(t.parent_task_id == parent_task_id for t in self.tasks.values())

    async def insert_delegation(
        self,
        _conn: Any,
        delegation_id: str,
        _parent: Task,
        _agency_id: str,
        _role: str,
        _key: str,
        command_hash: str,
        _document: SourceDocument | None,
        child_ids: list[str],
        _at: datetime,
    ) -> None:
        assert delegation_id not in self.delegations  # the primary key
        self.delegations[delegation_id] = Delegation(delegation_id, command_hash, tuple(child_ids))

    async def delegation(self, _conn: Any, delegation_id: str) -> Delegation | None:
        return self.delegations.get(delegation_id)

    async def set_deadline_in_force(self, _conn: Any, task_id: str, deadline: Deadline) -> None:
        self.tasks[task_id] = replace(self.tasks[task_id], deadline_in_force=deadline)

    async def open_subtree(self, _conn: Any, task_id: str) -> list[str]:
        """Parents first, then by id, as the recursive query orders them; withdrawn ones left out."""
        found, level = [], [task_id] if task_id in self.tasks else []
        while level:
            found += sorted(t for t in level if self.tasks[t].withdrawn_at is None)
            level = [t.task_id for t in self.tasks.values() if t.parent_task_id in level]
        return found

    async def withdraw(self, _conn: Any, task_ids: list[str], _agency_id: str, _reason: str, at: datetime) -> None:
        for t in task_ids:
            if self.tasks[t].withdrawn_at is None:
                self.tasks[t] = replace(self.tasks[t], withdrawn_at=at)

    # extension_store
    async def get(self, _conn: Any, request_id: str, *, lock: bool = False) -> ExtensionRequest | None:
        return self.requests.get(request_id)

    async def insert(
        self,
        _conn: Any,
        request_id: str,
        task_id: str,
        agency_id: str,
        key: str,
        reason: str,
        proposed: Deadline,
        at: datetime,
    ) -> bool:
        """False when another request of the task is pending (the partial unique index)."""
        if any(r.task_id == task_id and r.status == "pending" for r in self.requests.values()):
            return False
        self.requests[request_id] = ExtensionRequest(
            request_id=request_id,
            task_id=task_id,
            requested_by_agency_id=agency_id,
            idempotency_key=key,
            reason=reason,
            proposed_deadline=proposed,
            requested_at=at,
            status="pending",
            decided_by_agency_id=None,
            decided_at=None,
            decision_reason=None,
            decided_deadline=None,
            decision_document=None,
        )
        return True

    async def decide(
        self,
        _conn: Any,
        request_id: str,
        status: str,
        agency_id: str,
        at: datetime,
        reason: str,
        deadline: Deadline | None,
        document: SourceDocument | None,
    ) -> None:
        self.requests[request_id] = self.requests[request_id].model_copy(
            update={
                "status": status,
                "decided_by_agency_id": agency_id,
                "decided_at": at,
                "decision_reason": reason,
                "decided_deadline": deadline,
                "decision_document": document,
            }
        )

    def children_of(self, task_id: str) -> Sequence[Task]:
        return [t for t in self.tasks.values() if t.parent_task_id == task_id]


@dataclass
class InMemoryLedger:
    """``directory/reorganise.Ledger`` over the in-memory tasks: decisions applied, open tasks moved."""

    tasks: InMemoryTasks
    completed: set[str] = field(default_factory=set)
    recorded_: dict[str, Recorded] = field(default_factory=dict)

    async def lock(self) -> None:
        pass  # one test, one decision at a time

    async def recorded(self, reorganisation_id: str) -> Recorded | None:
        return self.recorded_.get(reorganisation_id)

    async def open_tasks(self, agency_ids: list[str]) -> list[OpenTask]:
        return [
            OpenTask(t.task_id, t.lead_agency_id, t.coordinating_agency_ids)
            for t in sorted(self.tasks.tasks.values(), key=lambda t: t.task_id)
            if t.withdrawn_at is None
            and t.task_id not in self.completed
            and ({t.lead_agency_id, *t.coordinating_agency_ids} & set(agency_ids))
        ]

    async def move(self, before: OpenTask, now: OpenTask) -> None:
        task = self.tasks.tasks[before.task_id]
        officer = task.officer_in_charge_id if task.lead_agency_id == now.lead_agency_id else None
        self.tasks.tasks[before.task_id] = replace(
            task,
            lead_agency_id=now.lead_agency_id,
            coordinating_agency_ids=now.coordinating_agency_ids,
            officer_in_charge_id=officer,
        )

    async def record(
        self,
        reorganisation_id: str,
        _fields: ReorganisationFields,
        _body: dict[str, object],
        body_hash: str,
        moved: list[str],
        undecided: list[str],
        _at: datetime,
        _actor: Actor,
    ) -> None:
        assert reorganisation_id not in self.recorded_  # the primary key
        self.recorded_[reorganisation_id] = Recorded(body_hash, tuple(moved), tuple(undecided))

    async def secret_parties(self, task_ids: list[str]) -> dict[str, frozenset[str]]:
        found = (self.tasks.tasks[t] for t in task_ids if t in self.tasks.tasks)
        return {t.task_id: t.parties for t in found if is_secret(t.classification)}


def install_for_commands(monkeypatch: pytest.MonkeyPatch) -> tuple[InMemoryTasks, InMemoryDirectory]:
    """Point the task and directory command handlers, the party checks under them and the directory's admin
    rules (directory/admin.py) at in-memory repositories."""
    tasks, directory = InMemoryTasks(), InMemoryDirectory()
    for module in (assign, delegate, extend, withdraw):
        monkeypatch.setattr(module, "adapters", tasks)
    monkeypatch.setattr(extend, "store", tasks)
    monkeypatch.setattr(parties, "directory", directory)
    monkeypatch.setattr(directory_handlers, "adapters", directory)
    monkeypatch.setattr(admin, "adapters", directory)
    monkeypatch.setattr(reorganise, "adapters", directory)
    return tasks, directory
