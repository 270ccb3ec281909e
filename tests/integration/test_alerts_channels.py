"""Alert channels on real sockets: the SSE stream (live, resumable), a signed webhook to an agency system
(retried with backoff), e-mail to a real local SMTP server (aiosmtpd), and a hanging channel that
blocks neither the other channels nor the consumer."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from functools import partial
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from events.clock import VN_TZ, ManualClock
from events.codec import decode
from events.tasks import DeadlineApproaching, TaskCompleted
from events.topics import ALERT_EVENTS
from services.alerts.bootstrap import definition
from services.alerts.channels import signing
from services.alerts.config import AlertsConfig
from tests.conftest import eventually, free_port, unique
from tests.integration.progress_alerts_kit import (
    Events,
    SseStream,
    assign,
    bearer,
    envelope,
    fetch,
    publish,
    seed_directory,
    serve,
    task_assigned,
    topic_events,
)

pytestmark = pytest.mark.integration


class Mailbox:
    """aiosmtpd handler: keeps every message the server accepted."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd calls it by this name
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture(scope="module")
def smtp() -> Any:
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


class AgencySystem:
    """A receiving agency system: fails its first ``failures`` requests, or hangs while ``hang`` is set."""

    def __init__(self, failures: int = 0, hang: bool = False) -> None:
        self.failures, self.hang = failures, hang
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.release = asyncio.Event()
        self.app = Starlette(routes=[Route("/alerts", self._receive, methods=["POST"])])

    async def _receive(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), await request.body()))
        if self.hang:
            await self.release.wait()
        if len(self.requests) <= self.failures:
            return Response(status_code=500)
        return Response(status_code=204)


ON_PREMISE = ("127.0.0.0/8",)
"""The agency systems of these tests listen on this machine: allowed as an installation allows its own
network (DONDOC_ALERTS_WEBHOOK_ALLOWED_NETWORKS); without it they are refused (test_alerts_webhook_targets)."""


def config(smtp_port: int, timeout_s: float = 2.0) -> AlertsConfig:
    return AlertsConfig(
        delivery_backoff_s=0.05,
        delivery_backoff_max_s=0.2,
        delivery_poll_interval_s=0.2,
        delivery_max_attempts=3,
        # Short, for the hanging channel to give up quickly; not so short that a real SMTP exchange on
        # a loaded CI machine times out (the mail then arrives but its row is retried: a flaky test).
        delivery_timeout_s=timeout_s,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        webhook_allowed_networks=ON_PREMISE,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ))


@pytest.fixture
async def http(run_service: Any, clock: ManualClock, smtp: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with run_service(definition(config(smtp[1])), clock) as client:
        yield client


@pytest.fixture
async def alert_events(infra: Any) -> AsyncIterator[Events]:
    async with topic_events(infra.kafka, ALERT_EVENTS, 3) as found:
        yield found


async def known_with_email(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock, person: str, agency: str, address: str
) -> None:
    """The person made known to the directory as one of ``agency``'s, then their address set by that agency.
    An unknown person's address is claimed by nobody (services/alerts/routes.py), so never "in advance"."""
    people = [{"person_id": person, "agency_id": agency, "role": "officer"}]
    await seed_directory(infra.kafka, clock.now(), agencies=[], people=people)

    async def claimed() -> bool:
        put = await http.put(
            f"/v1/alerts/contacts/{person}/email", json={"email": address}, headers=bearer(settings, agency)
        )
        assert put.status_code in (200, 403), put.text
        return put.status_code == 200

    await eventually(claimed, what=f"the directory to tell alerts that {person} is of {agency}")


async def test_the_stream_is_live_and_resumes_after_last_event_id(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    officer = unique("officer")
    # The stream opens before the officer's first alert: the directory tells whose person they are.
    await seed_directory(
        infra.kafka, clock.now(), [], [{"person_id": officer, "agency_id": "bd-sgddt", "role": "officer"}]
    )
    await eventually(
        lambda: fetch(settings, "alerts", "SELECT 1 FROM people WHERE person_id = $1", officer),
        what="the directory to reach alerts",
    )
    reader = bearer(settings, "bd-sgddt")  # the lead agency of ``assign``'s tasks: the officer's
    async with serve(http.app) as url:  # type: ignore[attr-defined]
        stream_url = f"{url}/v1/alerts/stream?person_id={officer}"
        async with SseStream(stream_url, headers=reader) as live:
            task_id, _ = await assign(infra.kafka, clock.now(), officer=officer)
            first = await eventually(lambda: _sse(live, task_id), what="the alert on the live stream")
        assert first[0].event == "alert" and "30/11/2022" in first[0].data["message_vi"]

        # While the person is away, a reminder is raised; reconnecting resumes after what they saw.
        await publish(
            infra.kafka,
            envelope(
                DeadlineApproaching(due=date(2022, 11, 30), working_days_left=7, fires_at=clock.now()),
                task_id=task_id,
                at=clock.now(),
                producer="progress",
                agency="dondoc",
            ),
        )
        async with SseStream(stream_url, last_event_id=first[-1].id, headers=reader) as resumed:
            missed = await eventually(lambda: _sse(resumed, task_id), what="the missed reminder")
            assert [e.data["kind"] for e in missed] == ["approaching"]  # nothing replayed twice
            assert missed[0].id is not None and first[-1].id is not None and missed[0].id > first[-1].id


async def _sse(stream: SseStream, task_id: str) -> list[Any]:
    return stream.of(task_id)


async def test_a_signed_webhook_reaches_the_agency_system_retried_with_backoff(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock, alert_events: Events
) -> None:
    lead, officer, system = unique("lead"), unique("officer"), AgencySystem(failures=2)
    async with serve(system.app) as url:
        r = await http.put("/v1/alerts/webhook", json={"url": f"{url}/alerts"}, headers=bearer(settings, lead))
        assert r.status_code == 200, r.text
        secret = r.json()["secret"]
        task_id, _ = await assign(infra.kafka, clock.now(), officer=officer, lead=lead)
        delivered = await eventually(lambda: _delivered(alert_events, task_id, "webhook"), what="AlertDelivered")
    assert len(system.requests) == 3  # two failures, then accepted
    assert delivered[0]["attempts"] == 3 and delivered[0]["recipient_person_id"] == officer
    ids = {headers["x-dondoc-delivery"] for headers, _ in system.requests}
    assert len(ids) == 1  # the same delivery each time: the receiver can de-duplicate
    headers, body = system.requests[-1]
    assert signing.verify(secret, body, headers["x-dondoc-signature"], now=int(time.time()))
    assert not signing.verify("another-secret-of-length", body, headers["x-dondoc-signature"], now=int(time.time()))
    assert "30/11/2022" in body.decode()


async def _no_digest_due(settings: Any, clock: ManualClock) -> bool:
    due = await fetch(
        settings,
        "alerts",
        "SELECT 1 FROM timers WHERE kind = 'daily-digest' AND status = 'scheduled' AND fire_at <= $1",
        clock.now(),
    )
    return not due


async def _reminded(events: Events, task_id: str) -> bool:
    return any(e.payload.model_dump()["kind"] == "approaching" for e in await events.of(task_id, "AlertRaised"))


async def _in_digest(events: Events, task_id: str) -> list[dict[str, Any]]:
    return [d for d in await _delivered(events, task_id, "email") if d["digest_day"]]


async def _delivered(events: Events, task_id: str, channel: str) -> list[dict[str, Any]]:
    found = [e.payload.model_dump() for e in await events.of(task_id, "AlertDelivered")]
    return [e for e in found if e["channel"] == channel]


async def test_email_goes_over_smtp_in_vietnamese(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock, smtp: Any, alert_events: Events
) -> None:
    mailbox, _ = smtp
    lead, officer = unique("lead"), unique("officer")
    address = f"{officer}@sgddt.binhdinh.gov.vn"
    await known_with_email(infra, settings, http, clock, officer, lead, address)
    task_id, _ = await assign(infra.kafka, clock.now(), officer=officer, lead=lead)

    async def received() -> list[EmailMessage]:
        return mailbox.to(address)

    mail = (await eventually(received, what="the e-mail"))[0]
    assert mail["Subject"] == "[dondoc] Giao nhiệm vụ: Triển khai thanh toán học phí trực tuyến"
    text = mail.get_content()
    assert "Thời hạn hoàn thành: 30/11/2022" in text and "131/NQ-CP ngày 06/10/2022" in text
    await eventually(lambda: _delivered(alert_events, task_id, "email"), what="AlertDelivered by e-mail")
    # A reminder before the deadline is not mailed one by one: it waits for the daily digest.
    await publish(
        infra.kafka,
        envelope(
            DeadlineApproaching(due=date(2022, 11, 30), working_days_left=7, fires_at=clock.now()),
            task_id=task_id,
            at=clock.now(),
            producer="progress",
            agency="dondoc",
        ),
    )
    await eventually(lambda: _delivered(alert_events, task_id, "in-app"), what="the reminder in-app")
    rows = await fetch(settings, "alerts", "SELECT channel FROM deliveries WHERE task_id = $1", task_id)
    assert [r["channel"] for r in rows] == ["email"]


async def test_a_hanging_channel_blocks_neither_the_other_channels_nor_the_consumer(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock, smtp: Any
) -> None:
    mailbox, _ = smtp
    lead, system = unique("lead"), AgencySystem(hang=True)
    async with serve(system.app) as url:
        await http.put("/v1/alerts/webhook", json={"url": f"{url}/alerts"}, headers=bearer(settings, lead))
        officers = [unique("officer") for _ in range(5)]
        for officer in officers:
            await known_with_email(infra, settings, http, clock, officer, lead, f"{officer}@example.vn")
        tasks = [(await assign(infra.kafka, clock.now(), officer=o, lead=lead))[0] for o in officers]

        async def everyone_mailed() -> bool:
            return all(mailbox.to(f"{o}@example.vn") for o in officers)

        await eventually(everyone_mailed, what="every e-mail while the webhook hangs")
        for officer, task_id in zip(officers, tasks, strict=True):
            # Their agency is the lead (the directory says so): they read their alerts with its token.
            read = await http.get("/v1/alerts", params={"person_id": officer}, headers=bearer(settings, lead))
            inbox = read.json()["alerts"]
            assert [a["task_id"] for a in inbox] == [task_id]

        async def webhooks_given_up() -> list[dict[str, Any]] | None:
            rows = await fetch(
                settings,
                "alerts",
                "SELECT status, attempts, last_error FROM deliveries WHERE channel = 'webhook' AND task_id = ANY($1)",
                tasks,
            )
            return rows if len(rows) == 5 and all(r["status"] == "failed" for r in rows) else None

        failed = await eventually(webhooks_given_up, what="the webhook deliveries to give up")
        assert failed is not None
        system.release.set()
    assert {(r["attempts"], r["last_error"]) for r in failed} == {(3, "timeout")}


async def test_the_daily_digest_mails_each_person_their_approaching_deadlines_once(
    infra: Any, settings: Any, run_service: Any, smtp: Any, alert_events: Events
) -> None:
    mailbox, port = smtp
    clock = ManualClock(datetime(2023, 5, 8, 9, 0, tzinfo=VN_TZ))  # a day no other test lives on
    lead, officer = unique("lead"), unique("officer")
    address = f"{officer}@sgddt.binhdinh.gov.vn"
    # The digest mails every person of the session's shared schema with reminders that day, at once: on a
    # loaded machine a 2 s send can time out and its row give up before the mail is recorded delivered.
    async with run_service(definition(config(port, timeout_s=8.0)), clock) as http:
        # Digest timers other tests left planned on earlier days fire late, at once: let them pass first.
        await eventually(partial(_no_digest_due, settings, clock), what="late digest timers to fire")
        await known_with_email(infra, settings, http, clock, officer, lead, address)
        tasks = [
            (await assign(infra.kafka, clock.now(), officer=officer, lead=lead, due="2023-05-19"))[0] for _ in range(2)
        ]
        for task_id, days in zip(tasks, (7, 3), strict=True):
            await publish(
                infra.kafka,
                envelope(
                    DeadlineApproaching(due=date(2023, 5, 19), working_days_left=days, fires_at=clock.now()),
                    task_id=task_id,
                    at=clock.now(),
                    producer="progress",
                    agency="dondoc",
                ),
            )
            # The reminder itself, not any in-app delivery of the task (its "assigned" alert is one): a digest
            # that fires before the reminder is raised leaves it out.
            await eventually(partial(_reminded, alert_events, task_id), what="reminders")
        clock.set(datetime(2023, 5, 9, 7, 30, 1, tzinfo=VN_TZ))

        async def digests() -> list[EmailMessage]:
            return [m for m in mailbox.to(address) if "Tổng hợp nhiệm vụ sắp đến hạn ngày 09/05/2023" in m["Subject"]]

        mail = (await eventually(digests, what="the digest e-mail"))[0]
        for task_id in tasks:
            in_digest = await eventually(partial(_in_digest, alert_events, task_id), what="AlertDelivered, digest")
            assert [d["digest_day"] for d in in_digest] == [date(2023, 5, 9)]
    assert len(await digests()) == 1
    assert "2 nhiệm vụ" in mail.get_content() and "hạn 19/05/2023" in mail.get_content()
    # Before the deadline only the assignments were mailed one by one; the reminders came in the digest.
    assert len(mailbox.to(address)) == 3


# --- Secret tasks on external channels; the webhook told of resolution ------------------------------------


def _bodies(system: AgencySystem, task_id: str) -> list[tuple[dict[str, str], dict[str, Any], bytes]]:
    """(headers, JSON body, raw body) of the requests the agency system received about the task."""
    found = [(h, json.loads(raw), raw) for h, raw in system.requests]
    return [(h, body, raw) for h, body, raw in found if body["task_id"] == task_id]


async def test_a_secret_task_goes_out_by_webhook_and_email_without_its_content(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock, smtp: Any
) -> None:
    mailbox, _ = smtp
    lead, system = unique("lead"), AgencySystem()
    async with serve(system.app) as url:
        r = await http.put("/v1/alerts/webhook", json={"url": f"{url}/alerts"}, headers=bearer(settings, lead))
        assert r.status_code == 200, r.text
        sent: dict[str, tuple[Any, str, dict[str, Any], EmailMessage]] = {}
        for classification in ("mat", "cong-khai"):
            officer = unique("officer")
            address = f"{officer}@example.vn"
            await known_with_email(infra, settings, http, clock, officer, lead, address)
            payload = task_assigned(officer=officer, lead=lead, title=unique("Phương án bảo vệ mục tiêu")).model_copy(
                update={"classification": classification}
            )
            task_id = unique("t")
            await publish(infra.kafka, envelope(payload, task_id=task_id, at=clock.now()))
            hooks = await eventually(partial(_hooks, system, task_id), what=f"the webhook of a {classification} task")
            mails = await eventually(partial(_mails, mailbox, address), what=f"the e-mail of a {classification} task")
            sent[classification] = (payload, task_id, hooks[0][1], mails[0])

    payload, task_id, body, mail = sent["mat"]
    for channel, text in (("webhook", json.dumps(body, ensure_ascii=False)), ("email", _mail_text(mail))):
        number, deadline_text = payload.source_document.number, payload.deadline.text
        for content in (payload.title, payload.code, number, deadline_text, "30/11/2022", "2022-11-30"):
            assert content not in text, (channel, content)
        assert "Nhiệm vụ mật: xem nội dung trong hệ thống dondoc" in text, channel
        assert task_id in text, channel  # enough to find it in dondoc
    assert mail["Subject"] == "[dondoc] Giao nhiệm vụ: Nhiệm vụ mật"
    assert body["withheld"] is True and body["kind"] == "assigned" and body["event"] == "alert"

    payload, task_id, body, mail = sent["cong-khai"]
    assert body["title"] == payload.title and body["code"] == payload.code
    assert body["classification"] == "cong-khai" and body["withheld"] is False
    assert payload.title in mail["Subject"] and payload.code in mail.get_content()


async def _hooks(system: AgencySystem, task_id: str) -> list[tuple[dict[str, str], dict[str, Any], bytes]]:
    return _bodies(system, task_id)


async def _mails(mailbox: Mailbox, address: str) -> list[EmailMessage]:
    return mailbox.to(address)


def _mail_text(mail: EmailMessage) -> str:
    return f"{mail['Subject']}\n{mail.get_content()}"


async def test_the_webhook_that_had_an_alert_is_told_once_when_it_is_resolved(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock, alert_events: Events
) -> None:
    lead, officer, system = unique("lead"), unique("officer"), AgencySystem()
    async with serve(system.app) as url:
        r = await http.put("/v1/alerts/webhook", json={"url": f"{url}/alerts"}, headers=bearer(settings, lead))
        secret = r.json()["secret"]
        task_id, _ = await assign(infra.kafka, clock.now(), officer=officer, lead=lead)
        await eventually(partial(_delivered, alert_events, task_id, "webhook"), what="the alert by webhook")
        completed = TaskCompleted(
            reported_on=date(2022, 11, 20), deadline_in_force=date(2022, 11, 30), on_time=True, product="BC 1"
        )
        first = envelope(completed, task_id=task_id, at=clock.now())
        again = envelope(completed, task_id=task_id, at=clock.now())  # the same cause, sent again
        await publish(infra.kafka, first, first, again)  # and the first re-delivered

        async def told() -> list[Any]:
            return [b for b in _bodies(system, task_id) if b[1]["event"] == "resolved"]

        resolved = await eventually(told, what="the resolution by webhook")
        await eventually(partial(_handled, settings, first.event_id, again.event_id), what="every TaskCompleted")
        await eventually(partial(_nothing_pending, settings, task_id), what="the webhook worker to be idle")
        await asyncio.sleep(0.5)  # a few worker rounds: a duplicate would have gone out by now
        resolved = await told()

    assert len(resolved) == 1
    headers, body, raw = resolved[0]
    alert = next(b for b in _bodies(system, task_id) if b[1]["event"] == "alert")
    assert body["alert_id"] == alert[1]["alert_id"] and body["because"] == "completed"
    assert "đã kết thúc: nhiệm vụ đã hoàn thành" in body["message_vi"]
    assert signing.verify(secret, raw, headers["x-dondoc-signature"], now=int(time.time()))
    assert headers["x-dondoc-delivery"] != alert[0]["x-dondoc-delivery"]
    # The notice is not the alert: its delivery emitted no AlertDelivered (the outbox has what it would).
    outbox = await fetch(settings, "alerts", "SELECT value FROM outbox WHERE key = $1", task_id)
    delivered = [decode(r["value"]) for r in outbox]
    by_webhook = [
        e for e in delivered if e.event_type == "AlertDelivered" and e.payload.model_dump()["channel"] == "webhook"
    ]
    assert len(by_webhook) == 1


async def _handled(settings: Any, *event_ids: Any) -> bool:
    rows = await fetch(settings, "alerts", "SELECT 1 FROM inbox WHERE event_id = ANY($1)", list(event_ids))
    return len(rows) == len(event_ids)


async def _nothing_pending(settings: Any, task_id: str) -> bool:
    rows = await fetch(settings, "alerts", "SELECT status FROM deliveries WHERE task_id = $1", task_id)
    return bool(rows) and all(r["status"] == "delivered" for r in rows)


async def test_a_resolution_waits_until_its_alert_is_no_longer_being_sent_to_that_target(
    infra: Any, settings: Any, run_service: Any, clock: ManualClock
) -> None:
    system = AgencySystem(failures=10**6)  # refuses every request until told otherwise
    patient = AlertsConfig(
        delivery_backoff_s=0.05,
        delivery_backoff_max_s=0.1,
        delivery_poll_interval_s=0.1,
        delivery_max_attempts=1000,
        webhook_allowed_networks=ON_PREMISE,
    )
    lead = unique("lead")
    async with run_service(definition(patient), clock) as http, serve(system.app) as url:
        await http.put("/v1/alerts/webhook", json={"url": f"{url}/alerts"}, headers=bearer(settings, lead))
        task_id, _ = await assign(infra.kafka, clock.now(), officer=unique("officer"), lead=lead)
        await eventually(partial(_hooks, system, task_id), what="the alert's first try")
        completed = TaskCompleted(
            reported_on=date(2022, 11, 20), deadline_in_force=date(2022, 11, 30), on_time=True, product="BC 1"
        )
        await publish(infra.kafka, envelope(completed, task_id=task_id, at=clock.now()))

        async def queued() -> list[dict[str, Any]]:
            sql = "SELECT 1 FROM deliveries WHERE task_id = $1 AND notice = 'resolved'"
            return await fetch(settings, "alerts", sql, task_id)

        await eventually(queued, what="the resolution notice queued")
        await asyncio.sleep(0.6)  # several worker rounds while the alert is still being retried
        held = [b for b in _bodies(system, task_id) if b[1]["event"] == "resolved"]
        system.failures = 0  # the agency system is back

        async def told() -> list[Any]:
            return [b for b in _bodies(system, task_id) if b[1]["event"] == "resolved"]

        await eventually(told, what="the resolution after the alert")
    sent = [body["event"] for _, body, _ in _bodies(system, task_id)]
    assert held == []
    assert sent[-2:] == ["alert", "resolved"] and sent.count("resolved") == 1
