"""Reads of the reporting read model: how many tasks were in each state (``domain.STATES``) at a moment.

Two ways to the same numbers (tests/integration/test_report_paths.py checks they agree on random
histories, at random moments, for every scope):

* **Journal** — the whole tree, one source document, or the subtree of an agency of the top two
  levels (the government, a ministry, a province), without a period: the tally at the end of the
  moment's day is ``live`` (the journal summed up to ``live_day``) plus or minus the journal's days in
  between, or for a day far from it the journal summed up to that day by years, months and days. What
  happened later on the moment's own day is then taken back out from the history rows of that day
  (for "now", normally nothing). The cost is a handful of rows per scope, whatever the number of tasks.
* **History** — anything else (a period of assignment, an agency *and* a document, one agency's own
  tasks, a smaller subtree): the history rows valid at the moment, filtered by indexes on the lead
  agency, the document or the assignment date. Exact for any filter; its cost grows with the tasks it
  filters, which for these filters are few.

Secret tasks (classification ``mat``) are in no journal and in no public query: the tasks the viewing
agency is involved in are added by a history query of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

import asyncpg

from events.clock import VN_TZ
from services.reporting.domain import STATES, empty_tally

Grouping = Literal["none", "document", "agency"]
INFINITY = "infinity"
JOURNAL_DEPTH = 1  # subtrees of agencies up to this depth are in the journal (migrations/002, journal_apply)
GAP_DAYS = 62  # live ± this many days of journal; further away, the journal summed by years, months, days
_SUMS = ", ".join(f"sum({c})::bigint AS {c}" for c in STATES)


@dataclass(frozen=True)
class Filters:
    agency_id: str | None = None
    lead_only: bool = False
    document: str | None = None
    start: date | None = None  # assigned on or after
    end: date | None = None  # assigned on or before
    viewer: str | None = None  # the agency asking: sees the secret tasks it is involved in

    @property
    def has_period(self) -> bool:
        return self.start is not None or self.end is not None


@dataclass(frozen=True)
class AgencyGroups:
    """The rows of a per-agency breakdown of ``parent``'s view (None: the whole tree): each child's
    subtree and, when ``own``, the tasks the parent leads itself."""

    parent: str | None
    children: tuple[str, ...]
    own: bool = True
    depths: dict[str, int] | None = field(default=None, compare=False)  # of the children, when known

    def __post_init__(self) -> None:
        if self.parent is None:
            object.__setattr__(self, "own", False)


@dataclass
class Tally:
    """Tasks per state (``STATES`` order): all of them, and the key tasks alone."""

    every: list[int] = field(default_factory=empty_tally)
    key: list[int] = field(default_factory=empty_tally)

    def add(self, other: Tally) -> None:
        for i in range(len(STATES)):
            self.every[i] += other.every[i]
            self.key[i] += other.key[i]


Tallies = dict[str | None, Tally]


def merge(*parts: Tallies) -> Tallies:
    out: Tallies = {}
    for part in parts:
        for group, tally in part.items():
            out.setdefault(group, Tally()).add(tally)
    return out


class _Sql:
    """Numbered asyncpg arguments, added as the statement is built."""

    def __init__(self) -> None:
        self.args: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"


def day_of(at: datetime) -> date:
    return at.astimezone(VN_TZ).date()


def _next_midnight(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=VN_TZ)


# --- the history -------------------------------------------------------------------------------


def scope_condition(f: Filters, q: _Sql, *, lead: str, parent_lead: str, delegated: str) -> str:
    """Whose tasks: the delegation rule of the store — a child task counts where its parent does not."""
    if f.agency_id:
        subtree = f"(SELECT agency_id FROM agency_tree WHERE ancestor_id = {q(f.agency_id)})"
        outside = f"({parent_lead} IS NULL OR {parent_lead} NOT IN {subtree})"
        if f.lead_only:
            return f"{lead} = {q(f.agency_id)} AND {outside}"
        return f"{lead} IN {subtree} AND {outside}"
    return f"NOT {delegated}"


def _history_filters(f: Filters, q: _Sql, *, secret: bool, scoped: bool = True) -> str:
    parts = []
    if scoped:
        parts.append(
            scope_condition(f, q, lead="h.lead_agency_id", parent_lead="h.parent_lead", delegated="h.delegated")
        )
    if f.document:
        parts.append(f"h.document = {q(f.document)}")
    if f.start:
        parts.append(f"h.assigned_on >= {q(f.start)}")
    if f.end:
        parts.append(f"h.assigned_on <= {q(f.end)}")
    # The containment operator is the one the partial GIN index on secret rows answers.
    parts.append(f"h.secret AND h.involved @> ARRAY[{q(f.viewer)}]::text[]" if secret else "NOT h.secret")
    return " AND ".join(parts)


def _group_parts(grouping: Grouping, groups: AgencyGroups | None, q: _Sql) -> list[tuple[str, str, str]]:
    """(select expression, join, extra condition) per part of the query that labels each history row
    with its group.

    Per agency, the rows partition the view they break down, so they add up to it: under a parent,
    a child's row is the tasks of the parent's subtree view led in the child's subtree, the parent's
    own row those it leads itself; for the whole tree (several roots), each root's row is the whole
    tree's tasks led in its subtree.
    """
    if grouping == "document":
        return [("h.document", "", "")]
    if grouping != "agency":
        return [("NULL::text", "", "")]
    assert groups is not None
    parts = []
    if groups.parent is None:
        view = "AND NOT h.delegated"
    else:
        parent = q(groups.parent)
        view = (
            f"AND (h.parent_lead IS NULL OR h.parent_lead NOT IN "
            f"(SELECT agency_id FROM agency_tree WHERE ancestor_id = {parent}))"
        )
        if groups.own:
            parts.append((f"{parent}::text", "", f"AND h.lead_agency_id = {parent} {view}"))
    if groups.children:
        join = (
            "JOIN agency_tree t ON t.agency_id = h.lead_agency_id "
            f"AND t.ancestor_id = ANY({q(list(groups.children))}::text[])"
        )
        parts.append(("t.ancestor_id", join, view))
    return parts


def _history_sql(
    f: Filters,
    at: datetime,
    grouping: Grouping,
    groups: AgencyGroups | None,
    q: _Sql,
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
        moment, midnight = q(at), q(_next_midnight(day))
        rows = f"""(SELECT h.*, -1 AS sign FROM task_history h
                    WHERE h.valid_from > {moment} AND h.valid_from < {midnight}
                    UNION ALL
                    SELECT h.*, 1 FROM task_history h
                    WHERE h.valid_to > {moment} AND h.valid_to < {midnight} AND h.valid_to <> '{INFINITY}') h"""
        valid, count = "true", "sum(h.sign)"
    else:
        rows, count = "task_history h", "count(*)"
        valid = f"h.valid_from <= {q(at)} AND h.valid_to > {q(at)}"
    # Per agency, the groups carry the view's rule; the filter's own scope would only repeat it.
    filters = _history_filters(f, q, secret=secret, scoped=grouping != "agency")
    state = f"state_at(h.bucket, h.due, {q(day)})"
    selects = [
        f"""SELECT {select} AS grp, h.key_task, {state} AS state, {count} AS n
            FROM {rows} {join}
            WHERE {valid} AND {filters} {extra}
            GROUP BY 1, 2, 3"""
        for select, join, extra in _group_parts(grouping, groups, q)
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
    q = _Sql()
    out: Tallies = {}
    for r in await conn.fetch(_history_sql(f, at, grouping, groups, q, secret=secret), *q.args):
        tally = out.setdefault(r["grp"], Tally())
        tally.every[r["state"]] += r["n"]
        if r["key_task"]:
            tally.key[r["state"]] += r["n"]
    return out


def _pivot_sql(rows_sql: str, *, key: bool) -> str:
    """(grp, key_task, state, n) rows as (scope, key_only, states…) rows."""
    states = ", ".join(
        f"coalesce(sum(n) FILTER (WHERE state = {i}), 0) AS {name}" for i, name in enumerate(STATES)
    )
    keyed = f"UNION ALL SELECT grp, true, {states} FROM r WHERE key_task GROUP BY 1" if key else ""
    return f"""SELECT * FROM (WITH r AS ({rows_sql})
                              SELECT grp AS scope, false AS key_only, {states} FROM r GROUP BY 1
                              {keyed}) p"""


# --- the journal ---------------------------------------------------------------------------------


@dataclass
class Memo:
    """What the queries of one report (one snapshot) look up once: live_day, and whether anything
    changed later on a moment's day."""

    until: date | None = None
    looked_up: bool = False
    later: dict[datetime, bool] = field(default_factory=dict)


async def live_day(conn: asyncpg.Connection, memo: Memo | None = None, at: datetime | None = None) -> date | None:
    """The day ``live`` is summed up to (None: not yet summed); with ``at``, also learns (in the memo,
    in the same round trip) whether anything changed later on its day."""
    if memo is not None and memo.looked_up:
        return memo.until
    if memo is None or at is None:
        until: date | None = await conn.fetchval("SELECT day FROM live_day")
    else:
        midnight = _next_midnight(day_of(at))
        row = await conn.fetchrow(f"SELECT day, ({_LATER}) AS later FROM live_day", at, midnight)
        until = row["day"]
        memo.later[at] = bool(row["later"])
    if memo is not None:
        memo.until, memo.looked_up = until, True
    return until


async def journal_depths(conn: asyncpg.Connection, agency_ids: Sequence[str]) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT agency_id, depth FROM agencies WHERE agency_id = ANY($1::text[])", list(agency_ids)
    )
    return {r["agency_id"]: r["depth"] for r in rows}


def prefix_condition(day: date, q: _Sql) -> str:
    """SQL: the journal rows whose sum is everything up to the end of ``day`` — earlier years, earlier
    months of its year, and its month's days up to it."""
    year, month = q(day.replace(month=1, day=1)), q(day.replace(day=1))
    return (
        f"((level = 'y' AND period < {year}) OR (level = 'm' AND period >= {year} AND period < {month}) "
        f"OR (level = 'd' AND period >= {month} AND period <= {q(day)}))"
    )


def _journal_parts(
    kinds: Sequence[tuple[str, int]],
    scopes: Sequence[str] | None,
    day: date,
    until: date | None,
    q: _Sql,
    *,
    key: bool,
) -> list[str]:
    """SQL selects of (scope, key_only, states…) whose sum per scope is its tally at the end of ``day``:
    ``live`` and the journal's days between, or far from ``live_day`` the journal summed up to ``day``.
    Each kind comes with a sign ('s' +1 and 'x' -1 make a breakdown row)."""
    scope_list = q(list(scopes)) if scopes is not None else None
    near = until is not None and abs((day - until).days) <= GAP_DAYS
    parts = []
    for kind, sign in kinds:
        where = f"kind = '{kind}'"
        if scope_list is not None:
            where += f" AND scope = ANY({scope_list}::text[])"
        if not key:
            where += " AND NOT key_only"

        def cols(factor: int) -> str:
            return ", ".join(c if factor == 1 else f"-{c}" for c in STATES)

        if near:
            assert until is not None
            parts.append(f"SELECT scope, key_only, {cols(sign)} FROM live WHERE {where}")
            if day != until:
                low, high = sorted((day, until))
                factor = sign if day > until else -sign
                parts.append(
                    f"SELECT scope, key_only, {cols(factor)} FROM journal WHERE {where} "
                    f"AND level = 'd' AND period > {q(low)} AND period <= {q(high)}"
                )
        else:
            parts.append(
                f"SELECT scope, key_only, {cols(sign)} FROM journal WHERE {where} AND {prefix_condition(day, q)}"
            )
    return parts


@dataclass(frozen=True)
class _JournalQuery:
    """Journal scopes that answer a filter and grouping, and the history query of the same scopes
    (for the changes later on the moment's day)."""

    kinds: tuple[tuple[str, int], ...]
    scopes: tuple[str, ...] | None
    grouped: bool  # one result per scope, else one (group None) for all
    filters: Filters
    grouping: Grouping = "none"
    groups: AgencyGroups | None = None


def _journal_sql(
    j: _JournalQuery, at: datetime, until: date | None, q: _Sql, *, key: bool, later: bool
) -> str:
    """``later``: something changed after ``at`` on its day (``changed_later``), to take back out."""
    day = day_of(at)
    parts = _journal_parts(j.kinds, j.scopes, day, until, q, key=key)
    if later:
        changes = _history_sql(j.filters, at, j.grouping, j.groups, q, later_that_day=True)
        parts.append(_pivot_sql(changes, key=key))
    scope = "scope" if j.grouped else "NULL::text"
    if len(parts) == 1 and len(j.kinds) == 1 and " FROM live " in parts[0]:
        return f"SELECT {scope} AS scope, {parts[0].removeprefix('SELECT scope, ')}"  # one row per scope already
    return f"SELECT {scope} AS scope, key_only, {_SUMS} FROM ({' UNION ALL '.join(parts)}) c GROUP BY 1, 2"


_LATER = """EXISTS (SELECT 1 FROM task_history WHERE valid_from > $1 AND valid_from < $2)
            OR EXISTS (SELECT 1 FROM task_history WHERE valid_to > $1 AND valid_to < $2 AND valid_to <> 'infinity')"""


async def changed_later(conn: asyncpg.Connection, at: datetime, memo: Memo | None = None) -> bool:
    """Whether any history row opened or closed after ``at`` on its own day (for "now": normally not)."""
    midnight = _next_midnight(day_of(at))
    if at >= midnight - timedelta(microseconds=1):
        return False
    if memo is not None and at in memo.later:
        return memo.later[at]
    later = bool(await conn.fetchval(f"SELECT {_LATER}", at, midnight))
    if memo is not None:
        memo.later[at] = later
    return later


def _tallies(records: Iterable[asyncpg.Record]) -> Tallies:
    out: Tallies = {}
    for r in records:
        tally = out.setdefault(r["scope"], Tally())
        target = tally.key if r["key_only"] else tally.every
        for i, name in enumerate(STATES):
            target[i] += int(r[name])
    return out


async def journal_counts(
    conn: asyncpg.Connection,
    j: _JournalQuery,
    at: datetime,
    until: date | None,
    *,
    key: bool = True,
    memo: Memo | None = None,
) -> Tallies:
    q = _Sql()
    sql = _journal_sql(j, at, until, q, key=key, later=await changed_later(conn, at, memo))
    return _tallies(await conn.fetch(sql, *q.args))


async def top_documents(
    conn: asyncpg.Connection, f: Filters, at: datetime, until: date | None, top: int, memo: Memo | None = None
) -> Tallies:
    """The ``top`` documents with the most overdue tasks (then the most assigned), whole tree, at ``at``."""
    q = _Sql()
    j = _JournalQuery((("d", 1),), None, True, f, "document")
    inner = _journal_sql(j, at, until, q, key=False, later=await changed_later(conn, at, memo))
    sql = f"""SELECT * FROM ({inner}) c
              ORDER BY {" + ".join(STATES[2:6])} DESC, {" + ".join(STATES[:8])} DESC, scope
              LIMIT {q(top)}"""
    return _tallies(await conn.fetch(sql, *q.args))


# --- choosing the path ---------------------------------------------------------------------------


def _in_journal(depths: dict[str, int], agency_id: str) -> bool:
    return depths.get(agency_id, JOURNAL_DEPTH + 1) <= JOURNAL_DEPTH


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
    journal_ok = not force_history and not f.has_period
    if grouping == "none":
        public = await _whole(conn, f, at, until, journal_ok, memo)
    elif grouping == "agency":
        assert groups is not None
        public = await _per_agency(conn, f, at, until, groups, journal_ok and not f.document, memo)
    elif journal_ok and not f.agency_id and f.document:
        j = _JournalQuery((("d", 1),), (f.document,), True, f, "document")
        public = await journal_counts(conn, j, at, until, key=False, memo=memo)
    elif journal_ok and not f.agency_id:
        public = await top_documents(conn, f, at, until, top or 1_000_000, memo)
    else:
        public = _top(await history_counts(conn, f, at, "document"), top)
    if f.viewer:
        secret = await history_counts(conn, f, at, grouping, groups, secret=True)
        if grouping == "document":
            secret = {k: v for k, v in secret.items() if k in public}  # the ranking is of public figures
        public = merge(public, secret)
    return public


async def _whole(
    conn: asyncpg.Connection, f: Filters, at: datetime, until: date | None, journal_ok: bool, memo: Memo
) -> Tallies:
    j: _JournalQuery | None = None
    if journal_ok and not f.lead_only:
        if f.agency_id and not f.document:
            if _in_journal(await journal_depths(conn, [f.agency_id]), f.agency_id):
                j = _JournalQuery((("s", 1),), (f.agency_id,), False, f)
        elif f.document and not f.agency_id:
            j = _JournalQuery((("d", 1),), (f.document,), False, f)
        elif not f.agency_id:
            j = _JournalQuery((("t", 1),), ("",), False, f)
    if j is None:
        return await history_counts(conn, f, at)
    return {None: (await journal_counts(conn, j, at, until, memo=memo)).get(None, Tally())}


async def _per_agency(
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
        by_journal = tuple(c for c in groups.children if _in_journal(depths, c))
    rest = AgencyGroups(groups.parent, tuple(c for c in groups.children if c not in by_journal), groups.own)
    parts = []
    if by_journal:
        # A row is the child's subtree ('s') less what its parent's view counts elsewhere ('x').
        j = _JournalQuery(
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


def _top(tallies: Tallies, top: int | None) -> Tallies:
    if top is None:
        return tallies

    def rank(item: tuple[str | None, Tally]) -> tuple[int, int, str]:
        group, tally = item
        return -sum(tally.every[2:6]), -sum(tally.every[:8]), group or ""

    return dict(sorted(tallies.items(), key=rank)[:top])


async def counts_at_moments(
    conn: asyncpg.Connection, f: Filters, moments: Sequence[datetime]
) -> dict[datetime, Tally]:
    """The tally at each of several moments (a trend)."""
    memo = Memo()
    out: dict[datetime, Tally] = {}
    for moment in moments:
        out[moment] = (await counts_at(conn, f, moment, memo=memo)).get(None, Tally())
    return out


# --- lists ---------------------------------------------------------------------------------------


async def overdue_tasks(
    conn: asyncpg.Connection, f: Filters, at: datetime, today: date, *, live: bool, limit: int
) -> list[dict[str, Any]]:
    """Unfinished overdue tasks, most overdue first, with who answers for each.

    Live (now) reads the current task rows (by deadline, or by lead agency for a subtree); a past
    moment reads the history rows valid then, filtered on their own columns so the same indexes
    serve, and joins the task rows of the few it keeps.
    """
    q = _Sql()
    day = q(today)
    if live:
        involved = "(ARRAY[t.assigning_agency_id, t.lead_agency_id] || t.coordinating_agency_ids)"
        conditions = [
            f"(t.classification <> 'mat' OR {q(f.viewer)} = ANY({involved}))"
            if f.viewer
            else "t.classification <> 'mat'",
            scope_condition(
                f,
                q,
                lead="t.lead_agency_id",
                parent_lead="t.parent_lead_agency_id",
                delegated="(t.parent_task_id IS NOT NULL)",
            ),
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
            public = _history_filters(unscoped, q, secret=False, scoped=False)
            visible = public
            if f.viewer:
                visible = f"(({public}) OR ({_history_filters(unscoped, q, secret=True, scoped=False)}))"
            found = f"""SELECT h.task_id, h.due FROM agency_tree a
                       CROSS JOIN LATERAL (
                           SELECT h.task_id, h.due, h.parent_lead FROM task_history h
                           WHERE h.lead_agency_id = a.agency_id AND h.valid_to > {moment} AND h.valid_from <= {moment}
                             AND h.bucket IN ('new', 'started') AND h.due < {day} AND {visible}) h
                       WHERE a.ancestor_id = {agency} {"AND a.depth = 0" if f.lead_only else ""}
                         AND (h.parent_lead IS NULL OR h.parent_lead NOT IN
                              (SELECT agency_id FROM agency_tree WHERE ancestor_id = {agency}))"""
        else:
            public = _history_filters(f, q, secret=False)
            visible = f"(({public}) OR ({_history_filters(f, q, secret=True)}))" if f.viewer else public
            found = f"""SELECT h.task_id, h.due FROM task_history h
                        WHERE h.bucket IN ('new', 'started') AND h.due < {day}
                          AND h.valid_from <= {moment} AND h.valid_to > {moment} AND {visible}"""
        source = f"({found}) h JOIN tasks t ON t.task_id = h.task_id"
        due = "h.due"
    sql = f"""SELECT t.task_id, t.code, t.title, t.document, t.lead_agency_id, la.name AS lead_agency_name,
                     t.assigning_agency_id, aa.name AS assigning_agency_name, t.key_task, t.percent,
                     t.original_due, t.due_then AS due, {day}::date - t.due_then AS days_overdue,
                     t.bucket = 'new' AS not_started,
                     coalesce(o.person_id, hd.person_id) AS person_id,
                     coalesce(o.full_name, hd.full_name, t.officer_in_charge_id) AS person_name,
                     coalesce(o.title, hd.title) AS person_title,
                     CASE WHEN o.person_id IS NOT NULL OR t.officer_in_charge_id IS NOT NULL THEN 'officer'
                          WHEN hd.person_id IS NOT NULL THEN 'head' END AS person_role
              -- The page of tasks first, then who answers for each of them only.
              FROM (SELECT t.*, {due} AS due_then FROM {source} ORDER BY {due}, t.code LIMIT {q(limit)}) t
              LEFT JOIN agencies la ON la.agency_id = t.lead_agency_id
              LEFT JOIN agencies aa ON aa.agency_id = t.assigning_agency_id
              LEFT JOIN people o ON o.person_id = t.officer_in_charge_id
              LEFT JOIN LATERAL (SELECT person_id, full_name, title FROM people
                                 WHERE agency_id = t.lead_agency_id AND role = 'head'
                                 ORDER BY person_id LIMIT 1) hd ON true
              ORDER BY t.due_then, t.code"""
    rows = [dict(r) for r in await conn.fetch(sql, *q.args)]
    for row in rows:
        if row["person_id"] is None and row["person_name"] is not None:
            row["person_id"] = row["person_name"]  # an officer the directory does not know (yet)
    return rows


async def withdrawn_tasks(conn: asyncpg.Connection, f: Filters, limit: int) -> list[dict[str, Any]]:
    """Withdrawn tasks are listed apart (DESIGN §4); secret ones only to the agencies involved."""
    q = _Sql()
    involved = "(ARRAY[t.assigning_agency_id, t.lead_agency_id] || t.coordinating_agency_ids)"
    conditions = [
        "t.bucket = 'withdrawn'",
        f"(t.classification <> 'mat' OR {q(f.viewer)} = ANY({involved}))",
        scope_condition(
            f,
            q,
            lead="t.lead_agency_id",
            parent_lead="t.parent_lead_agency_id",
            delegated="(t.parent_task_id IS NOT NULL)",
        ),
    ]
    if f.document:
        conditions.append(f"t.document = {q(f.document)}")
    sql = f"""SELECT t.task_id, t.code, t.title, t.document, t.lead_agency_id, t.withdrawn_at
              FROM tasks t WHERE {" AND ".join(conditions)} ORDER BY t.withdrawn_at DESC LIMIT {q(limit)}"""
    return [dict(r) for r in await conn.fetch(sql, *q.args)]
