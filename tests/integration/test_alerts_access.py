"""Reading alerts needs an agency token, and only the person's own agency may (services/alerts/access.py):
the inbox and the live stream, on the real broker and database. An open stream is asked again while it is
open (services/alerts/stream.py): once its token is revoked, its agency abolished or the person moved to
another agency, it ends with a ``refused`` event and sends nothing more."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import httpx
import pytest

from events.clock import VN_TZ, ManualClock
from events.directory import AgencyChanged, PersonChanged, TokenRevoked
from services.alerts import stream
from services.alerts.bootstrap import definition
from services.alerts.config import AlertsConfig
from services.runtime import auth
from tests.conftest import eventually, unique
from tests.integration.progress_alerts_kit import (
    SseEvent,
    SseStream,
    assign,
    bearer,
    envelope,
    fetch,
    publish,
    seed_directory,
    serve,
)

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
def keepalive_s() -> float:
    """Open streams are asked again at each keep-alive: often, so a refusal ends them soon."""
    return 0.2


@pytest.fixture
async def http(run_service: Any, clock: ManualClock, keepalive_s: float) -> AsyncIterator[httpx.AsyncClient]:
    async with run_service(definition(AlertsConfig(stream_keepalive_s=keepalive_s)), clock) as client:
        yield client


async def _alerted(settings: Any, person: str, task_id: str) -> bool:
    sql = "SELECT 1 FROM alerts WHERE recipient_person_id = $1 AND task_id = $2"
    return bool(await fetch(settings, "alerts", sql, person, task_id))


@pytest.fixture
async def people(infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock) -> People:
    province, department, other = unique("ubnd"), unique("so"), unique("so-khac")
    head, officer = unique("head"), unique("officer")
    await seed_directory(
        infra.kafka,
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
    task_id, _ = await assign(infra.kafka, clock.now(), officer=officer, lead=department, assigning=province)
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
    task_id, _ = await assign(infra.kafka, clock.now(), officer=people.head, lead=people.other)
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


DEADLINE_S = 20.0


async def _ended(live: SseStream) -> SseEvent:
    """The stream's last event, once the server has ended the stream (within ``DEADLINE_S``)."""
    assert live._task is not None
    await asyncio.wait_for(live._task, DEADLINE_S)
    assert live.events, "the stream ended without a single event"
    return live.events[-1]


def _token(settings: Any, agency_id: str) -> tuple[dict[str, str], str]:
    """A token of the agency, as a header, and its id (to revoke it)."""
    token, principal = auth.issue(settings.token_secret, agency_id, datetime.now(VN_TZ))
    return {"Authorization": f"Bearer {token}"}, principal.token_id


async def _revoke(infra: Any, clock: ManualClock, agency_id: str, token_id: str) -> None:
    """As the assignment service publishes it: TokenRevoked on dondoc.directory, keyed token:<id>."""
    revoked = TokenRevoked(token_id=token_id, agency_id=agency_id, revoked_at=clock.now())
    await publish(infra.kafka, envelope(revoked, task_id=None, at=clock.now()), key=f"token:{token_id}")


@pytest.mark.parametrize("change", ["token revoked", "agency abolished"])
async def test_an_open_stream_ends_with_a_refusal_once_its_token_is_revoked_or_its_agency_abolished(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock, people: People, change: str
) -> None:
    headers, token_id = _token(settings, people.department)
    async with serve(http.app) as url:  # type: ignore[attr-defined]
        stream_url = f"{url}/v1/alerts/stream?person_id={people.officer}"
        async with SseStream(stream_url, headers=headers) as live:
            await eventually(lambda: _of(live, people.task_id), what="the officer's alert on the stream")
            if change == "token revoked":
                await _revoke(infra, clock, people.department, token_id)
            else:
                abolished = AgencyChanged(
                    agency_id=people.department,
                    name="Sở Giáo dục và Đào tạo",
                    level="so-nganh",
                    parent_id=people.province,
                    active=False,
                    version=2,
                )
                at = clock.now()
                await publish(infra.kafka, envelope(abolished, task_id=None, at=at), key=people.department)
            last = await _ended(live)

        assert last.event == "refused", live.events
        assert (last.data["status"], last.data["code"]) == (401, "unauthorized")
        if change == "token revoked":
            assert "revoked" in last.data["message"] and "thu hồi" in last.data["message_vi"]
        else:
            assert "no longer active" in last.data["message"] and "ngừng hoạt động" in last.data["message_vi"]
        # Opening it again is refused the same way.
        async with httpx.AsyncClient(timeout=10) as client:
            again = await client.get(stream_url, headers=headers)
        assert again.status_code == 401 and _detail(again)["message_vi"] == last.data["message_vi"]


async def test_an_open_stream_ends_with_a_refusal_once_the_person_moves_to_another_agency(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock, people: People
) -> None:
    async with serve(http.app) as url:  # type: ignore[attr-defined]
        stream_url = f"{url}/v1/alerts/stream?person_id={people.head}"
        async with SseStream(stream_url, headers=bearer(settings, people.department)) as live:
            await eventually(lambda: _of(live, people.task_id), what="the head's alert on the stream")
            moved = PersonChanged(
                person_id=people.head, agency_id=people.other, full_name=people.head, role="head", version=2
            )
            await publish(infra.kafka, envelope(moved, task_id=None, at=clock.now()), key=people.head)
            last = await _ended(live)

        assert last.event == "refused", live.events
        assert (last.data["status"], last.data["code"]) == (403, "not-persons-agency")
        assert f"chỉ mã xác thực của chính {people.other} được xem" in last.data["message_vi"]
        # Their new agency reads them now.
        async with SseStream(stream_url, headers=bearer(settings, people.other)) as theirs:
            await eventually(lambda: _of(theirs, people.task_id), what="the head's alert for their new agency")


@pytest.mark.parametrize("keepalive_s", [600.0])  # no keep-alive comes: the entry's wake asks again
async def test_no_new_alert_reaches_a_stream_whose_token_was_revoked(
    infra: Any,
    settings: Any,
    http: httpx.AsyncClient,
    clock: ManualClock,
    people: People,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stream, "RECHECK_EVERY_S", 0.0)  # each wake asks: no window to wait out
    headers, token_id = _token(settings, people.department)
    async with serve(http.app) as url:  # type: ignore[attr-defined]
        stream_url = f"{url}/v1/alerts/stream?person_id={people.officer}"
        async with SseStream(stream_url, headers=headers) as live:
            await eventually(lambda: _of(live, people.task_id), what="the officer's alert on the stream")
            await _revoke(infra, clock, people.department, token_id)
            sql = "SELECT 1 FROM revoked_tokens WHERE token_id = $1"
            await eventually(lambda: fetch(settings, "alerts", sql, token_id), what="alerts to read the revocation")
            # A new task for the officer: its alert is raised, and its entry wakes the stream.
            later, _ = await assign(
                infra.kafka,
                clock.now(),
                officer=people.officer,
                lead=people.department,
                assigning=people.province,
                title="Nhiệm vụ giao sau khi thu hồi mã",
            )
            await eventually(partial(_alerted, settings, people.officer, later), what="the officer's new alert")
            last = await _ended(live)

        assert last.event == "refused" and last.data["code"] == "unauthorized", live.events
        assert live.of(later) == [] and "sau khi thu hồi" not in str([e.data for e in live.events])
