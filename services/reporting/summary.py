"""The report: figures, comparison, breakdowns, ageing and the overdue list, for one set of filters.

Periods. Without ``start`` the report is cumulative (lũy kế) up to the moment asked for, and is
compared with the same report one month earlier ("so với tháng trước", as the working group does).
With a period [start, end] of assignment dates, the figures are those of the tasks assigned in it as
they stood at the moment (the end of the period by default), compared with the previous period of
the same length, every date moved back by that length.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

import asyncpg

from events.clock import VN_TZ
from services.reporting import catalog, queries
from services.reporting.domain import (
    COLOURS,
    LABELS_VI,
    Figures,
    ageing_from,
    change_between,
    figures_from,
)
from services.reporting.paragraph import working_group_paragraph
from services.reporting.queries import AgencyGroups, Filters, Tally
from services.reporting.queries.ledger import adjusted_after, extra_leads, note
from services.reporting.responses import (
    Adjusted,
    AgencyRow,
    ByAgency,
    DocumentRow,
    Head,
    OverdueList,
    Parent,
    Previous,
    ReportBody,
    ReportFilters,
    TrendPoint,
    WithdrawnList,
)
from services.reporting.vietnamese import sort_key_vi

WHOLE_TREE = "Toàn hệ thống"
DOCUMENTS_SHOWN = 50


def end_of_day(d: date) -> datetime:
    return datetime.combine(d, time.max, tzinfo=VN_TZ)


def months_back(moment: datetime, months: int = 1) -> datetime:
    """The same day and time ``months`` earlier; the 31st becomes the month's last day."""
    local = moment.astimezone(VN_TZ)
    total = local.year * 12 + local.month - 1 - months
    year, month = divmod(total, 12)
    day = min(local.day, calendar.monthrange(year, month + 1)[1])
    return local.replace(year=year, month=month + 1, day=day)


@dataclass(frozen=True)
class Request:
    filters: Filters
    at: datetime  # the moment the figures stand at
    live: bool  # "now": the overdue list may read the current rows
    limit: int = 50
    memo: queries.Memo = field(default_factory=queries.Memo, compare=False)  # one snapshot's lookups


@dataclass(frozen=True)
class Comparison:
    filters: Filters
    at: datetime
    basis: str  # "month" or "period"
    words: str  # "tháng trước" / "kỳ trước"


def comparison_for(req: Request) -> Comparison:
    f = req.filters
    if f.start is None:
        # The figures of the same date a month earlier as that day closed, as an as_of date reads them: a
        # day's end needs no history rows of "the rest of that day" (one journal read, whatever the size).
        return Comparison(f, end_of_day(months_back(req.at).date()), "month", "tháng trước")
    end = f.end or req.at.astimezone(VN_TZ).date()
    length = timedelta(days=(end - f.start).days + 1)
    return Comparison(replace(f, start=f.start - length, end=end - length), req.at - length, "period", "kỳ trước")


async def tally_at(conn: asyncpg.Connection, f: Filters, at: datetime, memo: queries.Memo | None = None) -> Tally:
    return (await queries.counts_at(conn, f, at, memo=memo)).get(None, Tally())


async def figures_at(
    conn: asyncpg.Connection, f: Filters, at: datetime, memo: queries.Memo | None = None
) -> tuple[Figures, Figures]:
    tally = await tally_at(conn, f, at, memo)
    return figures_from(tally.every), figures_from(tally.key)


async def breakdown_parent(conn: asyncpg.Connection, f: Filters) -> AgencyGroups:
    """Whose children make the rows: the agency asked for; for the whole tree its one root (or the roots)."""
    if f.agency_id:
        return AgencyGroups(f.agency_id, () if f.lead_only else tuple(await catalog.children(conn, f.agency_id)))
    roots, below, depths = await catalog.top_of_tree(conn)
    if len(roots) == 1:
        return AgencyGroups(roots[0], tuple(below.get(roots[0], ())), depths=depths)
    return AgencyGroups(None, tuple(roots), depths=depths)


def _rank(rows: list[AgencyRow]) -> list[AgencyRow]:
    """Most overdue first, then the higher overdue share, then by name in Vietnamese order."""
    return sorted(
        rows,
        key=lambda r: (-r.figures.unfinished_overdue, -r.figures.overdue_share.percent, sort_key_vi(r.name)),
    )


async def by_agency(conn: asyncpg.Connection, req: Request) -> ByAgency:
    groups = await breakdown_parent(conn, req.filters)
    grouped = await queries.counts_at(conn, req.filters, req.at, "agency", groups, memo=req.memo)
    ids = [i for i in (groups.parent, *groups.children) if i]
    names = await catalog.agencies_by_id(conn, ids)
    rows = []
    for agency_id, tally in grouped.items():
        if agency_id is None:
            continue
        figures = figures_from(tally.every)
        if not (figures.assigned or figures.no_fixed_deadline or figures.withdrawn):
            continue
        info = names.get(agency_id)
        name = info.name if info else agency_id  # an agency only seen as a lead so far
        rows.append(
            AgencyRow(
                agency_id=agency_id,
                name=name,
                short_name=(info.short_name if info else agency_id) or name,
                own=agency_id == groups.parent,
                head=Head(person_id=info.head_id, name=info.head_name, title=info.head_title)
                if info and info.head_id
                else None,
                figures=figures,
            )
        )
    parent = names.get(groups.parent) if groups.parent else None
    return ByAgency(
        parent=Parent(agency_id=groups.parent, name=parent.name if parent else WHOLE_TREE), rows=_rank(rows)
    )


async def by_document(conn: asyncpg.Connection, req: Request) -> list[DocumentRow]:
    # The documents with the most overdue tasks (then the most tasks): a whole tree holds thousands.
    grouped = {
        number or "": tally
        for number, tally in (
            await queries.counts_at(conn, req.filters, req.at, "document", top=DOCUMENTS_SHOWN, memo=req.memo)
        ).items()
    }
    docs = await catalog.documents_by_number(conn, list(grouped))
    extra = await extra_leads(conn, req.filters, list(grouped), req.at)
    rows = []
    for number, tally in grouped.items():
        figures = figures_from(tally.every)
        done = figures.completed
        tasks = figures.assigned + figures.no_fixed_deadline + figures.withdrawn
        doc = docs.get(number)
        rows.append(
            DocumentRow(
                document=number,
                issued_on=doc.issued_on if doc else None,
                issuer=doc.issuer if doc else "",
                # The rows the document lists (the Danh mục's 17) and the lead assignments they became (66):
                # a row naming several lead agencies is one task per lead.
                rows_listed=tasks - extra.get(number, 0),
                lead_assignments=tasks,
                figures=figures,
                completed_percent=(1000 * done // figures.assigned) / 10 if figures.assigned else 0.0,
            )
        )
    return sorted(
        rows,
        key=lambda r: (-r.figures.unfinished_overdue, -r.figures.assigned, sort_key_vi(r.document)),
    )


def adjusted_note(closing: datetime, n: int) -> Adjusted | None:
    """The ledger's note of figures changed after ``closing``, typed."""
    found = note(closing, n)
    return Adjusted.model_validate(found) if found else None


async def scope_name(conn: asyncpg.Connection, f: Filters) -> str:
    if not f.agency_id:
        name = WHOLE_TREE
    else:
        info = await catalog.agency(conn, f.agency_id)
        name = info.name if info else f.agency_id
        if f.lead_only:
            name += " (chỉ nhiệm vụ chủ trì trực tiếp)"
    if f.document:
        name += f", văn bản {f.document}"
    return name


async def build(conn: asyncpg.Connection, req: Request) -> ReportBody:
    f = req.filters
    tally = await tally_at(conn, f, req.at, req.memo)
    today = req.at.astimezone(VN_TZ).date()
    figures, key_figures = figures_from(tally.every), figures_from(tally.key)
    cmp = comparison_for(req)
    before, key_before = await figures_at(conn, cmp.filters, cmp.at, req.memo)
    change = change_between(figures, before)
    overdue = await queries.overdue_tasks(conn, f, req.at, today, live=req.live, limit=req.limit)
    # Nothing is recorded after "now": only a past moment's figures can have been changed since.
    adjusted = 0 if req.live else (await adjusted_after(conn, f, [req.at]))[req.at]
    scope = await scope_name(conn, f)
    period = (f.start, f.end or today) if f.start else None
    return ReportBody(
        as_of=req.at.isoformat(),
        date=today.isoformat(),
        live=req.live,
        # Effective time (as the documents say) unless as_recorded: what dondoc showed at that moment.
        as_recorded=f.as_recorded,
        adjusted=adjusted_note(req.at, adjusted),
        scope=scope,
        filters=ReportFilters(
            agency_id=f.agency_id,
            lead_only=f.lead_only,
            document=f.document,
            start=_iso(f.start),
            end=_iso(f.end),
            as_recorded=f.as_recorded,
        ),
        figures=figures,
        key_tasks=key_figures,
        previous=Previous(
            basis=cmp.basis,
            as_of=cmp.at.isoformat(),
            start=_iso(cmp.filters.start),
            end=_iso(cmp.filters.end),
            figures=before,
            key_tasks=key_before,
        ),
        change=change,
        ageing=ageing_from(tally.every),
        by_agency=await by_agency(conn, req),
        by_document=await by_document(conn, req),
        overdue=OverdueList(total=figures.unfinished_overdue, shown=len(overdue), items=overdue),
        withdrawn=WithdrawnList(total=figures.withdrawn, items=await queries.withdrawn_tasks(conn, f, req.limit)),
        paragraph_vi=working_group_paragraph(
            figures, as_of=today, scope=scope, change=change, compared_with=cmp.words, period=period
        ),
        labels_vi=LABELS_VI,
        colours=COLOURS,
    )


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


async def trend(conn: asyncpg.Connection, f: Filters, at: datetime, months: int = 12) -> list[TrendPoint]:
    """Cumulative figures at the end of each of the last ``months`` months (the current one up to ``at``),
    from the first month with a task: a chart of empty months before the first plan says nothing. A month
    whose closed figures a later-recorded fact changed carries its note (queries/ledger.py)."""
    local = at.astimezone(VN_TZ)
    moments = []
    for back in range(months - 1, -1, -1):
        total = local.year * 12 + local.month - 1 - back
        year, month = divmod(total, 12)
        last = date(year, month + 1, calendar.monthrange(year, month + 1)[1])
        moments.append(min(end_of_day(last), at))
    tallies = await queries.counts_at_moments(conn, f, moments)
    closed = [m for m in moments if m < at]  # the current month has not closed
    adjusted = await adjusted_after(conn, f, closed)
    points: list[TrendPoint] = []
    for moment in moments:
        if not points and not any(tallies[moment].every) and moment != moments[-1]:
            continue
        points.append(
            TrendPoint(
                month=f"{moment.astimezone(VN_TZ):%Y-%m}",
                as_of=moment.isoformat(),
                figures=figures_from(tallies[moment].every),
                adjusted=adjusted_note(moment, adjusted.get(moment, 0)),
            )
        )
    return points
