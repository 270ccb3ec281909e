"""Writes of the task read model: the current row, its history intervals and the journal, together.

Invariants (tests/integration/test_report_paths.py checks them on random histories):
* For every task exactly one history row is current (valid_to = infinity), and it equals the task's
  bucket and deadline in force.
* The journal and live (migrations/002) equal what ``journal_apply`` derives from the history rows
  of all tasks: a handler takes the task out of them, changes its history, and puts it back, so the
  two can never drift apart; rebuilding them from the history gives the same rows.
* All of it changes in the handler's transaction, with the inbox record: a re-delivered event
  changes nothing, a failed one changes nothing.
* A delegated child task counts once in every view, at the highest level the view holds: not in the
  whole tree nor in a view that also holds its parent's lead (that view counts the parent), but in
  the views of its own lead's subtree below that.
* Journal rows are upserted in key order so two replicas handling events of different tasks cannot
  deadlock on them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

import asyncpg

from events.tasks import TaskAssigned
from services.reporting.domain import OPEN_BUCKETS, bucket_of


@dataclass(frozen=True)
class TaskState:
    """What the counters and the history depend on: the rest of a task lives in its row only."""

    task_id: str
    bucket: str
    due: date | None
    lead_agency_id: str
    document: str
    assigned_on: date
    key_task: bool
    secret: bool
    involved: tuple[str, ...]
    delegated: bool = False
    parent_lead: str | None = None

    @property
    def counted_due(self) -> date | None:
        # Only an unfinished task's deadline matters to the figures; dropping it elsewhere keeps
        # the counters small (all completed tasks of a document share one row).
        return self.due if self.bucket in OPEN_BUCKETS else None


async def insert_task(
    conn: asyncpg.Connection, task_id: str, event: TaskAssigned, at: datetime, assigned_on: date
) -> TaskState | None:
    """The task's first row; None when it already exists (a re-sent TaskAssigned)."""
    deadline = event.deadline
    bucket = bucket_of(
        withdrawn=False, has_deadline=deadline.kind != "none", completed=False, on_time=None, started=False
    )
    inserted = await conn.fetchval(
        """INSERT INTO tasks (task_id, code, title, document, assigning_agency_id, lead_agency_id,
               coordinating_agency_ids, officer_in_charge_id, deadline_kind, deadline_text, original_due, due,
               key_task, classification, status, assigned_at, assigned_on, parent_task_id, bucket, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, 'open', $14, $15, $16, $17,
                   $14)
           ON CONFLICT (task_id) DO NOTHING RETURNING true""",
        task_id,
        event.code,
        event.title,
        event.source_document.number,
        event.assigning_agency_id,
        event.lead_agency_id,
        list(event.coordinating_agency_ids),
        event.officer_in_charge_id,
        deadline.kind,
        deadline.text,
        deadline.due,
        event.key_task,
        event.classification,
        at,
        assigned_on,
        event.parent_task_id,
        bucket,
    )
    if not inserted:
        return None
    parent_lead = None
    if event.parent_task_id:
        parent_lead = await conn.fetchval(
            "SELECT lead_agency_id FROM tasks WHERE task_id = $1", event.parent_task_id
        )
        await conn.execute(
            "UPDATE tasks SET parent_lead_agency_id = $2 WHERE task_id = $1", task_id, parent_lead
        )
    await conn.execute(
        """INSERT INTO documents (number, issued_on, issuer) VALUES ($1, $2, $3)
           ON CONFLICT (number) DO NOTHING""",
        event.source_document.number,
        event.source_document.issued_on,
        event.source_document.issuer,
    )
    await ensure_agency(conn, event.lead_agency_id)
    state = TaskState(
        task_id=task_id,
        bucket=bucket,
        due=deadline.due,
        lead_agency_id=event.lead_agency_id,
        document=event.source_document.number,
        assigned_on=assigned_on,
        key_task=event.key_task,
        secret=event.classification == "mat",
        involved=tuple(
            dict.fromkeys((event.assigning_agency_id, event.lead_agency_id, *event.coordinating_agency_ids))
        ),
        delegated=event.parent_task_id is not None,
        parent_lead=parent_lead,
    )
    await _open_interval(conn, state, at)
    await journal(conn, [task_id], +1)
    await _adopt_children(conn, task_id, event.lead_agency_id)
    return state


async def journal(conn: asyncpg.Connection, task_ids: list[str] | None, sign: int) -> None:
    """Add (+1) or take out (-1) these tasks' history in the journal and live (None: every task)."""
    await conn.execute("SELECT journal_apply($1::text[], $2)", task_ids, sign)


async def _adopt_children(conn: asyncpg.Connection, parent_id: str, parent_lead: str) -> None:
    """Children assigned before their parent reached us (another partition) learn the parent's lead now."""
    children = [
        r["task_id"]
        for r in await conn.fetch(
            """SELECT task_id FROM tasks WHERE parent_task_id = $1 AND parent_lead_agency_id IS NULL
               ORDER BY task_id FOR UPDATE""",
            parent_id,
        )
    ]
    if not children:
        return
    await journal(conn, children, -1)
    await conn.execute(
        "UPDATE tasks SET parent_lead_agency_id = $2 WHERE task_id = ANY($1::text[])", children, parent_lead
    )
    await conn.execute(
        "UPDATE task_history SET parent_lead = $2 WHERE task_id = ANY($1::text[])", children, parent_lead
    )
    await journal(conn, children, +1)


async def load(conn: asyncpg.Connection, task_id: str) -> TaskState | None:
    """The task's current state, locked for the rest of the transaction."""
    row = await conn.fetchrow(
        """SELECT t.task_id, t.bucket, t.due, t.lead_agency_id, t.document, t.assigned_on, t.key_task,
                  t.classification = 'mat' AS secret,
                  ARRAY[t.assigning_agency_id, t.lead_agency_id] || t.coordinating_agency_ids AS involved,
                  t.parent_task_id IS NOT NULL AS delegated, t.parent_lead_agency_id AS parent_lead
           FROM tasks t WHERE t.task_id = $1 FOR UPDATE""",
        task_id,
    )
    if row is None:
        return None
    return TaskState(**{**dict(row), "involved": tuple(dict.fromkeys(row["involved"]))})


async def move(
    conn: asyncpg.Connection,
    before: TaskState,
    at: datetime,
    *,
    bucket: str | None = None,
    due: date | None = None,
    due_changed: bool = False,
) -> TaskState:
    """Put the task in another bucket and/or deadline from ``at`` on; history and counters follow."""
    after = replace(before, bucket=bucket or before.bucket, due=due if due_changed else before.due)
    if (after.bucket, after.counted_due, after.due) == (before.bucket, before.counted_due, before.due):
        return before
    await conn.execute(
        "UPDATE tasks SET bucket = $2, due = $3, updated_at = $4 WHERE task_id = $1",
        after.task_id,
        after.bucket,
        after.due,
        at,
    )
    if (after.bucket, after.counted_due) != (before.bucket, before.counted_due):
        await journal(conn, [after.task_id], -1)
        await _close_interval(conn, after, at)
        await journal(conn, [after.task_id], +1)
    return after


async def update_task(conn: asyncpg.Connection, task_id: str, **columns: object) -> None:
    """Columns that are shown but not counted (percent, completion date, …)."""
    names = list(columns)
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=2))
    await conn.execute(f"UPDATE tasks SET {assignments} WHERE task_id = $1", task_id, *columns.values())


async def _open_interval(conn: asyncpg.Connection, state: TaskState, at: datetime) -> None:
    await conn.execute(
        """INSERT INTO task_history (task_id, valid_from, bucket, due, lead_agency_id, document, assigned_on,
               key_task, secret, involved, delegated, parent_lead)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)""",
        state.task_id,
        at,
        state.bucket,
        state.counted_due,
        state.lead_agency_id,
        state.document,
        state.assigned_on,
        state.key_task,
        state.secret,
        list(state.involved),
        state.delegated,
        state.parent_lead,
    )


async def _close_interval(conn: asyncpg.Connection, after: TaskState, at: datetime) -> None:
    current_from = await conn.fetchval(
        "SELECT valid_from FROM task_history WHERE task_id = $1 AND valid_to = 'infinity'", after.task_id
    )
    if current_from is not None and at <= current_from:
        # Two changes at the same instant (or a clock that went back): the earlier state never held
        # for any length of time, so the current interval takes the new state in place.
        await conn.execute(
            "UPDATE task_history SET bucket = $2, due = $3 WHERE task_id = $1 AND valid_to = 'infinity'",
            after.task_id,
            after.bucket,
            after.counted_due,
        )
        return
    await conn.execute(
        "UPDATE task_history SET valid_to = $2 WHERE task_id = $1 AND valid_to = 'infinity'",
        after.task_id,
        at,
    )
    await _open_interval(conn, after, at)


async def ensure_agency(conn: asyncpg.Connection, agency_id: str) -> None:
    """An agency seen as a lead before the directory named it: a root of its own until it does."""
    inserted = await conn.fetchval(
        """INSERT INTO agencies (agency_id, name, short_name, known) VALUES ($1, $1, $1, false)
           ON CONFLICT (agency_id) DO NOTHING RETURNING true""",
        agency_id,
    )
    if inserted:
        await conn.execute("INSERT INTO agency_tree VALUES ($1, $1, 0) ON CONFLICT DO NOTHING", agency_id)
