"""The monthly report: a ReportPublished on ``dondoc.report-events`` when a month ends.

Invariants (tests/integration/test_report_monthly.py):
* One report per month: a durable timer (one live per month, by the timers' unique index) fires at
  the first instant of the next month; the event id is derived from the month and the outbox keeps
  one row per id, so a restart, a second replica or a re-fired timer publishes nothing new.
* The figures are those of the whole tree at the end of the month, without secret tasks.
* Firing schedules the next month, so months missed while the service was down are published in
  order when it comes back.
"""

from __future__ import annotations

from datetime import date, datetime, time

from events.clock import VN_TZ
from events.envelope import SYSTEM
from events.reports import ReportFigures, ReportPublished
from services.reporting import summary
from services.reporting.domain import Figures, change_between
from services.reporting.paragraph import working_group_paragraph
from services.reporting.queries import Filters
from services.runtime import timers
from services.runtime.definition import Runtime
from services.runtime.timers import Timer, TimerWorker
from services.runtime.unit_of_work import UnitOfWork

MONTHLY = "monthly-report"


def month_start(moment: datetime | date) -> date:
    local = moment.astimezone(VN_TZ).date() if isinstance(moment, datetime) else moment
    return local.replace(day=1)


def next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


async def schedule_month(uow: UnitOfWork, first: date) -> None:
    """The report of the month starting ``first`` is due at the first instant of the next month."""
    await timers.schedule(
        uow.conn,
        kind=MONTHLY,
        subject_id="reporting",
        dedup_key=f"{first:%Y-%m}",
        fire_at=datetime.combine(next_month(first), time.min, tzinfo=VN_TZ),
        data={"month": f"{first:%Y-%m}"},
    )


def _figures(f: Figures) -> ReportFigures:
    return ReportFigures(**f.model_dump(include=set(ReportFigures.model_fields)))


async def publish_month(uow: UnitOfWork, month: str) -> ReportPublished | None:
    """Publish the month's report unless it already was; returns what was published."""
    if await uow.conn.fetchval("SELECT true FROM published_reports WHERE month = $1", month):
        return None
    first = date.fromisoformat(f"{month}-01")
    last = date.fromordinal(next_month(first).toordinal() - 1)
    at = summary.end_of_day(last)
    public = Filters()
    figures, key_figures = await summary.figures_at(uow.conn, public, at)
    before, _ = await summary.figures_at(uow.conn, public, summary.months_back(at))
    in_month, _ = await summary.figures_at(uow.conn, Filters(start=first, end=last), at)
    change = change_between(figures, before)
    report_id = f"monthly-{month}"
    event = ReportPublished(
        report_id=report_id,
        month=month,
        period_start=first,
        period_end=last,
        as_of=at,
        scope=summary.WHOLE_TREE,
        figures=_figures(figures),
        key_tasks=_figures(key_figures),
        overdue_share_percent=figures.overdue_share.percent,
        overdue_share_base=figures.assigned,
        previous_overdue_share_percent=before.overdue_share.percent,
        assigned_in_month=in_month.assigned,
        summary_vi=working_group_paragraph(figures, as_of=last, scope=summary.WHOLE_TREE, change=change),
    )
    envelope = await uow.emit(event, actor=SYSTEM, key=report_id, id_parts=(month,))
    inserted = await uow.conn.fetchval(
        """INSERT INTO published_reports (month, event_id, published_at) VALUES ($1, $2, $3)
           ON CONFLICT (month) DO NOTHING RETURNING true""",
        month,
        envelope.event_id,
        uow.clock.now(),
    )
    return event if inserted else None


async def fire_monthly(timer: Timer, uow: UnitOfWork) -> None:
    month = str(timer.data["month"])
    await publish_month(uow, month)
    await schedule_month(uow, next_month(date.fromisoformat(f"{month}-01")))


async def monthly_reports(rt: Runtime) -> None:
    """Background task: schedule this month's report, then fire report timers as they fall due."""
    async with rt.unit_of_work() as uow:
        await schedule_month(uow, month_start(rt.clock.now()))
    await TimerWorker(
        rt.pool,
        rt.clock,
        {MONTHLY: fire_monthly},
        service=rt.service,
        schema=rt.definition.schema,
        poll_interval_s=rt.settings.timer_poll_interval_s,
        lease_s=rt.settings.timer_lease_s,
    ).run()
