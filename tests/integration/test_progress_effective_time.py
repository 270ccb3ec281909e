"""A completion counts from the day it was reported (its report's date, given by the command), not the day
it was typed into dondoc: judged on time or late on that day, written as the envelope's effective time, and
refused in the future or before the task was assigned (events/effective.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from events.clock import VN_TZ, ManualClock
from services.progress.bootstrap import definition
from tests.conftest import eventually
from tests.integration.progress_alerts_kit import assign, bearer, fetch

pytestmark = pytest.mark.integration

LEAD = "bd-sgddt"
ASSIGNED = datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ)
COMPLETION = {"product": "Báo cáo số 125/BC-SGDĐT"}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(ASSIGNED)


@pytest.fixture
async def http(run_service: Any, clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    async with run_service(definition(), clock) as client:
        yield client


async def assigned(infra: Any, http: httpx.AsyncClient, clock: ManualClock) -> str:
    task_id, _ = await assign(infra.kafka, clock.now(), officer="p-officer")

    async def known() -> bool:
        return (await http.get(f"/v1/tasks/{task_id}")).status_code == 200

    await eventually(known, what="the progress service to know the task")
    clock.advance(timedelta(days=6))  # typed in on 10/11/2022
    return task_id


def complete(http: httpx.AsyncClient, settings: Any, task_id: str, **fields: Any) -> Any:
    return http.post(f"/v1/tasks/{task_id}/complete", json={**COMPLETION, **fields}, headers=bearer(settings, LEAD))


async def test_a_completion_reported_earlier_counts_from_its_reports_date(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    task_id = await assigned(infra, http, clock)
    response = await complete(http, settings, task_id, reported_on="2022-11-06")
    assert response.status_code == 202, response.text
    assert (await http.get(f"/v1/tasks/{task_id}")).json()["reported_on"] == "2022-11-06"
    [row] = await fetch(
        settings,
        "progress",
        "SELECT value FROM outbox WHERE key = $1 AND convert_from(value, 'UTF8') LIKE '%CompletionReported%'",
        task_id,
    )
    event = json.loads(bytes(row["value"]))
    assert event["payload"]["reported_on"] == "2022-11-06"
    assert event["effective_at"] == "2022-11-06T00:00:00+07:00"
    assert event["occurred_at"].startswith("2022-11-10")


@pytest.mark.parametrize(
    ("day", "code"),
    [("2022-11-11", "effective-date-in-future"), ("2022-11-03", "effective-date-before-parent")],
)
async def test_a_completion_dated_in_the_future_or_before_the_task_is_refused(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock, day: str, code: str
) -> None:
    task_id = await assigned(infra, http, clock)
    response = await complete(http, settings, task_id, reported_on=day)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail["code"] == code
    assert detail["message"] and detail["message_vi"]
    assert (await http.get(f"/v1/tasks/{task_id}")).json()["status"] != "completion_reported"
