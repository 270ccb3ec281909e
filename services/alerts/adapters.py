"""SQL of the alerts service (schema ``alerts``): tasks as alerts need them, alerts, the directory."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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


async def get_tasks(conn: Conn, task_ids: Sequence[str], *, lock: bool = False) -> dict[str, dict[str, Any]]:
    """The tasks known of these ids; ``lock``: each row locked, in id order (two writers never deadlock)."""
    rows = await conn.fetch(
        f"SELECT * FROM tasks WHERE task_id = ANY($1::text[]) ORDER BY task_id{' FOR UPDATE' if lock else ''}",
        list(task_ids),
    )
    return {r["task_id"]: dict(r) for r in rows}


async def get_task(conn: Conn, task_id: str, *, lock: bool = False) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT * FROM tasks WHERE task_id = $1{' FOR UPDATE' if lock else ''}", task_id)
    return dict(row) if row else None


async def set_tasks(conn: asyncpg.Connection, changes: Sequence[tuple[str, str | None, date | None]]) -> None:
    """Each (task id, status, due) in one statement; None keeps what the task has."""
    if changes:
        await conn.execute(
            """UPDATE tasks t SET status = coalesce(c.status, t.status), due = coalesce(c.due, t.due)
               FROM unnest($1::text[], $2::text[], $3::date[]) AS c (task_id, status, due)
               WHERE t.task_id = c.task_id""",
            *map(list, zip(*changes, strict=True)),
        )


async def set_parties(conn: asyncpg.Connection, parties: Sequence[tuple[str, str, Sequence[str], str | None]]) -> None:
    """Who holds each task after a reorganisation moved it (events/tasks.py ``parties_after``): (task id,
    lead, coordinating, officer), in one statement."""
    if parties:
        await conn.execute(
            """UPDATE tasks t SET lead_agency_id = p.lead, officer_in_charge_id = p.officer,
                   coordinating_agency_ids = coalesce(string_to_array(p.coordinating, chr(31)), '{}')
               FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS p (task_id, lead, coordinating, officer)
               WHERE t.task_id = p.task_id""",
            [task_id for task_id, _, _, _ in parties],
            [lead for _, lead, _, _ in parties],
            # One text per task (arrays of arrays must be rectangular); chr(31) occurs in no agency id.
            [chr(31).join(coordinating) or None for _, _, coordinating, _ in parties],
            [officer for _, _, _, officer in parties],
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


@dataclass(frozen=True)
class OpenAlerts:
    """Which of a task's open alerts: all, or only those due by ``due_until``, of ``kinds``, or told to the
    people of ``recipient_agency_id``."""

    task_id: str
    due_until: date | None = None
    kinds: tuple[str, ...] | None = None
    recipient_agency_id: str | None = None


async def open_alerts_of(conn: asyncpg.Connection, wanted: Sequence[OpenAlerts]) -> list[list[dict[str, Any]]]:
    """Each ``wanted``'s open alerts (by recipient, then id), locked, in one statement."""
    if not wanted:
        return []
    rows = await conn.fetch(
        """SELECT w.n, a.* FROM unnest($1::text[], $2::date[], $3::text[], $4::text[]) WITH ORDINALITY
               AS w (task_id, due_until, kinds, agency, n)
           JOIN alerts a ON a.task_id = w.task_id AND a.resolved_at IS NULL
             AND (w.due_until IS NULL OR a.due IS NULL OR a.due <= w.due_until)
             AND (w.kinds IS NULL OR a.kind = ANY(string_to_array(w.kinds, ',')))
             AND (w.agency IS NULL OR a.recipient_agency_id = w.agency)
           ORDER BY w.n, a.recipient_person_id, a.alert_id FOR UPDATE OF a""",
        [w.task_id for w in wanted],
        [w.due_until for w in wanted],
        [",".join(w.kinds) if w.kinds is not None else None for w in wanted],
        [w.recipient_agency_id for w in wanted],
    )
    found: list[list[dict[str, Any]]] = [[] for _ in wanted]
    for r in rows:
        alert = dict(r)
        found[alert.pop("n") - 1].append(alert)
    return found


async def resolve(conn: asyncpg.Connection, resolved: Sequence[tuple[uuid.UUID, str, datetime]]) -> None:
    """Each (alert id, because, at) in one statement."""
    if resolved:
        await conn.execute(
            """UPDATE alerts a SET resolved_at = r.at, resolved_because = r.because
               FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS r (alert_id, because, at)
               WHERE a.alert_id = r.alert_id""",
            *map(list, zip(*resolved, strict=True)),
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
