"""A report's figures at a moment — for the whole filter, per agency or per document — and at
several moments (a trend): the path chosen for each, and the viewer's secret tasks added."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import asyncpg

from services.reporting.queries.breakdowns import per_agency, per_document
from services.reporting.queries.filters import AgencyGroups, Filters, Grouping
from services.reporting.queries.history import history_counts
from services.reporting.queries.journal import JournalQuery, in_journal, journal_counts, journal_depths
from services.reporting.queries.snapshot import Memo, live_day
from services.reporting.queries.tally import Tallies, Tally, merge


async def counts_at(
    conn: asyncpg.Connection,
    f: Filters,
    at: datetime,
    grouping: Grouping = "none",
    groups: AgencyGroups | None = None,
    *,
    force_history: bool = False,
    top: int | None = None,
    memo: Memo | None = None,
) -> Tallies:
    """Tallies as they stood at ``at``: one (group None) for the whole filter, or one per agency (the
    parent's own tasks and each child's subtree, partitioning the parent's view) or per document (the
    ``top`` most overdue). ``memo``: shared by the queries of one report, in one snapshot."""
    if grouping == "agency" and groups is not None and not groups.children and not groups.own:
        return {}
    memo = memo or Memo()
    until = await live_day(conn, memo, at)
    # The journal counts effective time only: the recorded axis is read from the history rows.
    journal_ok = not force_history and not f.has_period and not f.as_recorded
    if grouping == "none":
        public = await _whole(conn, f, at, until, journal_ok, memo)
    elif grouping == "agency":
        assert groups is not None
        public = await per_agency(conn, f, at, until, groups, journal_ok and not f.document, memo)
    else:
        public = await per_document(conn, f, at, until, top, journal_ok, memo)
    # Secret tasks are in no journal and in no public query: those the viewer is involved in are
    # added by a history query of their own.
    if f.viewer:
        secret = await history_counts(conn, f, at, grouping, groups, secret=True)
        if grouping == "document":
            secret = {k: v for k, v in secret.items() if k in public}  # the ranking is of public figures
        public = merge(public, secret)
    return public


async def _whole(
    conn: asyncpg.Connection, f: Filters, at: datetime, until: date | None, journal_ok: bool, memo: Memo
) -> Tallies:
    j: JournalQuery | None = None
    if journal_ok and not f.lead_only:
        if f.agency_id and not f.document:
            if in_journal(await journal_depths(conn, [f.agency_id]), f.agency_id):
                j = JournalQuery((("s", 1),), (f.agency_id,), False, f)
        elif f.document and not f.agency_id:
            j = JournalQuery((("d", 1),), (f.document,), False, f)
        elif not f.agency_id:
            j = JournalQuery((("t", 1),), ("",), False, f)
    if j is None:
        return await history_counts(conn, f, at)
    return {None: (await journal_counts(conn, j, at, until, memo=memo)).get(None, Tally())}


async def counts_at_moments(conn: asyncpg.Connection, f: Filters, moments: Sequence[datetime]) -> dict[datetime, Tally]:
    """The tally at each of several moments (a trend)."""
    memo = Memo()
    out: dict[datetime, Tally] = {}
    for moment in moments:
        out[moment] = (await counts_at(conn, f, moment, memo=memo)).get(None, Tally())
    return out
