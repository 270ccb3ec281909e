"""SQL of tasks, delegations and extension requests (schema ``assignment``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

import asyncpg

from events.deadlines import Deadline
from events.tasks import SourceDocument, TaskAssigned
from services.assignment.tasks.model import VIEW_COLUMNS, Task, TaskView
from services.runtime.access import visible_sql

Conn: TypeAlias = "asyncpg.Connection | asyncpg.Pool"


def _doc(document: SourceDocument | None) -> str | None:
    return document.model_dump_json() if document else None


async def insert_task(
    conn: asyncpg.Connection,
    task_id: str,
    idempotency_key: str,
    event: TaskAssigned,
    assigned_at: datetime,
    command_hash: str,
    delegation_id: str | None = None,
) -> bool:
    """False when the (assigner, idempotency key) already named a task: the command was a retry."""
    inserted = await conn.fetchval(
        """INSERT INTO tasks (task_id, code, assigning_agency_id, idempotency_key, title, description,
               expected_product, source_number, source_issued_on, source_issuer, lead_agency_id,
               coordinating_agency_ids, officer_in_charge_id, deadline, key_task, classification,
               parent_task_id, assigned_at, deadline_in_force, coordinating_group_ids, assigning_document,
               command_hash, delegation_id)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14::jsonb,$15,$16,$17,$18,$14::jsonb,$19,
                   $20::jsonb,$21,$22)
           ON CONFLICT DO NOTHING RETURNING true""",
        task_id,
        event.code,
        event.assigning_agency_id,
        idempotency_key,
        event.title,
        event.description,
        event.expected_product,
        event.source_document.number,
        event.source_document.issued_on,
        event.source_document.issuer,
        event.lead_agency_id,
        list(event.coordinating_agency_ids),
        event.officer_in_charge_id,
        event.deadline.model_dump_json(),
        event.key_task,
        event.classification,
        event.parent_task_id,
        assigned_at,
        list(event.coordinating_group_ids),
        _doc(event.assigning_document),
        command_hash,
        delegation_id,
    )
    return bool(inserted)


async def task(conn: Conn, task_id: str, *, lock: bool = False) -> Task | None:
    lock_clause = " FOR UPDATE" if lock else ""
    row = await conn.fetchrow(f"SELECT * FROM tasks WHERE task_id = $1{lock_clause}", task_id)
    return Task.of(row) if row else None


async def command_hash_of(conn: Conn, task_id: str) -> str | None:
    return await conn.fetchval("SELECT command_hash FROM tasks WHERE task_id = $1", task_id)  # type: ignore[no-any-return]


async def task_view(conn: Conn, task_id: str) -> TaskView | None:
    row = await conn.fetchrow(f"SELECT {VIEW_COLUMNS} FROM tasks WHERE task_id = $1", task_id)
    return TaskView.of(row) if row else None


async def task_views(
    conn: Conn,
    *,
    agency_id: str | None,
    document: str | None = None,
    lead_agency_id: str | None = None,
    parent_task_id: str | None = None,
    code: str | None = None,
    limit: int = 500,
) -> list[TaskView]:
    """Tasks matching the filters that ``agency_id`` may see (secret ones only if involved)."""
    rows = await conn.fetch(
        f"""SELECT {VIEW_COLUMNS} FROM tasks
           WHERE ($2::text IS NULL OR source_number = $2) AND ($3::text IS NULL OR lead_agency_id = $3)
             AND ($4::text IS NULL OR parent_task_id = $4) AND ($5::text IS NULL OR code = $5)
             AND {visible_sql("$1")}
           ORDER BY assigned_at, code LIMIT $6""",
        agency_id,
        document,
        lead_agency_id,
        parent_task_id,
        code,
        limit,
    )
    return [TaskView.of(r) for r in rows]


async def children_count(conn: Conn, parent_task_id: str) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM tasks WHERE parent_task_id = $1", parent_task_id))


async def insert_delegation(
    conn: asyncpg.Connection,
    delegation_id: str,
    parent: Task,
    agency_id: str,
    role: str,
    key: str,
    command_hash: str,
    document: SourceDocument | None,
    child_ids: list[str],
    at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO delegations (delegation_id, parent_task_id, delegating_agency_id, delegating_role,
               idempotency_key, command_hash, document, child_task_ids, delegated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)""",
        delegation_id,
        parent.task_id,
        agency_id,
        role,
        key,
        command_hash,
        _doc(document),
        child_ids,
        at,
    )


@dataclass(frozen=True)
class Delegation:
    """A delegation already done: what a retry under its key must repeat, and the children it made."""

    delegation_id: str
    command_hash: str
    child_task_ids: tuple[str, ...]


async def delegation(conn: Conn, delegation_id: str) -> Delegation | None:
    row = await conn.fetchrow(
        "SELECT delegation_id, command_hash, child_task_ids FROM delegations WHERE delegation_id = $1", delegation_id
    )
    return Delegation(row["delegation_id"], row["command_hash"], tuple(row["child_task_ids"])) if row else None


async def set_deadline_in_force(conn: asyncpg.Connection, task_id: str, deadline: Deadline) -> None:
    await conn.execute(
        "UPDATE tasks SET deadline_in_force = $2::jsonb WHERE task_id = $1", task_id, deadline.model_dump_json()
    )


async def open_subtree(conn: asyncpg.Connection, task_id: str) -> list[str]:
    """The task and every delegated descendant not yet withdrawn, parents first, locked."""
    rows = await conn.fetch(
        """WITH RECURSIVE down (task_id, depth) AS (
               SELECT task_id, 0 FROM tasks WHERE task_id = $1
               UNION ALL
               SELECT t.task_id, d.depth + 1 FROM tasks t JOIN down d ON t.parent_task_id = d.task_id)
           SELECT t.task_id FROM down d JOIN tasks t USING (task_id)
           WHERE t.withdrawn_at IS NULL ORDER BY d.depth, t.task_id FOR UPDATE OF t""",
        task_id,
    )
    return [r["task_id"] for r in rows]


async def withdraw(conn: asyncpg.Connection, task_ids: list[str], agency_id: str, reason: str, at: datetime) -> None:
    await conn.execute(
        """UPDATE tasks SET withdrawn_at = $2, withdrawn_by = $3, withdrawal_reason = $4
           WHERE task_id = ANY($1::text[]) AND withdrawn_at IS NULL""",
        task_ids,
        at,
        agency_id,
        reason,
    )


async def set_completed(conn: asyncpg.Connection, task_id: str, done: bool, at: datetime) -> None:
    """Open or done, as progress said (services/assignment/handlers.py): done keeps the first time it
    was; not done clears it. A task this service does not hold changes nothing."""
    await conn.execute(
        "UPDATE tasks SET completed_at = CASE WHEN $2 THEN coalesce(completed_at, $3) END WHERE task_id = $1",
        task_id,
        done,
        at,
    )
