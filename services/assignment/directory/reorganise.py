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


async def reorganise(reorganisation_id: str, fields: ReorganisationFields, uow: UnitOfWork, actor: Actor) -> Applied:
    conn = uow.conn
    body = fields.model_dump(mode="json")
    body_hash = _hash(body)
    # One decision at a time: two decisions naming the same agency must see each other's result.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.reorganisation')::bigint)")
    done = await conn.fetchrow("SELECT * FROM reorganisations WHERE reorganisation_id = $1", reorganisation_id)
    if done is not None:
        if done["body_hash"] != body_hash:
            raise conflict(
                "reorganisation-differs",
                f"reorganisation {reorganisation_id} was already applied with another body",
                f"Quyết định sắp xếp {reorganisation_id} đã được áp dụng với nội dung khác",
            )
        moved = list(done["moved_task_ids"])
        secrets = await _secret_parties(conn, moved)
        return Applied(reorganisation_id, False, moved, list(done["undecided_task_ids"]), 0, secrets)
    abolished = [a.agency_id for a in fields.agencies]
    named = {*abolished, *(s for a in fields.agencies for s in successors(a))}
    known = await adapters.agencies(conn, named)
    chains = await adapters.chains(conn, [s for a in fields.agencies for s in successors(a)])
    check(fields, known, chains, uow.clock.now().date())
    open_tasks = await _open_tasks(conn, abolished)
    decided = plan(fields, open_tasks)
    now = uow.clock.now()
    for task in open_tasks:
        await _move(conn, task, after(task, fields, reorganisation_id, decided.transfers))
    for a in fields.agencies:
        record = known[a.agency_id].model_copy(update={"active": False, "successor_id": a.successor_id})
        await handlers.set_agency(record, uow, actor)
    for t in decided.transfers:
        event = event_of(t, fields, reorganisation_id)
        await uow.emit(event, actor=actor, task_id=t.task_id, id_parts=(reorganisation_id, t.role, t.from_agency_id))
    moved = decided.moved_task_ids()
    await _record(conn, reorganisation_id, fields, body, body_hash, moved, list(decided.undecided), now, actor)
    secrets = await _secret_parties(conn, moved)
    for task in open_tasks:  # the old agency was involved too, until now
        if task.task_id in secrets:
            secrets[task.task_id] |= {task.lead_agency_id, *task.coordinating_agency_ids}
    return Applied(reorganisation_id, True, moved, list(decided.undecided), len(decided.transfers), secrets)


async def _secret_parties(conn: asyncpg.Connection, task_ids: list[str]) -> dict[str, frozenset[str]]:
    rows = await conn.fetch(
        """SELECT task_id, classification, assigning_agency_id, lead_agency_id, coordinating_agency_ids
           FROM tasks WHERE task_id = ANY($1::text[])""",
        task_ids,
    )
    return {
        r["task_id"]: frozenset(involved(r["assigning_agency_id"], r["lead_agency_id"], r["coordinating_agency_ids"]))
        for r in rows
        if is_secret(r["classification"])
    }


async def _open_tasks(conn: asyncpg.Connection, agency_ids: list[str]) -> list[OpenTask]:
    """Tasks not withdrawn nor completed in which one of these agencies leads or coordinates, locked."""
    rows = await conn.fetch(
        """SELECT task_id, lead_agency_id, coordinating_agency_ids FROM tasks
           WHERE withdrawn_at IS NULL AND completed_at IS NULL
             AND (lead_agency_id = ANY($1::text[]) OR coordinating_agency_ids && $1::text[])
           ORDER BY task_id FOR UPDATE""",
        agency_ids,
    )
    return [OpenTask(r["task_id"], r["lead_agency_id"], tuple(r["coordinating_agency_ids"])) for r in rows]


async def _move(conn: asyncpg.Connection, before: OpenTask, now: OpenTask) -> None:
    # The officer in charge worked for the old lead: the new lead's head names one (alerts go to the head).
    await conn.execute(
        """UPDATE tasks SET lead_agency_id = $2, coordinating_agency_ids = $3,
               officer_in_charge_id = CASE WHEN lead_agency_id = $2 THEN officer_in_charge_id END
           WHERE task_id = $1""",
        before.task_id,
        now.lead_agency_id,
        list(now.coordinating_agency_ids),
    )


async def _record(
    conn: asyncpg.Connection,
    reorganisation_id: str,
    fields: ReorganisationFields,
    body: dict[str, object],
    body_hash: str,
    moved: list[str],
    undecided: list[str],
    at: datetime,
    actor: Actor,
) -> None:
    await conn.execute(
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
