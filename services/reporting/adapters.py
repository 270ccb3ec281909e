"""SQL of the reporting service (schema ``reporting``)."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

from events.tasks import TaskAssigned, TaskCompleted
from services.reporting.domain import Summary


async def insert_task(conn: asyncpg.Connection, task_id: str, event: TaskAssigned, at: datetime) -> None:
    await conn.execute(
        """INSERT INTO tasks (task_id, code, title, document, assigning_agency_id, lead_agency_id,
               officer_in_charge_id, deadline_kind, original_due, due, key_task, classification, status, assigned_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, 'open', $12)
           ON CONFLICT (task_id) DO NOTHING""",
        task_id, event.code, event.title, event.source_document.number, event.assigning_agency_id,
        event.lead_agency_id, event.officer_in_charge_id, event.deadline.kind, event.deadline.due,
        event.key_task, event.classification, at,
    )


async def set_percent(conn: asyncpg.Connection, task_id: str, percent: int) -> None:
    await conn.execute("UPDATE tasks SET percent = $2 WHERE task_id = $1 AND status = 'open'", task_id, percent)


async def set_completed(conn: asyncpg.Connection, task_id: str, event: TaskCompleted) -> None:
    await conn.execute(
        """UPDATE tasks SET status = 'completed', percent = 100, completed_on = $2, on_time = $3
           WHERE task_id = $1""",
        task_id, event.reported_on, event.on_time,
    )


_SUMMARY = """
SELECT
  count(*) FILTER (WHERE status <> 'withdrawn' AND deadline_kind <> 'none') AS assigned,
  count(*) FILTER (WHERE status = 'completed' AND deadline_kind <> 'none' AND on_time) AS completed_on_time,
  count(*) FILTER (WHERE status = 'completed' AND deadline_kind <> 'none' AND NOT on_time) AS completed_late,
  count(*) FILTER (WHERE status = 'open' AND deadline_kind <> 'none' AND due >= $1) AS unfinished_within_deadline,
  count(*) FILTER (WHERE status = 'open' AND deadline_kind <> 'none' AND due < $1) AS unfinished_overdue,
  count(*) FILTER (WHERE status <> 'withdrawn' AND deadline_kind = 'none') AS no_fixed_deadline,
  count(*) FILTER (WHERE status = 'withdrawn') AS withdrawn
FROM tasks
WHERE ($2::text IS NULL OR document = $2) AND ($3::text IS NULL OR lead_agency_id = $3)
"""


async def summary(pool: asyncpg.Pool, today: date, document: str | None, agency_id: str | None) -> Summary:
    # A task due today is still within its deadline until the day ends.
    row = await pool.fetchrow(_SUMMARY, today, document, agency_id)
    assert row is not None
    return Summary(**dict(row))
