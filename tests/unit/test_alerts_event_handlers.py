"""The alerts service's consumed-event and timer handlers (services/alerts/handlers.py, timer_handlers.py)
against in-memory fakes of its repository, directory, delivery rows, in-app stream, timer table and outbox
(tests/fakes/alerts.py), with the real alert rules between them (raising.py, domain.py, wording.py,
disclosure.py). Each event it cannot apply (a task it never saw, a closed task, a stale timer) raises nothing
and emits nothing; each one it applies tells the right people once, on every channel, and keeps the repeats
and the escalation planned; what leaves dondoc of a secret task names nothing. Milliseconds, no broker or
database; tests/integration/test_alerts_rules.py and test_alerts_channels.py prove the same through the
real stack."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from events.alerts import AlertEscalated
from events.clock import VN_TZ
from events.deadlines import parse_deadline_or_date
from events.envelope import Actor, Envelope, EventPayload, new_envelope
from events.progress import CompletionReported, CompletionReturned
from events.tasks import (
    DeadlineApproaching,
    DeadlineExtended,
    SourceDocument,
    TaskAssigned,
    TaskCompleted,
    TaskOverdue,
    TaskTransferred,
    TaskWithdrawn,
)
from services.alerts import handlers, timer_handlers
from services.alerts.config import AlertsConfig
from services.alerts.domain import AgencyInfo, Person
from services.alerts.raising import ESCALATE, REPEAT
from services.runtime.timers import Timer
from services.runtime.unit_of_work import UnitOfWork
from tests.fakes import alerts as fake_alerts
from tests.fakes.runtime import InMemoryOutbox, fake_unit_of_work

NOW = datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ)
DUE = date(2022, 11, 30)
LEAD, COORDINATOR, ASSIGNER = "bd-sgddt", "bd-stc", "ubnd-bd"
OFFICER, LEAD_HEAD, COORDINATOR_HEAD, ASSIGNER_HEAD = "p-officer", "p-gd-head", "p-tc-head", "p-ubnd-head"
CONFIG = AlertsConfig(smtp_host="mail.example.vn")
REGISTRY = handlers.handlers(CONFIG)
TIMERS = timer_handlers.handlers(CONFIG)
SECRET_TITLE = "Kế hoạch bảo vệ bí mật"

EVERYONE = sorted([(OFFICER, "officer"), (LEAD_HEAD, "head"), (COORDINATOR_HEAD, "coordinator")])
World = tuple[fake_alerts.InMemoryAlerts, UnitOfWork, InMemoryOutbox]


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    store = fake_alerts.install(monkeypatch)
    uow, outbox = fake_unit_of_work(monkeypatch, "alerts", NOW)
    store.directory = {
        LEAD: AgencyInfo(LEAD_HEAD),
        COORDINATOR: AgencyInfo(COORDINATOR_HEAD),
        ASSIGNER: AgencyInfo(ASSIGNER_HEAD, ("bd-vp",)),
        "bd-vp": AgencyInfo("p-vp-head"),
    }
    store.webhooks = {LEAD: "https://he-thong.sgddt.example.vn/alerts"}
    store.people = {OFFICER: Person(OFFICER, LEAD, "Nguyễn Văn A", "officer", "a@sgddt.example.vn", True, 1)}
    return store, uow, outbox


def event(payload: EventPayload, task_id: str | None) -> Envelope:
    return new_envelope(
        payload,
        event_id=uuid.uuid4(),
        occurred_at=NOW,
        producer="assignment",
        actor=Actor(agency_id=ASSIGNER),
        task_id=task_id,
    )


async def consume(payload: EventPayload, task_id: str, uow: UnitOfWork) -> None:
    await REGISTRY[payload.event_type](event(payload, task_id), uow)


def assigned(classification: str = "cong-khai", title: str = "Triển khai thanh toán học phí") -> TaskAssigned:
    return TaskAssigned(
        code="131/NQ-CP#13",
        title=title,
        source_document=SourceDocument(number="131/NQ-CP", issued_on=date(2022, 10, 6), issuer="Chính phủ"),
        assigning_agency_id=ASSIGNER,
        lead_agency_id=LEAD,
        coordinating_agency_ids=(COORDINATOR,),
        officer_in_charge_id=OFFICER,
        deadline=parse_deadline_or_date("30/11/2022", date(2022, 10, 6)),
        classification=classification,
    )


def overdue() -> TaskOverdue:
    return TaskOverdue(due=DUE, overdue_since=datetime(2022, 12, 1, 0, 0, tzinfo=VN_TZ))


def told(store: fake_alerts.InMemoryAlerts, kind: str) -> list[tuple[str, str]]:
    return sorted((a.recipient_person_id, a.recipient_role) for a in store.alerts.values() if a.kind == kind)


def types(outbox: InMemoryOutbox) -> list[str]:
    return [e.event_type for e in outbox.events.values()]


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def test_the_registry_handles_the_task_events_and_the_directory() -> None:
    assert set(REGISTRY) == {
        *("TaskAssigned", "DeadlineApproaching", "TaskOverdue", "CompletionReported", "CompletionReturned"),
        *("TaskCompleted", "TaskWithdrawn", "DeadlineExtended", "TaskTransferred", "AgencyChanged", "PersonChanged"),
    }
    assert set(TIMERS) == {REPEAT, ESCALATE, "daily-digest"}


async def test_an_assigned_task_tells_its_officer_lead_head_and_coordinating_head_once_on_every_channel(
    world: World,
) -> None:
    store, uow, outbox = world
    await consume(assigned(), "t-1", uow)
    assert told(store, "assigned") == EVERYONE
    assert types(outbox) == ["AlertRaised", "AlertDelivered"] * 3
    assert sorted(p for p, kind, _ in store.stream) == sorted([OFFICER, LEAD_HEAD, COORDINATOR_HEAD])
    webhooks, emails = store.sent("webhook"), store.sent("email")
    assert {w.person_id for w in webhooks} == {OFFICER, LEAD_HEAD}  # the lead agency's system, for its people
    assert [(e.person_id, e.target) for e in emails] == [(OFFICER, "a@sgddt.example.vn")]
    assert "Triển khai thanh toán học phí" in emails[0].body["subject"]

    await consume(assigned(), "t-1", uow)  # the same decision re-delivered
    assert len(store.alerts) == 3 and len(outbox.events) == 6 and len(store.stream) == 3
    assert len(store.outgoing) == 3


@pytest.mark.parametrize("classification", ["mat", None])
async def test_what_leaves_dondoc_of_a_secret_task_names_nothing_while_the_app_shows_it_whole(
    world: World, classification: str | None
) -> None:
    store, uow, _outbox = world
    await consume(assigned(title=SECRET_TITLE), "t-mat", uow)
    store.tasks["t-mat"] = replace(store.tasks["t-mat"], classification=classification)  # None: an older row
    await consume(overdue(), "t-mat", uow)
    overdue_ids = {a.alert_id for a in store.alerts.values() if a.kind == "overdue"}
    leaving = [r for r in store.outgoing.values() if r.alert_id in overdue_ids]
    assert {r.channel for r in leaving} == {"webhook", "email"}
    for row in leaving:
        assert SECRET_TITLE not in _text(row.body) and "131/NQ-CP" not in _text(row.body), row
        assert "30/11/2022" not in _text(row.body)
    assert all(r.body["withheld"] is True for r in leaving if r.channel == "webhook")
    in_app = [data for _, kind, data in store.stream if data.get("kind") == "overdue"]
    assert in_app and all(data["title"] == SECRET_TITLE for data in in_app)


async def test_an_event_of_a_task_never_seen_raises_nothing(world: World) -> None:
    store, uow, outbox = world
    fires = datetime(2022, 11, 21, 8, tzinfo=VN_TZ)
    await consume(DeadlineApproaching(due=DUE, working_days_left=7, fires_at=fires), "t-unknown", uow)
    await consume(overdue(), "t-unknown", uow)
    assert store.alerts == {} and outbox.events == {} and store.stream == [] and store.live_timers == []


async def test_an_overdue_task_repeats_for_who_must_act_and_plans_its_escalation(world: World) -> None:
    store, uow, _outbox = world
    await consume(assigned(), "t-1", uow)
    await consume(overdue(), "t-1", uow)
    assert told(store, "overdue") == EVERYONE
    repeated = {a.alert_id for a in store.alerts.values() if a.kind == "overdue" and a.recipient_role != "coordinator"}
    assert {uuid.UUID(t.subject_id) for t in store.live_timers if t.kind == REPEAT} == repeated
    [escalation] = store.timers_of("t-1")
    assert escalation.kind == ESCALATE and escalation.data["due"] == DUE.isoformat()
    assert escalation.fire_at == overdue().overdue_since + timedelta(seconds=CONFIG.escalation_delay_s)


async def test_a_task_waiting_for_its_completion_to_be_confirmed_is_not_reminded_until_it_is_returned(
    world: World,
) -> None:
    store, uow, outbox = world
    await consume(assigned(), "t-1", uow)
    reported = CompletionReported(reported_on=date(2022, 11, 20), deadline_in_force=DUE, on_time=True, product="BC 12")
    await consume(reported, "t-1", uow)
    before = len(outbox.events)
    await consume(overdue(), "t-1", uow)
    assert store.tasks["t-1"].status == "completion_reported" and told(store, "overdue") == []
    assert len(outbox.events) == before
    returned = CompletionReturned(reason="Thiếu sản phẩm", reported_on=date(2022, 11, 20), deadline_in_force=DUE)
    await consume(returned, "t-1", uow)
    await consume(overdue(), "t-1", uow)
    assert store.tasks["t-1"].status == "open" and len(told(store, "overdue")) == 3


async def test_a_completed_task_resolves_its_alerts_stops_its_timers_and_tells_the_webhook(world: World) -> None:
    store, uow, outbox = world
    await consume(assigned(), "t-1", uow)
    await consume(overdue(), "t-1", uow)
    done = TaskCompleted(reported_on=date(2022, 12, 2), deadline_in_force=DUE, on_time=False, product="Báo cáo")
    await consume(done, "t-1", uow)
    assert all(a.resolved_at == NOW and a.resolved_because == "completed" for a in store.alerts.values())
    assert store.tasks["t-1"].status == "completed" and store.live_timers == []
    assert len([t for t in types(outbox) if t == "AlertResolved"]) == len(store.alerts) == 6
    notices = store.sent("webhook", notice="resolved")
    assert notices and all(n.body["because"] == "completed" for n in notices)


async def test_a_new_deadline_resolves_the_old_deadlines_alerts_but_not_the_assignment(world: World) -> None:
    store, uow, _outbox = world
    await consume(assigned(), "t-1", uow)
    await consume(overdue(), "t-1", uow)
    later = date(2023, 3, 31)
    extension = DeadlineExtended(
        request_id="r-1",
        decided_by_agency_id=ASSIGNER,
        previous_due=DUE,
        due=later,
        deadline=parse_deadline_or_date("31/03/2023", date(2022, 10, 6)),
        original_due=DUE,
    )
    await consume(extension, "t-1", uow)
    resolved = {a.kind for a in store.alerts.values() if a.resolved_at is not None}
    still_open = {a.kind for a in store.alerts.values() if a.resolved_at is None}
    assert (resolved, still_open) == ({"overdue"}, {"assigned"})
    assert store.tasks["t-1"].due == later and store.timers_of("t-1") == []


async def test_a_withdrawn_task_resolves_every_alert(world: World) -> None:
    store, uow, _outbox = world
    await consume(assigned(), "t-1", uow)
    await consume(TaskWithdrawn(withdrawn_by_agency_id=ASSIGNER, reason="Không còn phù hợp"), "t-1", uow)
    assert all(a.resolved_because == "withdrawn" for a in store.alerts.values())
    assert store.tasks["t-1"].status == "withdrawn"


async def test_a_transferred_task_ends_the_old_agencys_alerts_and_tells_the_successor_once(world: World) -> None:
    store, uow, _outbox = world
    store.directory["ubnd-gia-lai"] = AgencyInfo("p-gl-head")
    await consume(assigned(), "t-1", uow)
    move = TaskTransferred(
        reorganisation_id="nq-202",
        decision=SourceDocument(number="202/2025/QH15", issued_on=date(2025, 6, 12), issuer="Quốc hội"),
        effective_on=date(2025, 7, 1),
        from_agency_id=LEAD,
        to_agency_id="ubnd-gia-lai",
        role="chu-tri",
    )
    await consume(move, "t-1", uow)
    await consume(move, "t-1", uow)  # re-delivered: told once
    task = store.tasks["t-1"]
    assert (task.lead_agency_id, task.officer_in_charge_id) == ("ubnd-gia-lai", None)
    assert told(store, "transferred") == [("p-gl-head", "head")]
    old = [a for a in store.alerts.values() if a.recipient_agency_id == LEAD]
    assert old and all(a.resolved_because == "transferred" for a in old)
    coordinator = [a for a in store.alerts.values() if a.recipient_agency_id == COORDINATOR]
    assert all(a.resolved_at is None for a in coordinator)


def _timer(kind: str, subject_id: str, **data: Any) -> Timer:
    return Timer(uuid.uuid4(), kind, subject_id, "1", NOW, data)


async def test_an_overdue_repeat_reminds_until_acknowledged_then_stops(world: World) -> None:
    store, uow, outbox = world
    await consume(assigned(), "t-1", uow)
    await consume(overdue(), "t-1", uow)
    officer = next(a for a in store.alerts.values() if a.kind == "overdue" and a.recipient_role == "officer")
    await TIMERS[REPEAT](_timer(REPEAT, str(officer.alert_id)), uow)
    assert store.alerts[officer.alert_id].reminders == 1
    reminder = [d for p, _, d in store.stream if p == OFFICER and d.get("event") == "reminder"]
    assert [d["reminder"] for d in reminder] == [1] and reminder[0]["message_vi"].startswith("[Nhắc lại lần 1]")
    assert any(
        t.kind == REPEAT and t.subject_id == str(officer.alert_id) and t.fire_at > NOW for t in store.live_timers
    )

    store.alerts[officer.alert_id] = replace(store.alerts[officer.alert_id], acknowledged_at=NOW)
    before = (len(outbox.events), len(store.stream))
    await TIMERS[REPEAT](_timer(REPEAT, str(officer.alert_id)), uow)
    assert (len(outbox.events), len(store.stream)) == before and store.alerts[officer.alert_id].reminders == 1


async def test_an_escalation_of_a_deadline_no_longer_in_force_does_nothing(world: World) -> None:
    store, uow, outbox = world
    await consume(assigned(), "t-1", uow)
    before = len(outbox.events)
    stale = _timer(ESCALATE, "t-1", due="2022-10-31", overdue_since="2022-11-01T00:00:00+07:00")
    await TIMERS[ESCALATE](stale, uow)
    assert len(outbox.events) == before and told(store, "escalated") == []


async def test_an_escalation_goes_to_the_assigning_head_and_its_tracking_office(world: World) -> None:
    store, uow, outbox = world
    await consume(assigned(), "t-1", uow)
    await consume(overdue(), "t-1", uow)
    timer = _timer(ESCALATE, "t-1", due=DUE.isoformat(), overdue_since="2022-12-01T00:00:00+07:00")
    await TIMERS[ESCALATE](timer, uow)
    assert told(store, "escalated") == [(ASSIGNER_HEAD, "escalation"), ("p-vp-head", "escalation")]
    [escalated] = [e.payload for e in outbox.events.values() if e.event_type == "AlertEscalated"]
    assert isinstance(escalated, AlertEscalated)
    assert sorted(escalated.escalated_to) == [ASSIGNER_HEAD, "p-vp-head"]
    assert len(escalated.unacknowledged_alert_ids) == 2  # the officer's and the head's overdue alerts


async def test_the_mailed_digest_names_a_secret_task_by_id_only(world: World) -> None:
    store, uow, _outbox = world
    await consume(assigned(), "t-1", uow)
    await consume(assigned(classification="mat", title=SECRET_TITLE), "t-mat", uow)
    fires = datetime(2022, 11, 21, 8, tzinfo=VN_TZ)
    for task_id in ("t-1", "t-mat"):
        await consume(DeadlineApproaching(due=DUE, working_days_left=7, fires_at=fires), task_id, uow)
    assert await timer_handlers.digest(uow, date(2022, 11, 21), CONFIG) == 2  # the officer and the lead head
    [mailed] = [r for r in store.sent("email") if r.digest_day is not None]
    assert mailed.person_id == OFFICER and "t-mat" in mailed.body["text"] and SECRET_TITLE not in mailed.body["text"]
    assert "Triển khai thanh toán học phí" in mailed.body["text"]
    in_app = [d for p, kind, d in store.stream if kind == "digest" and p == OFFICER]
    assert len(in_app) == 1 and SECRET_TITLE in in_app[0]["text"]
    assert await timer_handlers.digest(uow, date(2022, 11, 21), CONFIG) == 2
    assert len([r for r in store.sent("email") if r.digest_day is not None]) == 1  # one digest a day
