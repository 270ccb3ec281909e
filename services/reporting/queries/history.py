"""Tallies from the history rows valid at a moment: the reference path, exact for any filter; its
cost grows with the tasks it filters."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from services.reporting.domain import STATES
from services.reporting.queries.filters import AgencyGroups, Filters, Grouping
from services.reporting.queries.scopes import group_parts, history_filters
from services.reporting.queries.sql import Sql, day_of, next_midnight, valid_at
from services.reporting.queries.tally import Tallies, Tally

INFINITY = "infinity"


def history_sql(
    f: Filters,
    at: datetime,
    grouping: Grouping,
    groups: AgencyGroups | None,
    q: Sql,
    *,
    secret: bool = False,
    later_that_day: bool = False,
) -> str:
    """SQL of (grp, key_task, state, n): the history rows valid at ``at``, filtered and grouped.

    ``later_that_day``: instead, what changed after ``at`` on its own day, as the amounts to take out
    of the day's tally — a row opened then had entered its state of that day (-1), one closed then had
    left it (+1).
    """
    day = day_of(at)
    if later_that_day:
        moment, midnight = q(at), q(next_midnight(day))
        rows = f"""(SELECT h.*, -1 AS sign FROM task_history h
                    WHERE h.valid_from > {moment} AND h.valid_from < {midnight}
                    UNION ALL
                    SELECT h.*, 1 FROM task_history h
                    WHERE h.valid_to > {moment} AND h.valid_to < {midnight} AND h.valid_to <> '{INFINITY}') h"""
        valid, count = "true", "sum(h.sign)"
    else:
        rows, count = "task_history h", "count(*)"
        valid = valid_at(q(at), as_recorded=f.as_recorded)
    # Per agency, the groups carry the view's rule; the filter's own scope would only repeat it.
    filters = history_filters(f, q, secret=secret, scoped=grouping != "agency")
    state = f"state_at(h.bucket, h.due, {q(day)})"
    selects = [
        f"""SELECT {select} AS grp, h.key_task, {state} AS state, {count} AS n
            FROM {rows} {join}
            WHERE {valid} AND {filters} {extra}
            GROUP BY 1, 2, 3"""
        for select, join, extra in group_parts(grouping, groups, q)
    ]
    return " UNION ALL ".join(selects)


async def history_counts(
    conn: asyncpg.Connection,
    f: Filters,
    at: datetime,
    grouping: Grouping = "none",
    groups: AgencyGroups | None = None,
    *,
    secret: bool = False,
) -> Tallies:
    """Tallies from the history rows valid at ``at``, filtered and grouped (the reference path)."""
    q = Sql()
    out: Tallies = {}
    for r in await conn.fetch(history_sql(f, at, grouping, groups, q, secret=secret), *q.args):
        tally = out.setdefault(r["grp"], Tally())
        tally.every[r["state"]] += r["n"]
        if r["key_task"]:
            tally.key[r["state"]] += r["n"]
    return out


def pivot_sql(rows_sql: str, *, key: bool) -> str:
    """(grp, key_task, state, n) rows as (scope, key_only, states…) rows."""
    states = ", ".join(f"coalesce(sum(n) FILTER (WHERE state = {i}), 0) AS {name}" for i, name in enumerate(STATES))
    keyed = f"UNION ALL SELECT grp, true, {states} FROM r WHERE key_task GROUP BY 1" if key else ""
    return f"""SELECT * FROM (WITH r AS ({rows_sql})
                              SELECT grp AS scope, false AS key_only, {states} FROM r GROUP BY 1
                              {keyed}) p"""
