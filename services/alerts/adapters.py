"""SQL of the alerts service (schema ``alerts``): tasks as alerts need them, alerts, the directory."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypeAlias

import asyncpg

from events.tasks import TaskAssigned

Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool


_INSERT_TASK = """INSERT INTO tasks (task_id, code, title, source_number, lead_agency_id, assigning_agency_id,
        officer_in_charge_id, due, source_issued_on, source_issuer, deadline_text,
        coordinating_agency_ids, key_task, classification)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
    ON CONFLICT (task_id) DO UPDATE SET classification = EXCLUDED.classification
        WHERE tasks.classification IS NULL"""


def _task_row(task_id: str, event: TaskAssigned) -> tuple[Any, ...]:
    doc = event.source_document
    return (
        task_id,
        event.code,
        event.title,
        doc.number,
        event.lead_agency_id,
        event.assigning_agency_id,
        event.officer_in_charge_id,
        event.deadline.due,
        doc.issued_on,
        doc.issuer,
        event.deadline.text,
        list(event.coordinating_agency_ids),
        event.key_task,
        event.classification,
    )


async def insert_tasks(conn: asyncpg.Connection, assigned: Sequence[tuple[str, TaskAssigned]]) -> None:
    """The tasks, pipelined in one round trip. The classification is only ever set here (no later event
    changes it; a delegated child has its own TaskAssigned). A row from before it was kept (NULL) gets it
    from a replayed TaskAssigned."""
    await conn.executemany(_INSERT_TASK, [_task_row(task_id, event) for task_id, event in assigned])


async def get_tasks(conn: Conn, task_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    rows = await conn.fetch("SELECT * FROM tasks WHERE task_id = ANY($1::text[])", list(task_ids))
    return {r["task_id"]: dict(r) for r in rows}


async def get_task(conn: Conn, task_id: str, *, lock: bool = False) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT * FROM tasks WHERE task_id = $1{' FOR UPDATE' if lock else ''}", task_id)
    return dict(row) if row else None


async def set_task(
    conn: asyncpg.Connection, task_id: str, *, status: str | None = None, due: date | None = None
) -> None:
    await conn.execute(
        "UPDATE tasks SET status = coalesce($2, status), due = coalesce($3, due) WHERE task_id = $1",
        task_id,
        status,
        due,
    )


async def set_parties(
    conn: asyncpg.Connection, task_id: str, lead: str, coordinating: list[str], officer: str | None
) -> None:
    """Who holds the task after a reorganisation moved it (events/tasks.py ``parties_after``)."""
    await conn.execute(
        """UPDATE tasks SET lead_agency_id = $2, coordinating_agency_ids = $3, officer_in_charge_id = $4
           WHERE task_id = $1""",
        task_id,
        lead,
        coordinating,
        officer,
    )


async def insert_alerts(conn: asyncpg.Connection, alerts: Sequence[Mapping[str, Any]]) -> set[uuid.UUID]:
    """The alerts, in their order, in one statement; returns the ids inserted (new: an alert already raised
    for its recipient is not raised again)."""
    if not alerts:
        return set()
    columns = (
        "alert_id",
        "task_id",
        "kind",
        "threshold",
        "recipient_person_id",
        "recipient_role",
        "recipient_agency_id",
        "message_vi",
        "due",
        "raised_at",
    )
    rows = await conn.fetch(
        """INSERT INTO alerts (alert_id, task_id, kind, threshold, recipient_person_id, recipient_role,
               recipient_agency_id, message_vi, due, raised_at)
           SELECT alert_id, task_id, kind, threshold, recipient_person_id, recipient_role, recipient_agency_id,
                  message_vi, due, raised_at
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                       $8::text[], $9::date[], $10::timestamptz[]) WITH ORDINALITY
               AS a (alert_id, task_id, kind, threshold, recipient_person_id, recipient_role, recipient_agency_id,
                     message_vi, due, raised_at, n)
           ORDER BY n ON CONFLICT DO NOTHING RETURNING alert_id""",
        *([alert[c] for alert in alerts] for c in columns),
    )
    return {r["alert_id"] for r in rows}


async def get_alert(conn: Conn, alert_id: uuid.UUID, *, lock: bool = False) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT a.*, t.code, t.title FROM alerts a JOIN tasks t USING (task_id) WHERE alert_id = $1"
        f"{' FOR UPDATE OF a' if lock else ''}",
        alert_id,
    )
    return dict(row) if row else None


async def open_alerts_of(
    conn: asyncpg.Connection,
    task_id: str,
    *,
    due_until: date | None = None,
    kinds: Iterable[str] | None = None,
    recipient_agency_id: str | None = None,
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT * FROM alerts WHERE task_id = $1 AND resolved_at IS NULL
             AND ($2::date IS NULL OR due IS NULL OR due <= $2)
             AND ($3::text[] IS NULL OR kind = ANY($3))
             AND ($4::text IS NULL OR recipient_agency_id = $4)
           ORDER BY recipient_person_id, alert_id FOR UPDATE""",
        task_id,
        due_until,
        list(kinds) if kinds is not None else None,
        recipient_agency_id,
    )
    return [dict(r) for r in rows]


async def resolve(conn: asyncpg.Connection, alert_id: uuid.UUID, because: str, at: datetime) -> None:
    await conn.execute(
        "UPDATE alerts SET resolved_at = $2, resolved_because = $3 WHERE alert_id = $1", alert_id, at, because
    )


async def acknowledge(conn: asyncpg.Connection, alert_id: uuid.UUID, at: datetime) -> None:
    await conn.execute(
        "UPDATE alerts SET acknowledged_at = $2 WHERE alert_id = $1 AND acknowledged_at IS NULL", alert_id, at
    )


async def count_reminder(conn: asyncpg.Connection, alert_id: uuid.UUID) -> int:
    return int(
        await conn.fetchval(
            "UPDATE alerts SET reminders = reminders + 1 WHERE alert_id = $1 RETURNING reminders", alert_id
        )
    )


async def inbox_of(pool: Conn, person_id: str, limit: int) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        """SELECT a.*, t.code, t.title, t.source_number FROM alerts a JOIN tasks t USING (task_id)
           WHERE a.recipient_person_id = $1 ORDER BY a.raised_at DESC, a.alert_id LIMIT $2""",
        person_id,
        limit,
    )
    return [dict(r) for r in rows]


async def open_approaching_by_person(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """Open, unacknowledged reminders of tasks still open: what the daily digests group."""
    rows = await conn.fetch(
        """SELECT a.alert_id, a.task_id, a.recipient_person_id, a.due, t.title, t.code, t.source_number,
                  t.classification
           FROM alerts a JOIN tasks t USING (task_id)
           WHERE a.kind = 'approaching' AND a.resolved_at IS NULL AND a.acknowledged_at IS NULL
             AND t.status = 'open'
           ORDER BY a.recipient_person_id, a.due, a.task_id, a.threshold""",
    )
    return [dict(r) for r in rows]


async def claim_digest(conn: asyncpg.Connection, person_id: str, day: date) -> bool:
    return bool(
        await conn.fetchval(
            "INSERT INTO digests (person_id, day) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
            person_id,
            day,
        )
    )
