"""The overdue list: unfinished overdue tasks at a moment, most overdue first, with who answers for each."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

import asyncpg

from services.reporting.queries.filters import Filters
from services.reporting.queries.scopes import history_filters, task_scope
from services.reporting.queries.sql import Sql, valid_at
from services.reporting.rows import row_of
from services.runtime.access import visible_sql


@dataclass(frozen=True, slots=True)
class OverdueTask:
    """An unfinished overdue task and who answers for it: its officer in charge, else its lead's head."""

    task_id: str
    code: str
    title: str
    document: str
    lead_agency_id: str
    lead_agency_name: str | None
    assigning_agency_id: str
    assigning_agency_name: str | None
    key_task: bool
    percent: int
    original_due: date | None
    due: date  # the deadline in force at the moment asked about
    days_overdue: int
    not_started: bool
    person_id: str | None
    person_name: str | None
    person_title: str | None
    person_role: str | None  # "officer" or "head"


async def overdue_tasks(
    conn: asyncpg.Connection, f: Filters, at: datetime, today: date, *, live: bool, limit: int
) -> list[OverdueTask]:
    """Unfinished overdue tasks, most overdue first, with who answers for each.

    Live (now) reads the current task rows (by deadline, or by lead agency for a subtree); a past
    moment reads the history rows valid then, filtered on their own columns so the same indexes
    serve, and joins the task rows of the few it keeps.
    """
    q = Sql()
    day = q(today)
    if live and not f.as_recorded:
        conditions = [
            visible_sql(q(f.viewer), "t") if f.viewer else visible_sql("NULL", "t"),
            task_scope(f, q),
            f"t.bucket IN ('new', 'started') AND t.due < {day}",
        ]
        if f.document:
            conditions.append(f"t.document = {q(f.document)}")
        if f.start:
            conditions.append(f"t.assigned_on >= {q(f.start)}")
        if f.end:
            conditions.append(f"t.assigned_on <= {q(f.end)}")
        source, due = f"tasks t WHERE {' AND '.join(conditions)}", "t.due"
    else:
        moment = q(at)
        if f.agency_id:
            # A subtree's rows, found agency by agency through the lead index: walking every unfinished
            # task of the tree in deadline order to find the first fifty of one province is far slower.
            agency = q(f.agency_id)
            unscoped = replace(f, agency_id=None, lead_only=False)
            public = history_filters(unscoped, q, secret=False, scoped=False)
            visible = public
            if f.viewer:
                visible = f"(({public}) OR ({history_filters(unscoped, q, secret=True, scoped=False)}))"
            found = f"""SELECT h.task_id, h.due FROM agency_tree a
                       CROSS JOIN LATERAL (
                           SELECT h.task_id, h.due, h.parent_lead FROM task_history h
                           WHERE h.lead_agency_id = a.agency_id AND {valid_at(moment, as_recorded=f.as_recorded)}
                             AND h.bucket IN ('new', 'started') AND h.due < {day} AND {visible}) h
                       WHERE a.ancestor_id = {agency} {"AND a.depth = 0" if f.lead_only else ""}
                         AND (h.parent_lead IS NULL OR h.parent_lead NOT IN
                              (SELECT agency_id FROM agency_tree WHERE ancestor_id = {agency}))"""
        else:
            public = history_filters(f, q, secret=False)
            visible = f"(({public}) OR ({history_filters(f, q, secret=True)}))" if f.viewer else public
            found = f"""SELECT h.task_id, h.due FROM task_history h
                        WHERE h.bucket IN ('new', 'started') AND h.due < {day}
                          AND {valid_at(moment, as_recorded=f.as_recorded)} AND {visible}"""
        source = f"({found}) h JOIN tasks t ON t.task_id = h.task_id"
        due = "h.due"
    # Who answers for each is looked up row by row through the keys: joined, the planner hashes the whole of
    # agencies and people (5,000+ rows each) for a page of fifty — most of the list's time at 1M tasks.
    sql = f"""SELECT t.task_id, t.code, t.title, t.document, t.lead_agency_id,
                     (SELECT name FROM agencies WHERE agency_id = t.lead_agency_id) AS lead_agency_name,
                     t.assigning_agency_id,
                     (SELECT name FROM agencies WHERE agency_id = t.assigning_agency_id) AS assigning_agency_name,
                     t.key_task, t.percent,
                     t.original_due, t.due_then AS due, {day}::date - t.due_then AS days_overdue,
                     t.bucket = 'new' AS not_started,
                     coalesce(o.person_id, hd.person_id) AS person_id,
                     coalesce(o.full_name, hd.full_name, t.officer_in_charge_id) AS person_name,
                     coalesce(o.title, hd.title) AS person_title,
                     CASE WHEN o.person_id IS NOT NULL OR t.officer_in_charge_id IS NOT NULL THEN 'officer'
                          WHEN hd.person_id IS NOT NULL THEN 'head' END AS person_role
              -- The page of tasks first, then who answers for each of them only.
              FROM (SELECT t.*, {due} AS due_then FROM {source} ORDER BY {due}, t.code LIMIT {q(limit)}) t
              LEFT JOIN LATERAL (SELECT person_id, full_name, title FROM people
                                 WHERE person_id = t.officer_in_charge_id LIMIT 1) o ON true
              LEFT JOIN LATERAL (SELECT person_id, full_name, title FROM people
                                 WHERE agency_id = t.lead_agency_id AND role = 'head'
                                 ORDER BY person_id LIMIT 1) hd ON true
              ORDER BY t.due_then, t.code"""
    return [
        # An officer the directory does not know (yet) is named by their id.
        row_of(OverdueTask, r, person_id=r["person_id"] if r["person_id"] is not None else r["person_name"])
        for r in await conn.fetch(sql, *q.args)
    ]
