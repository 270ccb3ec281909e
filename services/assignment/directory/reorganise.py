"""Applying a reorganisation decision: the abolished agencies name their successor and their open tasks
move there, each with a ``TaskTransferred``, all in one transaction with the directory's AgencyChanged.

The rule is in reorganisation.py; this module reads and writes the assignment schema. Applying the same
decision again (same id, same body) changes nothing; the same id with another body is a conflict.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import asyncpg

from events.envelope import Actor
from services.assignment.directory import adapters, handlers
from services.assignment.directory.reorganisation import (
    OpenTask,
    ReorganisationFields,
    after,
    check,
    event_of,
    plan,
    successors,
)
from services.assignment.directory.views import ReorganisationView
from services.runtime.access import involved, is_secret
from services.runtime.refusals import conflict
from services.runtime.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Applied:
    reorganisation_id: str
    changed: bool
    moved_task_ids: list[str]
    undecided_task_ids: list[str]
    transfers: int
    secret_parties: dict[str, frozenset[str]] = field(default_factory=dict)  # secret moved task -> involved

    def view(self, viewer: str | None) -> ReorganisationView:
        """What the admin is told: a secret task's id only if its agency is involved in it (the secrecy rule);
        the others are counted, never named."""
        shown = [t for t in self.moved_task_ids if t not in self.secret_parties or viewer in self.secret_parties[t]]
        return ReorganisationView(
            reorganisation_id=self.reorganisation_id,
            changed=self.changed,
            moved=len(self.moved_task_ids),
            moved_task_ids=shown,
            undecided_task_ids=[t for t in self.undecided_task_ids if t in shown],
            undecided=len(self.undecided_task_ids),
            transfers=self.transfers,
        )


def _hash(body: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass(frozen=True)
class Recorded:
    """A decision already applied: its body's hash and what it moved."""

    body_hash: str
    moved_task_ids: tuple[str, ...]
    undecided_task_ids: tuple[str, ...]


class Ledger(Protocol):
    """What applying a decision reads and writes besides the directory: the decisions applied and the open
    tasks of the assignment schema (``SqlLedger``; tests/fakes/assignment.py holds one in memory)."""

    async def lock(self) -> None: ...

    async def recorded(self, reorganisation_id: str) -> Recorded | None: ...

    async def open_tasks(self, agency_ids: list[str]) -> list[OpenTask]: ...

    async def move(self, before: OpenTask, now: OpenTask) -> None: ...

    async def record(
        self,
        reorganisation_id: str,
        fields: ReorganisationFields,
        body: dict[str, object],
        body_hash: str,
        moved: list[str],
        undecided: list[str],
        at: datetime,
        actor: Actor,
    ) -> None: ...

    async def secret_parties(self, task_ids: list[str]) -> dict[str, frozenset[str]]: ...


async def reorganise(
    reorganisation_id: str, fields: ReorganisationFields, uow: UnitOfWork, actor: Actor, ledger: Ledger | None = None
) -> Applied:
    conn = uow.conn
    ledger = ledger or SqlLedger(conn)
    body = fields.model_dump(mode="json")
    body_hash = _hash(body)
    # One decision at a time: two decisions naming the same agency must see each other's result.
    await ledger.lock()
    done = await ledger.recorded(reorganisation_id)
    if done is not None:
        if done.body_hash != body_hash:
            raise conflict(
                "reorganisation-differs",
                f"reorganisation {reorganisation_id} was already applied with another body",
                f"Quyết định sắp xếp {reorganisation_id} đã được áp dụng với nội dung khác",
            )
        moved = list(done.moved_task_ids)
        secrets = await ledger.secret_parties(moved)
        return Applied(reorganisation_id, False, moved, list(done.undecided_task_ids), 0, secrets)
    abolished = [a.agency_id for a in fields.agencies]
    named = {*abolished, *(s for a in fields.agencies for s in successors(a))}
    known = await adapters.agencies(conn, named)
    chains = await adapters.chains(conn, [s for a in fields.agencies for s in successors(a)])
    check(fields, known, chains, uow.clock.now().date())
    open_tasks = await ledger.open_tasks(abolished)
    decided = plan(fields, open_tasks)
    now = uow.clock.now()
    for task in open_tasks:
        await ledger.move(task, after(task, fields, reorganisation_id, decided.transfers))
    for a in fields.agencies:
        record = known[a.agency_id].model_copy(update={"active": False, "successor_id": a.successor_id})
        await handlers.set_agency(record, uow, actor)
    for t in decided.transfers:
        event = event_of(t, fields, reorganisation_id)
        await uow.emit(event, actor=actor, task_id=t.task_id, id_parts=(reorganisation_id, t.role, t.from_agency_id))
    moved = decided.moved_task_ids()
    await ledger.record(reorganisation_id, fields, body, body_hash, moved, list(decided.undecided), now, actor)
    secrets = await ledger.secret_parties(moved)
    for task in open_tasks:  # the old agency was involved too, until now
        if task.task_id in secrets:
            secrets[task.task_id] |= {task.lead_agency_id, *task.coordinating_agency_ids}
    return Applied(reorganisation_id, True, moved, list(decided.undecided), len(decided.transfers), secrets)


@dataclass(frozen=True)
class SqlLedger:
    """The ledger in the assignment schema, inside the decision's transaction."""

    conn: asyncpg.Connection

    async def lock(self) -> None:
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.reorganisation')::bigint)")

    async def recorded(self, reorganisation_id: str) -> Recorded | None:
        row = await self.conn.fetchrow(
            """SELECT body_hash, moved_task_ids, undecided_task_ids FROM reorganisations
               WHERE reorganisation_id = $1""",
            reorganisation_id,
        )
        if row is None:
            return None
        return Recorded(row["body_hash"], tuple(row["moved_task_ids"]), tuple(row["undecided_task_ids"]))

    async def secret_parties(self, task_ids: list[str]) -> dict[str, frozenset[str]]:
        rows = await self.conn.fetch(
            """SELECT task_id, classification, assigning_agency_id, lead_agency_id, coordinating_agency_ids
               FROM tasks WHERE task_id = ANY($1::text[])""",
            task_ids,
        )
        return {
            r["task_id"]: frozenset(
                involved(r["assigning_agency_id"], r["lead_agency_id"], r["coordinating_agency_ids"])
            )
            for r in rows
            if is_secret(r["classification"])
        }

    async def open_tasks(self, agency_ids: list[str]) -> list[OpenTask]:
        """Tasks not withdrawn nor completed in which one of these agencies leads or coordinates, locked."""
        rows = await self.conn.fetch(
            """SELECT task_id, lead_agency_id, coordinating_agency_ids FROM tasks
               WHERE withdrawn_at IS NULL AND completed_at IS NULL
                 AND (lead_agency_id = ANY($1::text[]) OR coordinating_agency_ids && $1::text[])
               ORDER BY task_id FOR UPDATE""",
            agency_ids,
        )
        return [OpenTask(r["task_id"], r["lead_agency_id"], tuple(r["coordinating_agency_ids"])) for r in rows]

    async def move(self, before: OpenTask, now: OpenTask) -> None:
        # The officer in charge worked for the old lead: the new lead's head names one (alerts go to the head).
        await self.conn.execute(
            """UPDATE tasks SET lead_agency_id = $2, coordinating_agency_ids = $3,
                   officer_in_charge_id = CASE WHEN lead_agency_id = $2 THEN officer_in_charge_id END
               WHERE task_id = $1""",
            before.task_id,
            now.lead_agency_id,
            list(now.coordinating_agency_ids),
        )

    async def record(
        self,
        reorganisation_id: str,
        fields: ReorganisationFields,
        body: dict[str, object],
        body_hash: str,
        moved: list[str],
        undecided: list[str],
        at: datetime,
        actor: Actor,
    ) -> None:
        await self.conn.execute(
            """INSERT INTO reorganisations (reorganisation_id, body, body_hash, decision_number, effective_on,
                   moved_task_ids, undecided_task_ids, applied_at, applied_by)
               VALUES ($1, $2::jsonb, $3, $4, $5, $6, $7, $8, $9)""",
            reorganisation_id,
            json.dumps(body, ensure_ascii=False),
            body_hash,
            fields.decision.number,
            fields.effective_on,
            moved,
            undecided,
            at,
            actor.agency_id,
        )
