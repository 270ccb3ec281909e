"""SQL of the progress service (schema ``progress``)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import asyncpg

from events.tasks import TaskAssigned


async def insert_task(conn: asyncpg.Connection, task_id: str, event: TaskAssigned, at: datetime) -> bool:
    due = event.deadline.due
    inserted = await conn.fetchval(
        """INSERT INTO tasks (task_id, code, title, assigning_agency_id, lead_agency_id, officer_in_charge_id,
               key_task, deadline, original_due, due, status, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $9, 'assigned', $10)
           ON CONFLICT (task_id) DO NOTHING RETURNING true""",
        task_id, event.code, event.title, event.assigning_agency_id, event.lead_agency_id,
        event.officer_in_charge_id, event.key_task, event.deadline.model_dump_json(), due, at,
    )
    return bool(inserted)


async def lock_task(conn: asyncpg.Connection, task_id: str) -> dict[str, Any] | None:
    """The task, locked for this transaction: its events are then emitted in commit order."""
    row = await conn.fetchrow("SELECT * FROM tasks WHERE task_id = $1 FOR UPDATE", task_id)
    return _task(row)


async def get_task(conn: asyncpg.Connection | asyncpg.Pool, task_id: str) -> dict[str, Any] | None:
    return _task(await conn.fetchrow("SELECT * FROM tasks WHERE task_id = $1", task_id))


def _task(row: asyncpg.Record | None) -> dict[str, Any] | None:
    if row is None:
        return None
    task = dict(row)
    task["deadline"] = json.loads(task["deadline"])
    return task


async def set_progress(conn: asyncpg.Connection, task_id: str, percent: int, at: datetime) -> None:
    await conn.execute(
        "UPDATE tasks SET status = 'in_progress', percent = $2, updated_at = $3 WHERE task_id = $1",
        task_id, percent, at,
    )


async def set_completed(conn: asyncpg.Connection, task_id: str, completed_on: date, on_time: bool | None,
                        product: str, at: datetime) -> None:
    await conn.execute(
        """UPDATE tasks SET status = 'completed', percent = 100, completed_on = $2, on_time = $3,
               product = $4, updated_at = $5 WHERE task_id = $1""",
        task_id, completed_on, on_time, product, at,
    )
