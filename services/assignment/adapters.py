"""SQL of the assignment service (schema ``assignment``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from events.tasks import TaskAssigned


async def insert_task(conn: asyncpg.Connection, task_id: str, idempotency_key: str, event: TaskAssigned,
                      assigned_at: datetime) -> bool:
    """False when the (assigner, idempotency key) already named a task: the command was a retry."""
    inserted = await conn.fetchval(
        """INSERT INTO tasks (task_id, code, assigning_agency_id, idempotency_key, title, description,
               expected_product, source_number, source_issued_on, source_issuer, lead_agency_id,
               coordinating_agency_ids, officer_in_charge_id, deadline, key_task, classification,
               parent_task_id, assigned_at)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14::jsonb,$15,$16,$17,$18)
           ON CONFLICT DO NOTHING RETURNING true""",
        task_id, event.code, event.assigning_agency_id, idempotency_key, event.title, event.description,
        event.expected_product, event.source_document.number, event.source_document.issued_on,
        event.source_document.issuer, event.lead_agency_id, list(event.coordinating_agency_ids),
        event.officer_in_charge_id, event.deadline.model_dump_json(), event.key_task, event.classification,
        event.parent_task_id, assigned_at,
    )
    return bool(inserted)


async def get_task(conn: asyncpg.Connection | asyncpg.Pool, task_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM tasks WHERE task_id = $1", task_id)
    if row is None:
        return None
    task = dict(row)
    task["deadline"] = json.loads(task["deadline"])
    task["coordinating_agency_ids"] = list(task["coordinating_agency_ids"])
    return task
