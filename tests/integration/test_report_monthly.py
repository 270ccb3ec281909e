"""The monthly report: when the domain clock crosses into a new month, one ReportPublished with the
month's figures goes to dondoc.report-events — once, even when the service restarts and the timer
or the publishing runs again. Secret tasks are not in it.

The service runs on a database of its own, so the whole tree's figures (which the report is about)
are this test's tasks only.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import asyncpg
import pytest

from events.clock import VN_TZ, ManualClock
from events.codec import decode
from events.reports import CATEGORIES, ReportPublished
from events.topics import REPORT_EVENTS
from services.reporting import monthly
from services.reporting.bootstrap import DEFINITION
from tests.conftest import eventually, running, unique
from tests.integration.kafka_tools import TopicReader
from tests.integration.report_scenario import Scenario, all_handled, publish, vn

pytestmark = pytest.mark.integration


async def _fresh_database(url: str) -> str:
    name = f"dondoc_monthly_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url.rsplit("/", 1)[0] + f"/{name}"


async def _reports_of(reader: TopicReader, month: str) -> list[Any]:
    """Every ReportPublished of ``month`` on the topic, read up to its current end."""
    ends = await reader.end_offsets()
    while sum(1 for _ in reader.records) < sum(ends):
        await reader.read()
    envelopes = [decode(r.value) for r in reader.records]
    return [e for e in envelopes if isinstance(e.payload, ReportPublished) and e.payload.month == month]


async def test_a_month_ends_one_report_is_published_once(settings: Any, infra: Any) -> None:
    scenario = Scenario(unique("m")).directory().danh_muc().timeline()
    # A secret task of the province, overdue by the end of March: in no published figure.
    scenario.assign(
        scenario.task("mat-1"),
        title="Nhiệm vụ mật về an ninh mạng",
        lead="bd-cong-an",
        deadline="Tháng 02/2023",
        classification="mat",
        at=vn(2023, 1, 5),
    )
    own = settings.model_copy(update={"database_url": await _fresh_database(infra.database_url)})
    clock = ManualClock(datetime(2023, 3, 20, 9, 0, tzinfo=VN_TZ))

    async with TopicReader(infra.kafka, REPORT_EVENTS) as reader:
        before = len(await _reports_of(reader, "2023-03"))
        async with running(DEFINITION, own, clock) as http:
            await publish(infra.kafka, scenario.envelopes)

            await eventually(
                lambda: all_handled(own.database_url, scenario.envelopes), timeout=60, what="the scenario to be read"
            )
            assert (await http.get("/v1/reports/monthly")).json()["reports"] == []

            clock.set(datetime(2023, 4, 1, 0, 0, 5, tzinfo=VN_TZ))  # March is over

            async def published() -> list[Any]:
                return [r for r in (await http.get("/v1/reports/monthly")).json()["reports"] if r["month"] == "2023-03"]

            await eventually(published, timeout=30, what="the March report")
            expected = (await http.get("/v1/reports/summary", params={"as_of": "2023-03-31"})).json()

        reports = await eventually(
            lambda: _one_more(reader, before), timeout=30, what="ReportPublished on dondoc.report-events"
        )
        report = reports[-1].payload
        assert (report.report_id, report.period_start, report.period_end) == (
            "monthly-2023-03",
            date(2023, 3, 1),
            date(2023, 3, 31),
        )
        assert report.as_of.astimezone(VN_TZ).date() == date(2023, 3, 31)
        assert report.figures.model_dump() == {c: expected["figures"][c] for c in CATEGORIES}
        assert report.key_tasks.model_dump() == {c: expected["key_tasks"][c] for c in CATEGORIES}
        # The whole system's figures: the scenario's tasks and whatever else the session's log holds by then.
        # The secret task is in none: the published figures are the public summary's, compared above.
        assert report.figures.assigned >= 15 and report.figures.unfinished_overdue >= 1
        assert report.overdue_share_percent == expected["figures"]["overdue_share"]["percent"]
        assert report.overdue_share_base == report.figures.assigned
        assigned = report.figures.assigned
        assert report.summary_vi.startswith(
            f"Toàn hệ thống, lũy kế đến ngày 31/03/2023: {assigned} nhiệm vụ được giao;"
        )
        assert "mật" not in report.model_dump_json()

        # A restart, a timer that fires again, the publishing run twice: still the one report.
        clock.set(datetime(2023, 4, 1, 0, 1, tzinfo=VN_TZ))
        async with running(DEFINITION, own, clock) as http:
            rt = http.app.state.runtime  # type: ignore[attr-defined]
            async with rt.unit_of_work() as uow:
                assert await monthly.publish_month(uow, "2023-03") is None
            async with rt.unit_of_work() as uow:
                await monthly.schedule_month(uow, date(2023, 3, 1))

            async def drained() -> bool:
                async with rt.pool.acquire() as conn:
                    pending = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                    timers = await conn.fetchval(
                        "SELECT count(*) FROM timers WHERE kind = $1 AND status = 'scheduled' AND fire_at <= $2",
                        monthly.MONTHLY,
                        clock.now(),
                    )
                return pending == 0 and timers == 0

            await eventually(drained, timeout=30, what="the outbox and the due timers to be done")
            months = [r["month"] for r in (await http.get("/v1/reports/monthly")).json()["reports"]]
            assert months == ["2023-03"]
        assert len(await _reports_of(reader, "2023-03")) == before + 1


async def _one_more(reader: TopicReader, before: int) -> list[Any]:
    reports = await _reports_of(reader, "2023-03")
    return reports if len(reports) > before else []
