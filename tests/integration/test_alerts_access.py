"""Reading alerts needs an agency token, and only the person's own agency may (services/alerts/access.py):
the inbox and the live stream, on the real broker and database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import httpx
import pytest

from events.clock import VN_TZ, ManualClock
from services.alerts.bootstrap import definition
from services.runtime import auth
from tests.conftest import eventually, unique
from tests.integration.progress_alerts_kit import SseStream, assign, bearer, fetch, seed_directory, serve

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class People:
    province: str  # the parent of the department
    department: str  # the lead agency: its head is in the directory, its officer only on alerts
    other: str
    head: str
    officer: str
    task_id: str


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ))


@pytest.fixture
async def http(run_service: Any, clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    async with run_service(definition(), clock) as client:
        yield client


async def _alerted(settings: Any, person: str, task_id: str) -> bool:
    sql = "SELECT 1 FROM alerts WHERE recipient_person_id = $1 AND task_id = $2"
    return bool(await fetch(settings, "alerts", sql, person, task_id))


@pytest.fixture
async def people(infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock) -> People:
    province, department, other = unique("ubnd"), unique("so"), unique("so-khac")
    head, officer = unique("head"), unique("officer")
    await seed_directory(
        infra.kafka_bootstrap,
        clock.now(),
        agencies=[
            {"agency_id": province, "name": "UBND tỉnh", "level": "ubnd-tinh"},
            {"agency_id": department, "name": "Sở Giáo dục và Đào tạo", "parent_id": province},
            {"agency_id": other, "name": "Sở Tài chính"},
        ],
        people=[{"person_id": head, "agency_id": department, "role": "head"}],
    )
    sql = "SELECT 1 FROM people WHERE person_id = $1"
    await eventually(lambda: fetch(settings, "alerts", sql, head), what="the directory")
    # The officer is in no directory: the alert names the lead agency as theirs.
    task_id, _ = await assign(
        infra.kafka_bootstrap, clock.now(), officer=officer, lead=department, assigning=province
    )
    for person in (head, officer):
        await eventually(partial(_alerted, settings, person, task_id), what=f"the alert of {person}")
    return People(province, department, other, head, officer, task_id)


def _detail(response: httpx.Response) -> dict[str, str]:
    detail: dict[str, str] = response.json()["detail"]
    return detail


async def test_reading_an_inbox_needs_a_valid_agency_token(http: httpx.AsyncClient, people: People) -> None:
    params = {"person_id": people.officer}
    missing = await http.get("/v1/alerts", params=params)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert _detail(missing)["code"] == "unauthorized"
    assert "Authorization: Bearer" in _detail(missing)["message"]
    assert "mã xác thực của cơ quan" in _detail(missing)["message_vi"]

    garbled = await http.get("/v1/alerts", params=params, headers={"Authorization": "Bearer not-a-token"})
    assert garbled.status_code == 401 and "not a dondoc agency token" in _detail(garbled)["message"]
    forged, _ = auth.issue("another-installation-secret", people.department, datetime.now(VN_TZ))
    wrong = await http.get("/v1/alerts", params=params, headers={"Authorization": f"Bearer {forged}"})
    assert wrong.status_code == 401 and "signature is invalid" in _detail(wrong)["message"]


async def test_only_the_persons_own_agency_reads_their_inbox(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock, people: People
) -> None:
    async def read(person: str, agency: str) -> httpx.Response:
        return await http.get("/v1/alerts", params={"person_id": person}, headers=bearer(settings, agency))

    # Known to the directory, and known only through the alerts addressed to them: both read by the lead.
    for person in (people.head, people.officer):
        mine = await read(person, people.department)
        assert mine.status_code == 200, mine.text
        assert [a["task_id"] for a in mine.json()["alerts"]] == [people.task_id]

    refused = await read(people.officer, people.other)
    assert refused.status_code == 403
    detail = _detail(refused)
    assert detail["code"] == "not-persons-agency"
    assert f"only a token of {people.department}" in detail["message"] and "per the alerts" in detail["message"]
    assert f"chỉ mã xác thực của chính {people.department} được xem" in detail["message_vi"]

    # The province over the department does not read its people's inboxes (reports give it figures).
    parent = await read(people.head, people.province)
    assert (parent.status_code, _detail(parent)["code"]) == (403, "not-persons-agency")
    assert "per the directory" in _detail(parent)["message"]

    nobody = await read(unique("nobody"), people.department)
    assert (nobody.status_code, _detail(nobody)["code"]) == (403, "person-agency-unknown")
    assert "Chưa xác định được cơ quan" in _detail(nobody)["message_vi"]

    # The directory comes first: the head, officer on another agency's task, stays the department's.
    task_id, _ = await assign(infra.kafka_bootstrap, clock.now(), officer=people.head, lead=people.other)
    await eventually(lambda: _alerted(settings, people.head, task_id), what="the head's alert of the other task")
    assert (await read(people.head, people.other)).status_code == 403
    assert len((await read(people.head, people.department)).json()["alerts"]) == 2


async def test_the_live_stream_is_refused_the_same_way_and_flows_for_the_persons_agency(
    settings: Any, http: httpx.AsyncClient, people: People
) -> None:
    async with serve(http.app) as url:  # type: ignore[attr-defined]  # running() hangs the app on its client
        stream_url = f"{url}/v1/alerts/stream?person_id={people.officer}"
        async with httpx.AsyncClient(timeout=10) as client:
            missing = await client.get(stream_url)
            assert missing.status_code == 401 and _detail(missing)["code"] == "unauthorized"
            other = await client.get(stream_url, headers=bearer(settings, people.other))
            assert other.status_code == 403 and other.headers["content-type"] == "application/json"
            assert _detail(other)["code"] == "not-persons-agency" and _detail(other)["message_vi"]
            parent = await client.get(stream_url, headers=bearer(settings, people.province))
            assert parent.status_code == 403
        with pytest.raises(httpx.HTTPStatusError):
            async with SseStream(stream_url, headers=bearer(settings, people.other)):
                pass
        async with SseStream(stream_url, headers=bearer(settings, people.department)) as live:
            alerts = await eventually(lambda: _of(live, people.task_id), what="the officer's alert on the stream")
        assert alerts[0].event == "alert" and alerts[0].data["kind"] == "assigned"


async def _of(stream: SseStream, task_id: str) -> list[Any]:
    return stream.of(task_id)
