"""The working group's figures for the 17 tasks of 131/NQ-CP, from events on the real broker, at
several moments: the clock moves across their deadlines and as_of looks back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from events.clock import VN_TZ, ManualClock
from events.reports import CATEGORIES
from services.reporting.bootstrap import DEFINITION
from tests.conftest import eventually, running, unique
from tests.integration.report_scenario import EXPECTED, Scenario, all_handled, publish

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario(unique("r")).directory().danh_muc().cascade_of_13().timeline()


START = datetime(2023, 9, 1, 9, 0, tzinfo=VN_TZ)


@pytest.fixture(scope="module")
async def reporting(
    settings: Any, infra: Any, scenario: Scenario
) -> AsyncIterator[tuple[httpx.AsyncClient, ManualClock]]:
    """One reporting service for the module's tests (each asks about the scenario's own agencies)."""
    clock = ManualClock(START)
    async with running(DEFINITION, settings, clock) as http:
        await publish(infra.kafka, scenario.envelopes)

        await eventually(
            lambda: all_handled(settings.database_url, scenario.envelopes),
            timeout=60,
            what="the reporting service to read the scenario",
        )
        yield http, clock


async def summary(http: httpx.AsyncClient, scenario: Scenario, **params: Any) -> dict[str, Any]:
    params.setdefault("agency_id", scenario.id("ubnd-bd"))
    params.setdefault("document", "131/NQ-CP")
    response = await http.get("/v1/reports/summary", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def categories(body: dict[str, Any]) -> dict[str, int]:
    return {c: body["figures"][c] for c in CATEGORIES}


@pytest.mark.parametrize("day", sorted(EXPECTED))
async def test_as_of_gives_the_figures_as_they_stood_that_day(reporting: Any, scenario: Scenario, day: str) -> None:
    http, _ = reporting
    assert categories(await summary(http, scenario, as_of=day)) == EXPECTED[day]


async def test_the_clock_moving_past_deadlines_turns_within_into_overdue(reporting: Any, scenario: Scenario) -> None:
    http, clock = reporting
    try:
        for day, hour in (("2023-03-31", 23), ("2023-04-01", 9)):
            clock.set(datetime.fromisoformat(f"{day}T{hour:02d}:00:00+07:00"))
            live = await summary(http, scenario)
            assert live["live"] is True
            assert categories(live) == EXPECTED[day]
    finally:
        clock.set(START)


async def test_the_counters_and_the_history_give_the_same_figures(reporting: Any, scenario: Scenario) -> None:
    """Whole subtree without a document uses the counters; with a period it reads the history."""
    http, _ = reporting
    for day in sorted(EXPECTED):
        by_counters = await summary(http, scenario, as_of=day, document="")
        by_history = await summary(http, scenario, as_of=day, document="", **{"from": "2022-01-01"})
        assert categories(by_counters) == categories(by_history), day


async def test_overdue_share_states_its_base_and_its_change_from_last_month(reporting: Any, scenario: Scenario) -> None:
    http, _ = reporting
    body = await summary(http, scenario, as_of="2023-02-01")
    share = body["figures"]["overdue_share"]
    assert (share["base"], share["base_count"], share["text"]) == ("assigned", 16, "18,7%")  # 3/16 = 18,75%
    assert body["previous"]["basis"] == "month" and body["previous"]["as_of"].startswith("2023-01-01")
    assert body["change"]["overdue_share_points"] == round(18.7 - 12.5, 1)
    assert "tăng 6,2% so với tháng trước" in body["paragraph_vi"]


async def test_the_paragraph_reads_like_the_working_groups_report(reporting: Any, scenario: Scenario) -> None:
    http, _ = reporting
    text = (await summary(http, scenario, as_of="2023-04-01"))["paragraph_vi"]
    assert (
        "15 nhiệm vụ được giao; 4 nhiệm vụ đã hoàn thành (đúng hạn: 2, quá hạn: 2); "
        "7 nhiệm vụ đang thực hiện trong hạn; 4 nhiệm vụ quá hạn chưa hoàn thành (chiếm 26,6%"
    ) in text


async def test_overdue_list_names_the_person_responsible_and_days_overdue(reporting: Any, scenario: Scenario) -> None:
    http, _ = reporting
    body = await summary(http, scenario, as_of="2023-04-01")
    items = {i["code"]: i for i in body["overdue"]["items"]}
    assert set(items) == {
        "131/NQ-CP/UBND-BD#9",
        "131/NQ-CP/UBND-BD#11",
        "131/NQ-CP/UBND-BD#13",
        "131/NQ-CP/UBND-BD#16",
    }
    nine = items["131/NQ-CP/UBND-BD#9"]  # lead Sở Tư pháp, no officer named: its head answers
    assert nine["days_overdue"] == 91 and nine["person_role"] == "head"
    assert nine["person_id"] == scenario.id("p-bd-stp-head")
    thirteen = items["131/NQ-CP/UBND-BD#13"]
    assert thirteen["person_id"] == scenario.id("p-vp-ubnd-bd-officer-1") and thirteen["key_task"]
    assert next(i["code"] for i in body["overdue"]["items"]) == "131/NQ-CP/UBND-BD#9"  # most overdue first


async def test_overdue_ageing_bands_count_days_past_the_deadline(reporting: Any, scenario: Scenario) -> None:
    http, _ = reporting
    bands = {b["band"]: b["count"] for b in (await summary(http, scenario, as_of="2023-04-01"))["ageing"]}
    assert bands == {"1-30": 3, "31-90": 0, "91-120": 1, ">120": 0}


async def test_key_tasks_are_counted_apart(reporting: Any, scenario: Scenario) -> None:
    http, _ = reporting
    key = (await summary(http, scenario, as_of="2023-04-01"))["key_tasks"]
    assert (key["assigned"], key["unfinished_overdue"]) == (1, 1)


async def test_a_delegated_task_counts_once_at_the_highest_level_of_each_view(
    reporting: Any, scenario: Scenario
) -> None:
    http, _ = reporting
    province = await summary(http, scenario, as_of="2023-02-28", document="")
    assert province["figures"]["assigned"] == 16  # the Danh mục only: task 13's children are inside it
    so = await summary(http, scenario, as_of="2023-02-28", document="", agency_id=scenario.id("bd-sgddt"))
    assert so["figures"]["assigned"] == 2  # its Phòng KH-TC's part and the school's part of task 13
    school = await summary(http, scenario, as_of="2023-02-28", document="", agency_id=scenario.id("bd-thpt-binh-duong"))
    assert school["figures"]["assigned"] == 1  # its own part; its Tổ Văn phòng's is inside it


async def test_per_agency_rows_are_ranked_by_overdue(reporting: Any, scenario: Scenario) -> None:
    http, _ = reporting
    rows = (await summary(http, scenario, as_of="2023-04-01"))["by_agency"]["rows"]
    overdue = [r["figures"]["unfinished_overdue"] for r in rows]
    assert overdue == sorted(overdue, reverse=True)
    assert rows[0]["agency_id"] == scenario.id("vp-ubnd-bd") and rows[0]["figures"]["unfinished_overdue"] == 3
    assert sum(r["figures"]["assigned"] for r in rows) == 15


async def test_per_document_progress_shows_the_17_tasks_of_131(reporting: Any, scenario: Scenario) -> None:
    http, _ = reporting
    docs = {d["document"]: d for d in (await summary(http, scenario, as_of="2023-04-01", document=""))["by_document"]}
    resolution = docs["131/NQ-CP"]["figures"]
    assert resolution["assigned"] + resolution["no_fixed_deadline"] + resolution["withdrawn"] == 17


async def test_a_period_is_compared_with_the_previous_period_of_the_same_length(
    reporting: Any, scenario: Scenario
) -> None:
    http, _ = reporting
    body = await summary(http, scenario, document="", **{"from": "2022-11-01", "to": "2022-11-30"})
    assert body["previous"]["basis"] == "period"
    assert (body["previous"]["from"], body["previous"]["to"]) == ("2022-10-02", "2022-10-31")
    assert body["figures"]["assigned"] == 16 and body["previous"]["figures"]["assigned"] == 0
