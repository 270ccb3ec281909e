"""The withdrawn list: withdrawn tasks are listed apart (DESIGN §4), most recently withdrawn first."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.reporting.iso import IsoDatetime
from services.reporting.queries.filters import Filters
from services.reporting.queries.scopes import task_scope
from services.reporting.queries.sql import Sql
from services.reporting.rows import row_of
from services.runtime.access import visible_sql


@dataclass(frozen=True, slots=True)
class WithdrawnTask:
    task_id: str
    code: str
    title: str
    document: str
    lead_agency_id: str
    withdrawn_at: IsoDatetime | None


async def withdrawn_tasks(conn: asyncpg.Connection, f: Filters, limit: int) -> list[WithdrawnTask]:
    """Withdrawn tasks are listed apart (DESIGN §4); secret ones only to the agencies involved."""
    q = Sql()
    conditions = [
        "t.bucket = 'withdrawn'",
        visible_sql(q(f.viewer), "t"),
        task_scope(f, q),
    ]
    if f.document:
        conditions.append(f"t.document = {q(f.document)}")
    sql = f"""SELECT t.task_id, t.code, t.title, t.document, t.lead_agency_id, t.withdrawn_at
              FROM tasks t WHERE {" AND ".join(conditions)} ORDER BY t.withdrawn_at DESC LIMIT {q(limit)}"""
    return [row_of(WithdrawnTask, r) for r in await conn.fetch(sql, *q.args)]
