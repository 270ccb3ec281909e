"""The journal path: a tally from ``live`` and the ``journal`` (the rows ``day_sums`` chooses), less
what happened later on the moment's own day, taken back out from the history rows of that day. The
cost is a handful of rows per scope, whatever the number of tasks.

The journal has scopes for the whole tree, for each source document and for the subtree of each
agency of the top levels (``JOURNAL_DEPTH``: the government, a ministry, a province), with no period
of assignment (migrations/002, journal_apply)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from services.reporting.domain import STATES
from services.reporting.queries.day_sums import journal_parts
from services.reporting.queries.filters import AgencyGroups, Filters, Grouping
from services.reporting.queries.history import history_sql, pivot_sql
from services.reporting.queries.snapshot import Memo, changed_later
from services.reporting.queries.sql import Sql, day_of
from services.reporting.queries.tally import Tallies, Tally

JOURNAL_DEPTH = 1  # subtrees of agencies up to this depth are in the journal (migrations/002, journal_apply)
_SUMS = ", ".join(f"sum({c})::bigint AS {c}" for c in STATES)


async def journal_depths(conn: asyncpg.Connection, agency_ids: Sequence[str]) -> dict[str, int]:
    rows = await conn.fetch("SELECT agency_id, depth FROM agencies WHERE agency_id = ANY($1::text[])", list(agency_ids))
    return {r["agency_id"]: r["depth"] for r in rows}


def in_journal(depths: dict[str, int], agency_id: str) -> bool:
    return depths.get(agency_id, JOURNAL_DEPTH + 1) <= JOURNAL_DEPTH


@dataclass(frozen=True)
class JournalQuery:
    """Journal scopes that answer a filter and grouping, and the history query of the same scopes
    (for the changes later on the moment's day)."""

    kinds: tuple[tuple[str, int], ...]
    scopes: tuple[str, ...] | None
    grouped: bool  # one result per scope, else one (group None) for all
    filters: Filters
    grouping: Grouping = "none"
    groups: AgencyGroups | None = None


def journal_sql(j: JournalQuery, at: datetime, until: date | None, q: Sql, *, key: bool, later: bool) -> str:
    """``later``: something changed after ``at`` on its day (``changed_later``), to take back out."""
    day = day_of(at)
    parts = journal_parts(j.kinds, j.scopes, day, until, q, key=key)
    if later:
        changes = history_sql(j.filters, at, j.grouping, j.groups, q, later_that_day=True)
        parts.append(pivot_sql(changes, key=key))
    scope = "scope" if j.grouped else "NULL::text"
    if len(parts) == 1 and len(j.kinds) == 1 and " FROM live " in parts[0]:
        return f"SELECT {scope} AS scope, {parts[0].removeprefix('SELECT scope, ')}"  # one row per scope already
    return f"SELECT {scope} AS scope, key_only, {_SUMS} FROM ({' UNION ALL '.join(parts)}) c GROUP BY 1, 2"


def scope_tallies(records: Iterable[asyncpg.Record]) -> Tallies:
    out: Tallies = {}
    for r in records:
        tally = out.setdefault(r["scope"], Tally())
        target = tally.key if r["key_only"] else tally.every
        for i, name in enumerate(STATES):
            target[i] += int(r[name])
    return out


async def journal_counts(
    conn: asyncpg.Connection,
    j: JournalQuery,
    at: datetime,
    until: date | None,
    *,
    key: bool = True,
    memo: Memo | None = None,
) -> Tallies:
    q = Sql()
    sql = journal_sql(j, at, until, q, key=key, later=await changed_later(conn, at, memo))
    return scope_tallies(await conn.fetch(sql, *q.args))
