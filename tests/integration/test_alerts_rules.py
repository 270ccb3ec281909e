"""Alert rules on the real broker and database: recipients from the directory, one alert per (task,
kind, threshold, recipient), overdue repeats until acknowledged, resolution, escalation, digest."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import httpx
import pytest

from events.clock import VN_TZ, ManualClock
from events.tasks import DeadlineApproaching, DeadlineExtended, TaskCompleted, TaskOverdue, TaskWithdrawn
from events.topics import ALERT_EVENTS
from services.alerts.bootstrap import definition
from services.alerts.config import AlertsConfig
from tests.conftest import eventually, unique
from tests.integration.progress_alerts_kit import (
    Events,
    assign,
    bearer,
    deadline,
    envelope,
    fetch,
    publish,
    seed_directory,
    topic_events,
)

pytestmark = pytest.mark.integration

HOUR = 3600.0
CONFIG = AlertsConfig(overdue_repeat_s=HOUR, escalation_delay_s=24 * HOUR)
DUE = date(2022, 11, 30)
OVERDUE_SINCE = datetime(2022, 12, 1, tzinfo=VN_TZ)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ))


@pytest.fixture
async def http(run_service: Any, clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    async with run_service(definition(CONFIG), clock) as client:
        yield client


@pytest.fixture
async def alert_events(infra: Any) -> AsyncIterator[Events]:
    async with topic_events(infra.kafka, ALERT_EVENTS, 3) as found:
        yield found


@pytest.fixture
async def org(infra: Any, settings: Any, clock: ManualClock) -> dict[str, str]:
    """A directory of its own: lead, coordinating and assigning agencies with heads, and a tracking office."""
    ids = {name: unique(name) for name in ("lead", "coord", "assigner", "office")}
    heads = {f"h_{name}": unique(f"head-{name}") for name in ids}
    await seed_directory(
        infra.kafka,
        clock.now(),
        agencies=[
            {"agency_id": ids["lead"], "name": "Sở Giáo dục và Đào tạo"},
            {"agency_id": ids["coord"], "name": "Sở Tài chính"},
            {"agency_id": ids["assigner"], "name": "UBND tỉnh Bình Định", "level": "ubnd-tinh"},
            {
                "agency_id": ids["office"],
                "name": "Văn phòng UBND tỉnh",
                "level": "van-phong",
                "parent_id": ids["assigner"],
                "tracking_office": True,
            },
        ],
        people=[{"person_id": heads[f"h_{n}"], "agency_id": ids[n], "role": "head"} for n in ids]
        + [{"person_id": unique("deputy"), "agency_id": ids["lead"], "role": "deputy"}],
    )
    found = {**ids, **heads, "officer": unique("officer")}
    READERS.update({heads[f"h_{n}"]: bearer(settings, ids[n]) for n in ids})
    READERS[found["officer"]] = bearer(settings, ids["lead"])
    return found


# The token each person's inbox is read with: their agency's, the only one allowed (test_alerts_access.py).
# Keyed by person id, unique per test, so tests never share an entry.
READERS: dict[str, dict[str, str]] = {}


async def inbox(http: httpx.AsyncClient, person: str, task_id: str, kind: str | None = None) -> list[dict[str, Any]]:
    response = await http.get("/v1/alerts", params={"person_id": person}, headers=READERS[person])
    assert response.status_code == 200, response.text
    alerts = response.json()["alerts"]
    return [a for a in alerts if a["task_id"] == task_id and (kind is None or a["kind"] == kind)]


async def assigned(infra: Any, http: httpx.AsyncClient, clock: ManualClock, org: dict[str, str], **kwargs: Any) -> str:
    # Directory and task events travel on different topics, in no set order: wait for the directory.
    await eventually(lambda: directory_known(infra, org), what="the directory")
    task_id, _ = await assign(
        infra.kafka,
        clock.now(),
        officer=org["officer"],
        lead=org["lead"],
        assigning=org["assigner"],
        coordinating=(org["coord"],),
        **kwargs,
    )
    await eventually(lambda: inbox(http, org["officer"], task_id, "assigned"), what="the assignment alert")
    return task_id


async def overdue(infra: Any, clock: ManualClock, task_id: str, event_id: uuid.UUID | None = None) -> None:
    await publish(
        infra.kafka,
        envelope(
            TaskOverdue(due=DUE, overdue_since=OVERDUE_SINCE),
            task_id=task_id,
            at=clock.now(),
            producer="progress",
            agency="dondoc",
            event_id=event_id,
        ),
    )


async def test_alerts_go_to_the_officer_and_the_lead_head_and_coordinating_heads_are_informed(
    infra: Any, http: httpx.AsyncClient, clock: ManualClock, org: dict[str, str]
) -> None:
    task_id = await assigned(infra, http, clock, org)
    roles = {
        p: [a["recipient_role"] for a in await inbox(http, p, task_id, "assigned")]
        for p in (org["officer"], org["h_lead"], org["h_coord"], org["h_assigner"])
    }
    assert roles == {
        org["officer"]: ["officer"],
        org["h_lead"]: ["head"],
        org["h_coord"]: ["coordinator"],
        org["h_assigner"]: [],
    }
    head_alert = (await inbox(http, org["h_lead"], task_id))[0]["message_vi"]
    assert "được giao chủ trì" in head_alert and "131/NQ-CP ngày 06/10/2022 của Chính phủ" in head_alert

    await publish(
        infra.kafka,
        envelope(
            DeadlineApproaching(due=DUE, working_days_left=3, fires_at=clock.now()),
            task_id=task_id,
            at=clock.now(),
            producer="progress",
            agency="dondoc",
        ),
    )
    await eventually(lambda: inbox(http, org["h_lead"], task_id, "approaching"), what="the reminder to the head")
    assert await inbox(http, org["officer"], task_id, "approaching")
    assert await inbox(http, org["h_coord"], task_id, "approaching") == []  # informed of less


async def directory_known(infra: Any, org: dict[str, str]) -> bool:
    from services.runtime.settings import Settings

    db = Settings(database_url=infra.database_url)
    heads = [org[k] for k in ("h_lead", "h_coord", "h_assigner", "h_office")]
    people = await fetch(db, "alerts", "SELECT 1 FROM people WHERE person_id = ANY($1)", heads)
    office = await fetch(db, "alerts", "SELECT 1 FROM agencies WHERE agency_id = $1 AND tracking_office", org["office"])
    return len(people) == 4 and len(office) == 1


async def test_without_a_known_head_only_the_officer_is_alerted(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    officer, lead = unique("officer"), unique("unknown-agency")
    READERS[officer] = bearer(settings, lead)
    task_id, _ = await assign(infra.kafka, clock.now(), officer=officer, lead=lead)
    alerts = await eventually(lambda: inbox(http, officer, task_id), what="the officer's alert")
    assert [a["recipient_role"] for a in alerts] == ["officer"]


async def test_one_alert_per_task_kind_threshold_and_recipient_however_often_the_cause_is_redelivered(
    infra: Any, http: httpx.AsyncClient, clock: ManualClock, org: dict[str, str], alert_events: Events
) -> None:
    task_id = await assigned(infra, http, clock, org)
    clock.set(OVERDUE_SINCE + timedelta(minutes=1))
    same = uuid.uuid4()
    # The same event twice (a re-delivery), and a second TaskOverdue for the same deadline (a re-send).
    for event_id in (same, same, uuid.uuid4()):
        await overdue(infra, clock, task_id, event_id)
    await eventually(lambda: inbox(http, org["h_coord"], task_id, "overdue"), what="the overdue alerts")
    await publish(
        infra.kafka,
        envelope(  # a marker after them on the same partition
            TaskWithdrawn(withdrawn_by_agency_id=org["assigner"], reason="kết thúc kiểm tra"),
            task_id=task_id,
            at=clock.now(),
        ),
    )
    await eventually(lambda: _resolved(alert_events, task_id), what="the marker")
    raised = [e.payload.model_dump() for e in await alert_events.of(task_id, "AlertRaised")]
    overdue_to = sorted(e["recipient_person_id"] for e in raised if e["kind"] == "overdue")
    assert overdue_to == sorted([org["officer"], org["h_lead"], org["h_coord"]])
    for person in overdue_to:
        assert len(await inbox(http, person, task_id, "overdue")) == 1


async def _resolved(events: Events, task_id: str) -> list[Any]:
    return await events.of(task_id, "AlertResolved")


async def test_overdue_reminders_repeat_until_the_recipient_acknowledges(
    infra: Any,
    settings: Any,
    http: httpx.AsyncClient,
    clock: ManualClock,
    org: dict[str, str],
    alert_events: Events,
) -> None:
    task_id = await assigned(infra, http, clock, org)
    clock.set(OVERDUE_SINCE + timedelta(minutes=1))
    await overdue(infra, clock, task_id)
    officer_alert = (await eventually(lambda: inbox(http, org["officer"], task_id, "overdue"), what="overdue"))[0]

    async def reminders(person: str) -> int:
        return int((await inbox(http, person, task_id, "overdue"))[0]["reminders"])

    clock.advance(timedelta(hours=1))
    await eventually(lambda: _at_least(reminders(org["officer"]), 1), what="the first repeat")
    await eventually(lambda: _at_least(reminders(org["h_lead"]), 1), what="the head's first repeat")
    assert await reminders(org["h_coord"]) == 0  # informed once, not chased

    path = f"/v1/alerts/{officer_alert['alert_id']}/ack"
    wrong = await http.post(path, headers=bearer(settings, org["coord"]))
    assert (wrong.status_code, wrong.json()["detail"]["code"]) == (403, "not-recipient-agency")
    first = await http.post(path, headers=bearer(settings, org["lead"]))
    again = await http.post(path, headers=bearer(settings, org["lead"]))
    assert first.status_code == again.status_code == 200
    assert first.json()["acknowledged_at"] == again.json()["acknowledged_at"]

    clock.advance(timedelta(hours=1))
    await eventually(lambda: _at_least(reminders(org["h_lead"]), 2), what="the head's second repeat")
    assert await reminders(org["officer"]) == 1  # acknowledged: no more repeats for the officer
    acks = await eventually(lambda: alert_events.of(task_id, "AlertAcknowledged"), what="AlertAcknowledged")
    assert len(acks) == 1
    head_alert = (await inbox(http, org["h_lead"], task_id, "overdue"))[0]
    assert head_alert["reminders"] == 2


async def _at_least(value: Any, n: int) -> bool:
    return bool(await value >= n)


async def test_completion_resolves_the_open_alerts_and_stops_their_reminders(
    infra: Any, http: httpx.AsyncClient, clock: ManualClock, org: dict[str, str], alert_events: Events
) -> None:
    task_id = await assigned(infra, http, clock, org)
    clock.set(OVERDUE_SINCE + timedelta(minutes=1))
    await overdue(infra, clock, task_id)
    await eventually(lambda: inbox(http, org["h_coord"], task_id, "overdue"), what="overdue alerts")
    await publish(
        infra.kafka,
        envelope(
            TaskCompleted(reported_on=date(2022, 12, 1), deadline_in_force=DUE, on_time=False, product="BC 1"),
            task_id=task_id,
            at=clock.now(),
            agency=org["assigner"],
        ),
    )
    resolved = await eventually(lambda: _resolved(alert_events, task_id), what="AlertResolved")
    everyone = [a for p in (org["officer"], org["h_lead"], org["h_coord"]) for a in await inbox(http, p, task_id)]
    assert len(resolved) == len(everyone) == 6  # assigned + overdue, to three people
    assert {e.payload.model_dump()["because"] for e in resolved} == {"completed"}
    clock.advance(timedelta(hours=3))
    await eventually(lambda: _no_live_timers(infra, task_id, everyone), what="no reminder left planned")
    assert all(a["reminders"] == 0 and a["resolved_at"] for a in await inbox(http, org["officer"], task_id))


async def _no_live_timers(infra: Any, task_id: str, alerts: list[dict[str, Any]]) -> bool:
    from services.runtime.settings import Settings

    subjects = [task_id, *(str(a["alert_id"]) for a in alerts)]
    rows = await fetch(
        Settings(database_url=infra.database_url),
        "alerts",
        "SELECT 1 FROM timers WHERE subject_id = ANY($1) AND status = 'scheduled'",
        subjects,
    )
    return not rows


async def test_an_extension_resolves_the_old_deadlines_alerts(
    infra: Any, http: httpx.AsyncClient, clock: ManualClock, org: dict[str, str], alert_events: Events
) -> None:
    task_id = await assigned(infra, http, clock, org)
    clock.set(OVERDUE_SINCE + timedelta(minutes=1))
    await overdue(infra, clock, task_id)
    await eventually(lambda: inbox(http, org["officer"], task_id, "overdue"), what="overdue alert")
    await publish(
        infra.kafka,
        envelope(
            DeadlineExtended(
                request_id="r",
                decided_by_agency_id=org["assigner"],
                previous_due=DUE,
                due=date(2022, 12, 31),
                deadline=deadline("2022-12-31"),
                original_due=DUE,
            ),
            task_id=task_id,
            at=clock.now(),
            agency=org["assigner"],
        ),
    )
    resolved = await eventually(lambda: _resolved(alert_events, task_id), what="AlertResolved")
    assert {e.payload.model_dump()["because"] for e in resolved} == {"deadline-extended"}
    assert not (await inbox(http, org["officer"], task_id, "assigned"))[0]["resolved_at"]


async def test_an_overdue_task_escalates_after_the_delay_to_the_assigning_head_and_its_tracking_office(
    infra: Any, http: httpx.AsyncClient, clock: ManualClock, org: dict[str, str], alert_events: Events
) -> None:
    task_id = await assigned(infra, http, clock, org)
    clock.set(OVERDUE_SINCE + timedelta(minutes=1))
    await overdue(infra, clock, task_id)
    await eventually(lambda: inbox(http, org["officer"], task_id, "overdue"), what="overdue alert")
    clock.set(OVERDUE_SINCE + timedelta(hours=23))
    assert await alert_events.of(task_id, "AlertEscalated") == []
    clock.set(OVERDUE_SINCE + timedelta(hours=24, seconds=1))
    escalated = await eventually(lambda: alert_events.of(task_id, "AlertEscalated"), what="AlertEscalated")
    body = escalated[0].payload.model_dump()
    assert sorted(body["escalated_to"]) == sorted([org["h_assigner"], org["h_office"]])
    assert len(body["unacknowledged_alert_ids"]) == 2  # the officer's and the lead head's overdue alerts
    text = (await inbox(http, org["h_office"], task_id, "escalated"))[0]["message_vi"]
    assert "do cơ quan đồng chí giao đã quá hạn 2 ngày (hạn 30/11/2022)" in text and "Đề nghị chỉ đạo" in text


async def test_each_person_gets_one_daily_digest_of_approaching_deadlines(
    infra: Any, settings: Any, run_service: Any, org: dict[str, str]
) -> None:
    # A day of its own: digests are per day, and other tests leave theirs planned in the shared schema.
    clock = ManualClock(datetime(2023, 3, 6, 9, 0, tzinfo=VN_TZ))
    due = date(2023, 3, 20)
    async with run_service(definition(CONFIG), clock) as http:
        tasks = [await assigned(infra, http, clock, org, due="2023-03-20") for _ in range(2)]
        for task_id, days in zip(tasks, (3, 7), strict=True):
            await publish(
                infra.kafka,
                envelope(
                    DeadlineApproaching(due=due, working_days_left=days, fires_at=clock.now()),
                    task_id=task_id,
                    at=clock.now(),
                    producer="progress",
                    agency="dondoc",
                ),
            )
            await eventually(partial(inbox, http, org["officer"], task_id, "approaching"), what="reminder")
        clock.set(datetime(2023, 3, 7, 7, 30, 1, tzinfo=VN_TZ))

        async def digests() -> list[dict[str, Any]]:
            # Only 7/3's: a digest timer another test left planned earlier may fire late (at start).
            return await fetch(
                settings,
                "alerts",
                "SELECT data FROM stream WHERE person_id = $1 AND kind = 'digest' AND data->>'day' = '2023-03-07'",
                org["officer"],
            )

        found = await eventually(digests, what="the digest")
        clock.set(datetime(2023, 3, 7, 16, 0, tzinfo=VN_TZ))
        await _drained(settings)
    assert len(await digests()) == 1
    text = json.loads(found[0]["data"])["text"]
    assert text.startswith("Tổng hợp ngày 07/03/2023: 2 nhiệm vụ"), text
    assert "hạn 20/03/2023, còn 9 ngày làm việc" in text


async def _drained(settings: Any) -> None:
    async def no_due_timer() -> bool:
        return not await fetch(
            settings,
            "alerts",
            "SELECT 1 FROM timers WHERE status = 'scheduled' "
            "AND fire_at <= '2023-03-07 16:00+07' AND lease_expires_at IS NULL",
        )

    await eventually(no_due_timer, what="every due timer to have fired")


async def test_completing_one_occurrence_resolves_its_alerts_and_the_next_is_still_followed(
    infra: Any, http: httpx.AsyncClient, clock: ManualClock, org: dict[str, str], alert_events: Events
) -> None:
    task_id = await assigned(infra, http, clock, org)
    clock.set(OVERDUE_SINCE + timedelta(minutes=1))
    await overdue(infra, clock, task_id)
    await eventually(lambda: inbox(http, org["officer"], task_id, "overdue"), what="overdue alert")
    next_due = date(2023, 11, 30)
    await publish(
        infra.kafka,
        envelope(
            TaskCompleted(
                reported_on=date(2022, 12, 1),
                deadline_in_force=DUE,
                on_time=False,
                product="BC 2022",
                next_due=next_due,
            ),
            task_id=task_id,
            at=clock.now(),
            agency=org["assigner"],
        ),
    )
    await eventually(lambda: _resolved(alert_events, task_id), what="AlertResolved")
    await publish(
        infra.kafka,
        envelope(
            DeadlineApproaching(due=next_due, working_days_left=7, fires_at=clock.now()),
            task_id=task_id,
            at=clock.now(),
            producer="progress",
            agency="dondoc",
        ),
    )
    reminder = await eventually(lambda: inbox(http, org["officer"], task_id, "approaching"), what="next reminder")
    assert "hạn 30/11/2023" in reminder[0]["message_vi"] and not reminder[0]["resolved_at"]
    assert all(a["resolved_at"] for a in await inbox(http, org["officer"], task_id) if a["kind"] != "approaching")
