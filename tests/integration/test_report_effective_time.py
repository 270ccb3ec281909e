"""A plan counts from the day it was issued, not the day it was typed in (issue 15, item 2), on the real
broker and database: the Danh mục of letter 6958/UBND-KSTT (21/11/2022) and everything that happened to
it until the day it is loaded (15/02/2023) are recorded that day with their own dates as effective times.

Effective readings equal the scenario as dated; as_recorded shows what dondoc knew on each day; the months
whose closed figures the backfill changed say so; the trend starts where the plan does; the per-document
line tells rows listed from lead assignments; a replay rebuilds the same projection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest

from events.clock import VN_TZ, ManualClock
from events.envelope import Envelope
from events.reports import CATEGORIES
from events.tasks import SourceDocument
from services.reporting.bootstrap import DEFINITION as REPORTING
from services.runtime.replay import compare, policy_of, rebuild
from tests.conftest import eventually, running, unique
from tests.integration.report_scenario import EXPECTED, Scenario, all_handled, publish, vn
from tests.integration.test_replay import caught_up, own
from tests.integration.test_report_summary import categories, summary

pytestmark = pytest.mark.integration

LOADED = vn(2023, 2, 15, 8)  # the day the agency starts using dondoc and loads the plan in flight
TODAY = datetime(2023, 4, 2, 9, 0, tzinfo=VN_TZ)
PLAN = SourceDocument(number="KH-THU/UBND", issued_on=date(2022, 11, 21), issuer="UBND tỉnh Bình Định")


def backfilled(scenario: Scenario) -> list[Envelope]:
    """Every task fact dated before the loading day recorded on that day, in order, effective as dated."""
    out = []
    for i, event in enumerate(scenario.envelopes):
        if event.task_id and event.occurred_at < LOADED:
            event = event.model_copy(
                update={"effective_at": event.occurred_at, "occurred_at": LOADED + timedelta(seconds=i)}
            )
        out.append(event)
    return out


def with_a_multi_lead_plan(scenario: Scenario) -> Scenario:
    """A second plan whose row 1 names two lead agencies (#1a, #1b) and row 2 one: 2 rows, 3 assignments."""
    for stt, lead in (("1a", "bd-sgddt"), ("1b", "bd-stc"), ("2", "bd-sgddt")):
        scenario.assign(
            scenario.task(f"plan-{stt}"),
            title=f"Nhiệm vụ {stt} của kế hoạch thử",
            lead=lead,
            deadline="Tháng 3/2023",
            document=PLAN,
            code=f"KH-THU/UBND-BD#{stt}",
        )
    return scenario


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return with_a_multi_lead_plan(Scenario(unique("eff")).directory().danh_muc().cascade_of_13().timeline())


@pytest.fixture(scope="module")
async def reporting(settings: Any, infra: Any, scenario: Scenario) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    definition = own(REPORTING)
    envelopes = backfilled(scenario)
    async with running(definition, settings, ManualClock(TODAY)) as http:
        await publish(infra.kafka, envelopes)
        await eventually(
            lambda: all_handled(settings.database_url, envelopes, schema=definition.schema),
            timeout=90,
            what="the reporting service to read the backfilled scenario",
        )
        yield http, definition


NOTHING = dict.fromkeys(CATEGORIES, 0)


async def test_a_plan_loaded_late_counts_from_the_day_it_was_issued(reporting: Any, scenario: Scenario) -> None:
    http, _ = reporting
    for day, expected in EXPECTED.items():
        assert categories(await summary(http, scenario, as_of=day)) == expected, day
    before_loading = await summary(http, scenario, as_of="2023-01-01")
    assert before_loading["overdue"]["total"] == EXPECTED["2023-01-01"]["unfinished_overdue"] > 0
    assert len(before_loading["overdue"]["items"]) == before_loading["overdue"]["total"]


async def test_as_recorded_shows_what_dondoc_knew_on_that_day(reporting: Any, scenario: Scenario) -> None:
    http, _ = reporting
    then = await summary(http, scenario, as_of="2023-01-01", as_recorded="true")
    assert then["as_recorded"] is True
    assert categories(then) == NOTHING  # the plan was not in dondoc yet
    assert then["overdue"]["items"] == [] and then["adjusted"] is None
    after = await summary(http, scenario, as_of="2023-04-01", as_recorded="true")
    assert categories(after) == EXPECTED["2023-04-01"]  # once learnt, both readings agree


async def test_figures_changed_after_they_closed_say_so(reporting: Any, scenario: Scenario) -> None:
    http, _ = reporting
    closed = await summary(http, scenario, as_of="2023-01-01")
    assert closed["adjusted"]["note_vi"] == "Số liệu điều chỉnh sau ngày chốt số liệu"
    assert closed["adjusted"]["tasks"] >= 16
    assert (await summary(http, scenario, as_of="2023-04-01"))["adjusted"] is None  # nothing learnt after it


async def test_the_trend_starts_where_the_plan_does_and_marks_the_months_changed_later(
    reporting: Any, scenario: Scenario
) -> None:
    http, _ = reporting
    params = {"agency_id": scenario.id("ubnd-bd"), "document": "131/NQ-CP", "as_of": "2023-04-01"}
    points = (await http.get("/v1/reports/trend", params=params)).json()["points"]
    assert points[0]["month"] == "2022-11"
    assert [p["month"] for p in points if p["adjusted"]] == ["2022-11", "2022-12", "2023-01"]
    recorded = (await http.get("/v1/reports/trend", params={**params, "as_recorded": "true"})).json()["points"]
    assert recorded[0]["month"] == "2023-02"
    assert not any(p["adjusted"] for p in recorded)


async def test_the_month_after_loading_compares_with_a_month_that_had_the_plan(
    reporting: Any, scenario: Scenario
) -> None:
    http, _ = reporting
    february = await summary(http, scenario, as_of="2023-02-28")
    assert february["previous"]["figures"]["assigned"] == EXPECTED["2023-02-01"]["assigned"]
    # No "rose by the whole overdue share since last month": last month had the same plan and its overdue.
    assert february["previous"]["figures"]["unfinished_overdue"] > 0


async def test_the_document_line_tells_rows_listed_from_lead_assignments(reporting: Any, scenario: Scenario) -> None:
    http, _ = reporting
    body = await summary(http, scenario, document="", as_of="2023-04-01")
    line = next(d for d in body["by_document"] if d["document"] == PLAN.number)
    assert (line["rows_listed"], line["lead_assignments"]) == (2, 3)
    danh_muc = next(d for d in body["by_document"] if d["document"] == "131/NQ-CP")
    assert danh_muc["rows_listed"] == 17


async def test_a_replay_of_the_backfilled_log_rebuilds_the_same_projection(
    reporting: Any, settings: Any, scenario: Scenario
) -> None:
    _, definition = reporting
    await caught_up(definition, settings, backfilled(scenario))
    rebuilt = await rebuild(definition, settings, policy=policy_of(definition))
    comparison = await compare(rebuilt, settings)
    assert comparison.identical, comparison.tables
