"""SQL of the alerts service (schema ``alerts``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import asyncpg

from events.tasks import TaskAssigned


async def upsert_task(conn: asyncpg.Connection, task_id: str, event: TaskAssigned) -> None:
    await conn.execute(
        """INSERT INTO tasks (task_id, code, title, source_number, lead_agency_id, assigning_agency_id,
               officer_in_charge_id, due)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (task_id) DO NOTHING""",
        task_id, event.code, event.title, event.source_document.number, event.lead_agency_id,
        event.assigning_agency_id, event.officer_in_charge_id, event.deadline.due,
    )


async def get_task(conn: asyncpg.Connection, task_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM tasks WHERE task_id = $1", task_id)
    return dict(row) if row else None


async def insert_alert(conn: asyncpg.Connection, *, alert_id: uuid.UUID, task_id: str, kind: str, threshold: str,
                       recipient_person_id: str, recipient_role: str, message_vi: str, due: date | None,
                       raised_at: datetime) -> bool:
    inserted = await conn.fetchval(
        """INSERT INTO alerts (alert_id, task_id, kind, threshold, recipient_person_id, recipient_role,
               message_vi, due, raised_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING true""",
        alert_id, task_id, kind, threshold, recipient_person_id, recipient_role, message_vi, due, raised_at,
    )
    return bool(inserted)


async def inbox_of(pool: asyncpg.Pool, person_id: str, limit: int) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        """SELECT a.*, t.code, t.title FROM alerts a JOIN tasks t USING (task_id)
           WHERE a.recipient_person_id = $1 ORDER BY a.raised_at DESC, a.alert_id LIMIT $2""",
        person_id, limit,
    )
    return [dict(r) for r in rows]
