"""SQL of extension requests (gia hạn): one pending request per task, decided once."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg

from events.deadlines import Deadline
from events.tasks import SourceDocument

Conn: TypeAlias = "asyncpg.Connection | asyncpg.Pool"


async def insert(
    conn: asyncpg.Connection,
    request_id: str,
    task_id: str,
    agency_id: str,
    key: str,
    reason: str,
    proposed: Deadline,
    at: datetime,
) -> bool:
    """False when another request of this task is still pending (the partial unique index says so)."""
    try:
        async with conn.transaction():
            await conn.execute(
                """INSERT INTO extension_requests (request_id, task_id, requested_by_agency_id,
                       idempotency_key, reason, proposed_deadline, requested_at)
                   VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)""",
                request_id,
                task_id,
                agency_id,
                key,
                reason,
                proposed.model_dump_json(),
                at,
            )
    except asyncpg.UniqueViolationError:
        return False
    return True


async def get(conn: Conn, request_id: str, *, lock: bool = False) -> asyncpg.Record | None:
    lock_clause = " FOR UPDATE" if lock else ""
    sql = f"SELECT * FROM extension_requests WHERE request_id = $1{lock_clause}"
    return await conn.fetchrow(sql, request_id)


async def decide(
    conn: asyncpg.Connection,
    request_id: str,
    status: str,
    agency_id: str,
    at: datetime,
    reason: str,
    deadline: Deadline | None,
    document: SourceDocument | None,
) -> None:
    await conn.execute(
        """UPDATE extension_requests SET status = $2, decided_by_agency_id = $3, decided_at = $4,
               decision_reason = $5, decided_deadline = $6::jsonb, decision_document = $7::jsonb
           WHERE request_id = $1""",
        request_id,
        status,
        agency_id,
        at,
        reason,
        deadline.model_dump_json() if deadline else None,
        document.model_dump_json() if document else None,
    )


def view(row: asyncpg.Record) -> dict[str, Any]:
    out = dict(row)
    for column in ("proposed_deadline", "decided_deadline", "decision_document"):
        if out.get(column) is not None:
            out[column] = json.loads(out[column])
    return out


async def of_task(conn: Conn, task_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT * FROM extension_requests WHERE task_id = $1 ORDER BY requested_at", task_id)
    return [view(r) for r in rows]


async def awaiting_decision(conn: Conn, agency_id: str, limit: int = 200) -> list[dict[str, Any]]:
    """Pending requests on the tasks ``agency_id`` assigned (it decides them), oldest first, with the task."""
    rows = await conn.fetch(
        """SELECT e.*, t.code, t.title, t.lead_agency_id FROM extension_requests e JOIN tasks t USING (task_id)
           WHERE t.assigning_agency_id = $1 AND e.status = 'pending' ORDER BY e.requested_at LIMIT $2""",
        agency_id,
        limit,
    )
    return [view(r) for r in rows]
