"""Per-agency and per-document breakdowns at a moment: each row by the journal when it has the scope,
by the history rows otherwise."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

from services.reporting.domain import STATES
from services.reporting.queries.filters import AgencyGroups, Filters
from services.reporting.queries.history import history_counts
from services.reporting.queries.journal import (
    JournalQuery,
    in_journal,
    journal_counts,
    journal_depths,
    journal_sql,
    scope_tallies,
)
from services.reporting.queries.snapshot import Memo, changed_later
from services.reporting.queries.sql import Sql
from services.reporting.queries.tally import Tallies, Tally, merge


async def per_agency(
    conn: asyncpg.Connection,
    f: Filters,
    at: datetime,
    until: date | None,
    groups: AgencyGroups,
    journal_ok: bool,
    memo: Memo,
) -> Tallies:
    by_journal: tuple[str, ...] = ()
    if journal_ok and groups.children:
        depths = groups.depths if groups.depths is not None else await journal_depths(conn, groups.children)
        by_journal = tuple(c for c in groups.children if in_journal(depths, c))
    rest = AgencyGroups(groups.parent, tuple(c for c in groups.children if c not in by_journal), groups.own)
    parts = []
    if by_journal:
        # A row is the child's subtree ('s') less what its parent's view counts elsewhere ('x').
        j = JournalQuery(
            (("s", 1), ("x", -1)),
            by_journal,
            True,
            f,
            "agency",
            AgencyGroups(groups.parent, by_journal, own=False),
        )
        parts.append(await journal_counts(conn, j, at, until, key=False, memo=memo))
    if rest.own or rest.children:
        parts.append(await history_counts(conn, f, at, "agency", rest))
    return merge(*parts)


async def per_document(
    conn: asyncpg.Connection,
    f: Filters,
    at: datetime,
    until: date | None,
    top: int | None,
    journal_ok: bool,
    memo: Memo,
) -> Tallies:
    if journal_ok and not f.agency_id and f.document:
        j = JournalQuery((("d", 1),), (f.document,), True, f, "document")
        return await journal_counts(conn, j, at, until, key=False, memo=memo)
    if journal_ok and not f.agency_id:
        return await top_documents(conn, f, at, until, top or 1_000_000, memo)
    return _top(await history_counts(conn, f, at, "document"), top)


async def top_documents(
    conn: asyncpg.Connection, f: Filters, at: datetime, until: date | None, top: int, memo: Memo | None = None
) -> Tallies:
    """The ``top`` documents with the most overdue tasks (then the most assigned), whole tree, at ``at``."""
    q = Sql()
    j = JournalQuery((("d", 1),), None, True, f, "document")
    inner = journal_sql(j, at, until, q, key=False, later=await changed_later(conn, at, memo))
    sql = f"""SELECT * FROM ({inner}) c
              ORDER BY {" + ".join(STATES[2:6])} DESC, {" + ".join(STATES[:8])} DESC, scope
              LIMIT {q(top)}"""
    return scope_tallies(await conn.fetch(sql, *q.args))


def _top(tallies: Tallies, top: int | None) -> Tallies:
    """The history path's ranking: the same order ``top_documents`` asks of the database."""
    if top is None:
        return tallies

    def rank(item: tuple[str | None, Tally]) -> tuple[int, int, str]:
        group, tally = item
        return -sum(tally.every[2:6]), -sum(tally.every[:8]), group or ""

    return dict(sorted(tallies.items(), key=rank)[:top])
