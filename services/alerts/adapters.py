"""SQL of the alerts service (schema ``alerts``): tasks as alerts need them, alerts, the directory."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeAlias

import asyncpg

from events.tasks import TaskAssigned
from services.alerts.domain import Alert, AlertTask, DigestItem, InboxEntry

Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool


async def insert_tasks(conn: asyncpg.Connection, assigned: Sequence[tuple[str, TaskAssigned]]) -> dict[str, AlertTask]:
    """The tasks, in their order, in one statement; returns each as it stands after (what ``get_tasks`` would
    read next). The classification is only ever set here (no later event changes it; a delegated child has
    its own TaskAssigned). A row from before it was kept (NULL) gets it from a replayed TaskAssigned.

    The rows inserted or updated come back from RETURNING; a task already known and left as it was (a
    redelivered TaskAssigned) is read after, so a bulk import costs one round trip, not two."""
    if not assigned:
        return {}
    events = [event for _, event in assigned]
    rows = await conn.fetch(
        f"""INSERT INTO tasks (task_id, code, title, source_number, lead_agency_id, assigning_agency_id,
                officer_in_charge_id, due, source_issued_on, source_issuer, deadline_text,
                coordinating_agency_ids, key_task, classification)
            SELECT task_id, code, title, source_number, lead_agency_id, assigning_agency_id, officer_in_charge_id,
                   due, source_issued_on, source_issuer, deadline_text,
                   coalesce(string_to_array(coordinating, chr(31)), '{{}}'), key_task, classification
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                        $8::date[], $9::date[], $10::text[], $11::text[], $12::text[], $13::bool[], $14::text[])
                WITH ORDINALITY AS n (task_id, code, title, source_number, lead_agency_id, assigning_agency_id,
                    officer_in_charge_id, due, source_issued_on, source_issuer, deadline_text, coordinating,
                    key_task, classification, n)
            ORDER BY n
            ON CONFLICT (task_id) DO UPDATE SET classification = EXCLUDED.classification
                WHERE tasks.classification IS NULL
            RETURNING {_TASK}""",
        [task_id for task_id, _ in assigned],
        [e.code for e in events],
        [e.title for e in events],
        [e.source_document.number for e in events],
        [e.lead_agency_id for e in events],
        [e.assigning_agency_id for e in events],
        [e.officer_in_charge_id for e in events],
        [e.deadline.due for e in events],
        [e.source_document.issued_on for e in events],
        [e.source_document.issuer for e in events],
        [e.deadline.text for e in events],
        # One text per task (arrays of arrays must be rectangular); chr(31) occurs in no agency id.
        [chr(31).join(e.coordinating_agency_ids) or None for e in events],
        [e.key_task for e in events],
        [e.classification for e in events],
    )
    tasks = {r[0]: _task(r) for r in rows}
    kept = [task_id for task_id, _ in assigned if task_id not in tasks]
    if kept:
        tasks.update(await get_tasks(conn, kept))
    return tasks


# The columns of each read model, named once: a column renamed in a migration fails here, in every query.
_TASK = """task_id, code, title, source_number, lead_agency_id, assigning_agency_id, officer_in_charge_id, due,
    status, source_issued_on, source_issuer, deadline_text, coordinating_agency_ids, key_task, classification"""
_ALERT = """a.alert_id, a.task_id, a.kind, a.threshold, a.recipient_person_id, a.recipient_role,
    a.recipient_agency_id, a.message_vi, a.due, a.raised_at, a.acknowledged_at, a.reminders, a.resolved_at,
    a.resolved_because"""
_INBOX = f"{_ALERT}, t.code, t.title, t.source_number"
_DIGEST = "a.alert_id, a.task_id, a.recipient_person_id, a.due, t.title, t.code, t.source_number, t.classification"


def _task(r: asyncpg.Record) -> AlertTask:
    # By position, in _TASK's order: the cheapest way from a record (tasks are read for every alert).
    return AlertTask(
        r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], tuple(r[12] or ()), r[13], r[14]
    )


def _alert(r: asyncpg.Record, at: int = 0) -> Alert:
    """The alert in ``_ALERT``'s order from column ``at`` on."""
    return Alert(*r[at : at + 14])


async def get_tasks(conn: Conn, task_ids: Sequence[str], *, lock: bool = False) -> dict[str, AlertTask]:
    """The tasks known of these ids; ``lock``: each row locked, in id order (two writers never deadlock)."""
    rows = await conn.fetch(
        f"SELECT {_TASK} FROM tasks WHERE task_id = ANY($1::text[]) ORDER BY task_id{' FOR UPDATE' if lock else ''}",
        list(task_ids),
    )
    return {r[0]: _task(r) for r in rows}


async def get_task(conn: Conn, task_id: str, *, lock: bool = False) -> AlertTask | None:
    row = await conn.fetchrow(f"SELECT {_TASK} FROM tasks WHERE task_id = $1{' FOR UPDATE' if lock else ''}", task_id)
    return _task(row) if row else None


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


async def insert_alerts(conn: asyncpg.Connection, alerts: Sequence[Alert]) -> set[uuid.UUID]:
    """The alerts, in their order, in one statement; returns the ids inserted (new: an alert already raised
    for its recipient is not raised again)."""
    if not alerts:
        return set()
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
        [a.alert_id for a in alerts],
        [a.task_id for a in alerts],
        [a.kind for a in alerts],
        [a.threshold for a in alerts],
        [a.recipient_person_id for a in alerts],
        [a.recipient_role for a in alerts],
        [a.recipient_agency_id for a in alerts],
        [a.message_vi for a in alerts],
        [a.due for a in alerts],
        [a.raised_at for a in alerts],
    )
    return {r["alert_id"] for r in rows}


async def get_alert(conn: Conn, alert_id: uuid.UUID, *, lock: bool = False) -> Alert | None:
    row = await conn.fetchrow(
        f"SELECT {_ALERT} FROM alerts a WHERE a.alert_id = $1{' FOR UPDATE OF a' if lock else ''}", alert_id
    )
    return _alert(row) if row else None


@dataclass(frozen=True, slots=True)
class OpenAlerts:
    """Which of a task's open alerts: all, or only those due by ``due_until``, of ``kinds``, or told to the
    people of ``recipient_agency_id``."""

    task_id: str
    due_until: date | None = None
    kinds: tuple[str, ...] | None = None
    recipient_agency_id: str | None = None


async def open_alerts_of(conn: asyncpg.Connection, wanted: Sequence[OpenAlerts]) -> list[list[Alert]]:
    """Each ``wanted``'s open alerts (by recipient, then id), locked, in one statement."""
    if not wanted:
        return []
    rows = await conn.fetch(
        f"""SELECT w.n, {_ALERT} FROM unnest($1::text[], $2::date[], $3::text[], $4::text[]) WITH ORDINALITY
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
    found: list[list[Alert]] = [[] for _ in wanted]
    for r in rows:
        found[r[0] - 1].append(_alert(r, 1))
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


async def inbox_of(pool: Conn, person_id: str, limit: int) -> list[InboxEntry]:
    rows = await pool.fetch(
        f"""SELECT {_INBOX} FROM alerts a JOIN tasks t USING (task_id)
            WHERE a.recipient_person_id = $1 ORDER BY a.raised_at DESC, a.alert_id LIMIT $2""",
        person_id,
        limit,
    )
    return [InboxEntry(*r) for r in rows]


async def open_approaching_by_person(conn: asyncpg.Connection) -> list[DigestItem]:
    """Open, unacknowledged reminders of tasks still open: what the daily digests group."""
    rows = await conn.fetch(
        f"""SELECT {_DIGEST}
           FROM alerts a JOIN tasks t USING (task_id)
           WHERE a.kind = 'approaching' AND a.resolved_at IS NULL AND a.acknowledged_at IS NULL
             AND t.status = 'open'
           ORDER BY a.recipient_person_id, a.due, a.task_id, a.threshold""",
    )
    return [DigestItem(*r) for r in rows]


async def claim_digest(conn: asyncpg.Connection, person_id: str, day: date) -> bool:
    return bool(
        await conn.fetchval(
            "INSERT INTO digests (person_id, day) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
            person_id,
            day,
        )
    )
