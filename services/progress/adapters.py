"""SQL of the progress service (schema ``progress``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any, TypeAlias

import asyncpg

from events.deadlines import Deadline
from events.progress import Evidence
from events.tasks import TaskAssigned
from services.progress.domain import FIRST_PLAN, OPEN, Rollup, Task
from services.runtime.access import involved

Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool


async def insert_tasks(
    conn: asyncpg.Connection, assigned: Sequence[tuple[str, TaskAssigned, date | None]], at: datetime
) -> set[str]:
    """New tasks (task id, event, the day its document assigned it) of different ids in one statement, each
    at its first plan (domain.FIRST_PLAN: planning.plan_new schedules its timers in the same transaction);
    returns the ids inserted (new)."""
    rows = await conn.fetch(
        """INSERT INTO tasks (task_id, code, title, assigning_agency_id, lead_agency_id, officer_in_charge_id,
               key_task, deadline, original_due, due, status, updated_at, coordinating_agency_ids,
               parent_task_id, classification, assigned_on, plan)
           SELECT t.task_id, t.code, t.title, t.assigning, t.lead, t.officer, t.key_task, t.deadline::jsonb, t.due,
                  t.due, 'assigned', $13, ARRAY(SELECT jsonb_array_elements_text(t.coordinating::jsonb)),
                  t.parent, t.classification, t.assigned_on, $15::int
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[],
                       $8::text[], $9::date[], $10::text[], $11::text[], $12::text[], $14::date[])
               WITH ORDINALITY AS t (task_id, code, title, assigning, lead, officer, key_task, deadline, due,
                                     coordinating, parent, classification, assigned_on, n)
           ORDER BY t.n
           ON CONFLICT (task_id) DO NOTHING RETURNING task_id""",
        [task_id for task_id, _, _ in assigned],
        [e.code for _, e, _ in assigned],
        [e.title for _, e, _ in assigned],
        [e.assigning_agency_id for _, e, _ in assigned],
        [e.lead_agency_id for _, e, _ in assigned],
        [e.officer_in_charge_id for _, e, _ in assigned],
        [e.key_task for _, e, _ in assigned],
        [e.deadline.model_dump_json() for _, e, _ in assigned],
        [e.deadline.due for _, e, _ in assigned],
        [json.dumps(list(e.coordinating_agency_ids)) for _, e, _ in assigned],
        [e.parent_task_id for _, e, _ in assigned],
        [e.classification for _, e, _ in assigned],
        at,
        [on for _, _, on in assigned],
        FIRST_PLAN,
    )
    return {r["task_id"] for r in rows}


async def lock_tasks(conn: asyncpg.Connection, task_ids: Sequence[str]) -> dict[str, Task]:
    """``lock_task`` for many, in id order (one order for every writer)."""
    rows = await conn.fetch(
        f"SELECT {_TASK_COLUMNS} FROM tasks WHERE task_id = ANY($1::text[]) ORDER BY task_id FOR UPDATE",
        sorted(task_ids),
    )
    return {r["task_id"]: task for r in rows if (task := _task(r)) is not None}


async def set_plans(conn: asyncpg.Connection, plans: Sequence[tuple[str, int]], at: datetime) -> None:
    """Each task's plan number, in one statement."""
    await conn.execute(
        """UPDATE tasks SET plan = p.plan, updated_at = $3
           FROM unnest($1::text[], $2::int[]) AS p (task_id, plan) WHERE tasks.task_id = p.task_id""",
        [task_id for task_id, _ in plans],
        [plan for _, plan in plans],
        at,
    )


async def set_dues(conn: asyncpg.Connection, dues: Sequence[tuple[str, date | None]], at: datetime) -> None:
    """Each task's deadline in force, in one statement (the original stays in ``original_due``)."""
    await conn.execute(
        """UPDATE tasks SET due = d.due, updated_at = $3
           FROM unnest($1::text[], $2::date[]) AS d (task_id, due) WHERE tasks.task_id = d.task_id""",
        [task_id for task_id, _ in dues],
        [due for _, due in dues],
        at,
    )


async def set_statuses(conn: asyncpg.Connection, task_ids: Sequence[str], status: str, at: datetime) -> None:
    """One status for many tasks, in one statement."""
    await conn.execute(
        "UPDATE tasks SET status = $2, updated_at = $3 WHERE task_id = ANY($1::text[])", list(task_ids), status, at
    )


def parties(task: Task) -> set[str]:
    """The agencies involved in a task row (runtime/access.py)."""
    return involved(task.assigning_agency_id, task.lead_agency_id, task.coordinating_agency_ids)


async def lock_task(conn: asyncpg.Connection, task_id: str) -> Task | None:
    """The task, locked for this transaction: its events are then emitted in commit order."""
    return _task(await conn.fetchrow(f"SELECT {_TASK_COLUMNS} FROM tasks WHERE task_id = $1 FOR UPDATE", task_id))


async def get_task(conn: Conn, task_id: str) -> Task | None:
    return _task(await conn.fetchrow(f"SELECT {_TASK_COLUMNS} FROM tasks WHERE task_id = $1", task_id))


# The columns named, not *: a column dropped or renamed fails the first read, one added is not read by surprise.
_TASK_COLUMNS = ", ".join(f.name for f in fields(Task))


def _task(row: asyncpg.Record | None) -> Task | None:
    if row is None:
        return None
    columns = dict(row)
    evidence = json.loads(columns.pop("evidence")) if row["evidence"] else None
    lead_days = columns.pop("lead_days")
    return Task(
        **{
            **columns,
            "deadline": Deadline.model_validate_json(row["deadline"]),
            "evidence": Evidence.model_validate(evidence) if evidence is not None else None,
            "coordinating_agency_ids": tuple(row["coordinating_agency_ids"] or ()),
            "lead_days": tuple(lead_days) if lead_days is not None else None,
        }
    )


async def update(conn: asyncpg.Connection, task_id: str, at: datetime, **columns: Any) -> None:
    """Set the given columns (names come from this module's callers, never from input)."""
    names = list(columns)
    sets = ", ".join(f"{name} = ${i + 3}" for i, name in enumerate(names))
    await conn.execute(
        f"UPDATE tasks SET {sets}, updated_at = $2 WHERE task_id = $1",
        task_id,
        at,
        *(columns[n] for n in names),
    )


def evidence_json(evidence: Evidence) -> str:
    return evidence.model_dump_json(exclude_none=True)


def _stored_evidence(evidence: Evidence | None) -> str | None:
    # A completion without evidence keeps NULL, not an empty object.
    dumped = evidence_json(evidence) if evidence is not None else None
    return None if dumped in (None, "{}") else dumped


async def insert_completion(conn: asyncpg.Connection, task: Task, at: datetime) -> None:
    await conn.execute(
        """INSERT INTO completions (task_id, due, reported_on, on_time, product, evidence, confirmed_at)
           VALUES ($1, coalesce($2, '-infinity'::date), $3, $4, $5, $6::jsonb, $7) ON CONFLICT DO NOTHING""",
        task.task_id,
        task.due,
        task.reported_on,
        task.on_time,
        task.product,
        _stored_evidence(task.evidence),
        at,
    )


@dataclass(frozen=True)
class Completion:
    """A confirmed completion (one per occurrence of a recurring task)."""

    due: date | None
    reported_on: date
    on_time: bool | None
    product: str
    confirmed_at: datetime


async def completions_of(conn: Conn, task_id: str) -> list[Completion]:
    rows = await conn.fetch(
        """SELECT nullif(due, '-infinity') AS due, reported_on, on_time, product, confirmed_at
           FROM completions WHERE task_id = $1 ORDER BY due""",
        task_id,
    )
    return [Completion(**r) for r in rows]


async def insert_note(conn: asyncpg.Connection, task_id: str, agency_id: str, note: str, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO notes (task_id, agency_id, note, noted_at) VALUES ($1, $2, $3, $4)",
        task_id,
        agency_id,
        note,
        at,
    )


@dataclass(frozen=True)
class Note:
    """A coordination note on a task."""

    agency_id: str
    note: str
    noted_at: datetime


async def notes_of(conn: Conn, task_id: str) -> list[Note]:
    rows = await conn.fetch("SELECT agency_id, note, noted_at FROM notes WHERE task_id = $1 ORDER BY id", task_id)
    return [Note(**r) for r in rows]


async def rollup(conn: Conn, task_id: str, today: date) -> Rollup:
    """Children of a delegated task; withdrawn children leave the counts (as in the reports)."""
    row = await conn.fetchrow(
        """SELECT count(*) AS children,
                  count(*) FILTER (WHERE status = 'completed') AS completed,
                  min(due) FILTER (WHERE status <> 'completed') AS earliest_open_due,
                  coalesce(bool_or(status = ANY($3) AND due < $2), false) AS any_overdue
           FROM tasks WHERE parent_task_id = $1 AND status <> 'withdrawn'""",
        task_id,
        today,
        list(OPEN),
    )
    assert row is not None
    return Rollup(row["children"], row["completed"], row["earliest_open_due"], row["any_overdue"])


@dataclass(frozen=True)
class WorkItem:
    """A task as a worklist shows it (``worklist`` in services/progress/routes.py)."""

    task_id: str
    code: str
    title: str
    status: str
    percent: int
    due: date | None
    assigning_agency_id: str
    lead_agency_id: str
    officer_in_charge_id: str | None
    reported_on: date | None
    product: str | None
    classification: str | None


WORKLIST_LIMIT = 200
_WORK_COLUMNS = ", ".join(f.name for f in fields(WorkItem))
# Open for the worklist: the lead still owes work, or its report waits for the assigner.
_WORK_OPEN = [*sorted(OPEN), "completion_reported"]


async def work_of(conn: Conn, person_id: str, agency_id: str) -> list[WorkItem]:
    """A person's open tasks: they are its officer in charge, in the lead agency; most urgent first."""
    rows = await conn.fetch(
        f"""SELECT {_WORK_COLUMNS} FROM tasks
            WHERE officer_in_charge_id = $1 AND lead_agency_id = $2 AND status = ANY($3)
            ORDER BY due NULLS LAST, code LIMIT {WORKLIST_LIMIT}""",
        person_id,
        agency_id,
        _WORK_OPEN,
    )
    return [WorkItem(**r) for r in rows]


async def awaiting_decision_of(conn: Conn, agency_id: str) -> list[WorkItem]:
    """Tasks the agency assigned whose completion report waits for its decision; oldest report first."""
    rows = await conn.fetch(
        f"""SELECT {_WORK_COLUMNS} FROM tasks WHERE assigning_agency_id = $1 AND status = 'completion_reported'
            ORDER BY reported_on NULLS LAST, code LIMIT {WORKLIST_LIMIT}""",
        agency_id,
    )
    return [WorkItem(**r) for r in rows]
