"""What the two times of a fact (events/effective.py) add to a report: figures changed after they closed,
and how many rows a document lists beside the lead assignments they became.

**Closed figures changed later.** A month's figures close at the end of its last day (ngày chốt số liệu).
A fact recorded after that whose effective time falls on or before it (a plan loaded in February that was
issued in November) changes figures already closed: the month is marked "điều chỉnh sau ngày chốt số liệu",
never silently. On the history rows: one opened at or before the closing moment, learnt after it
(``recorded_from``, migrations/004).

**Rows listed and lead assignments.** A row of a Danh mục naming several lead agencies is one task per lead
(``#8a``, ``#8b``… share row 8): the document lists 17 rows, which became 66 lead assignments — the tasks
the report counts for it; less the extra leads' tasks, the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.reporting.queries.filters import Filters
from services.reporting.queries.scopes import history_filters, task_scope
from services.reporting.queries.sql import Sql
from services.runtime.access import visible_sql

NOTE_VI = "Số liệu điều chỉnh sau ngày chốt số liệu"
"""The note a month or report carries when a fact recorded after its figures closed changed them."""

EXTRA_LEAD = "t.code ~ '#[0-9]+([b-z]|[a-z]{2,})$'"
"""A task made for the second, third… lead agency a row names (``#8b``, ``#8c``; ``#8a`` is the row's first):
the tasks of a document less these are the rows it lists. The same text as the partial index's predicate
(migrations/004), so the planner uses it."""


async def adjusted_after(conn: asyncpg.Connection, f: Filters, closings: Sequence[datetime]) -> dict[datetime, int]:
    """For each closing moment, how many tasks of the filter had a fact recorded after it that took
    effect on or before it (0: the figures stand as they were when they closed)."""
    if not closings or f.as_recorded:
        # On the recorded axis nothing is ever changed after the fact: it shows what dondoc showed.
        return dict.fromkeys(closings, 0)
    q = Sql()
    public = history_filters(f, q, secret=False)
    visible = f"(({public}) OR ({history_filters(f, q, secret=True)}))" if f.viewer else public
    rows = await conn.fetch(
        f"""SELECT c.closing, (SELECT count(DISTINCT h.task_id) FROM task_history h
                               WHERE h.recorded_from IS NOT NULL AND h.valid_from <= c.closing
                                 AND h.recorded_from > c.closing AND {visible}) AS n
            FROM unnest({q(list(closings))}::timestamptz[]) AS c(closing)""",
        *q.args,
    )
    return {r["closing"]: r["n"] for r in rows}


def note(closing: datetime, n: int) -> dict[str, Any] | None:
    """The note a report or trend point carries when ``n`` tasks changed after ``closing``."""
    if not n:
        return None
    return {"closed_at": closing.isoformat(), "tasks": n, "note_vi": NOTE_VI}


async def extra_leads(conn: asyncpg.Connection, f: Filters, numbers: Sequence[str], at: datetime) -> dict[str, int]:
    """Per document, the tasks of the filter made for a row's second, third… lead agency that counted at
    ``at`` (on the report's axis): the document's tasks less these are the rows it lists. Few (only rows
    naming several leads), found by their own partial index, whatever the size of the documents."""
    if not numbers:
        return {}
    q = Sql()
    since = "coalesce(t.recorded_at, t.assigned_at)" if f.as_recorded else "t.assigned_at"
    conditions = [
        f"t.document = ANY({q(list(numbers))}::text[])",
        "t.parent_task_id IS NULL",
        EXTRA_LEAD,
        task_scope(f, q),
        f"{since} <= {q(at)}",
        visible_sql(q(f.viewer), "t"),
    ]
    if f.start:
        conditions.append(f"t.assigned_on >= {q(f.start)}")
    if f.end:
        conditions.append(f"t.assigned_on <= {q(f.end)}")
    rows = await conn.fetch(
        f"SELECT t.document, count(*) AS n FROM tasks t WHERE {' AND '.join(conditions)} GROUP BY 1", *q.args
    )
    return {r["document"]: r["n"] for r in rows}
