"""Alert channels on real sockets: the SSE stream (live, resumable), a signed webhook to an agency system
(retried with backoff), e-mail to a real local SMTP server (aiosmtpd), and a hanging channel that
blocks neither the other channels nor the consumer."""

from __future__ import annotations

import asyncio
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
from events.tasks import DeadlineApproaching
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
    serve,
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


def config(smtp_port: int) -> AlertsConfig:
    return AlertsConfig(
        delivery_backoff_s=0.05,
        delivery_backoff_max_s=0.2,
        delivery_poll_interval_s=0.2,
        delivery_max_attempts=3,
        delivery_timeout_s=0.5,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
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
    async with topic_events(infra.kafka_bootstrap, ALERT_EVENTS, 3) as found:
        yield found


async def test_the_stream_is_live_and_resumes_after_last_event_id(
    infra: Any, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    officer = unique("officer")
    async with serve(http.app) as url:  # type: ignore[attr-defined]
        stream_url = f"{url}/v1/alerts/stream?person_id={officer}"
        async with SseStream(stream_url) as live:
            task_id, _ = await assign(infra.kafka_bootstrap, clock.now(), officer=officer)
            first = await eventually(lambda: _sse(live, task_id), what="the alert on the live stream")
        assert first[0].event == "alert" and "30/11/2022" in first[0].data["message_vi"]

        # While the person is away, a reminder is raised; reconnecting resumes after what they saw.
        await publish(
            infra.kafka_bootstrap,
            envelope(
                DeadlineApproaching(due=date(2022, 11, 30), working_days_left=7, fires_at=clock.now()),
                task_id=task_id,
                at=clock.now(),
                producer="progress",
                agency="dondoc",
            ),
        )
        async with SseStream(stream_url, last_event_id=first[-1].id) as resumed:
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
        task_id, _ = await assign(infra.kafka_bootstrap, clock.now(), officer=officer, lead=lead)
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
    r = await http.put(f"/v1/alerts/contacts/{officer}/email", json={"email": address}, headers=bearer(settings, lead))
    assert r.status_code == 200, r.text
    task_id, _ = await assign(infra.kafka_bootstrap, clock.now(), officer=officer, lead=lead)

    async def received() -> list[EmailMessage]:
        return mailbox.to(address)

    mail = (await eventually(received, what="the e-mail"))[0]
    assert mail["Subject"] == "[dondoc] Giao nhiệm vụ: Triển khai thanh toán học phí trực tuyến"
    text = mail.get_content()
    assert "Thời hạn hoàn thành: 30/11/2022" in text and "131/NQ-CP ngày 06/10/2022" in text
    await eventually(lambda: _delivered(alert_events, task_id, "email"), what="AlertDelivered by e-mail")
    # A reminder before the deadline is not mailed one by one: it waits for the daily digest.
    await publish(
        infra.kafka_bootstrap,
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
            await http.put(
                f"/v1/alerts/contacts/{officer}/email",
                json={"email": f"{officer}@example.vn"},
                headers=bearer(settings, lead),
            )
        tasks = [(await assign(infra.kafka_bootstrap, clock.now(), officer=o, lead=lead))[0] for o in officers]

        async def everyone_mailed() -> bool:
            return all(mailbox.to(f"{o}@example.vn") for o in officers)

        await eventually(everyone_mailed, what="every e-mail while the webhook hangs")
        for officer, task_id in zip(officers, tasks, strict=True):
            inbox = (await http.get("/v1/alerts", params={"person_id": officer})).json()["alerts"]
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
    assert {(r["attempts"], r["last_error"].split(":")[0]) for r in failed} == {(3, "TimeoutError")}


async def test_the_daily_digest_mails_each_person_their_approaching_deadlines_once(
    infra: Any, settings: Any, run_service: Any, smtp: Any, alert_events: Events
) -> None:
    mailbox, port = smtp
    clock = ManualClock(datetime(2023, 5, 8, 9, 0, tzinfo=VN_TZ))  # a day no other test lives on
    lead, officer = unique("lead"), unique("officer")
    address = f"{officer}@sgddt.binhdinh.gov.vn"
    async with run_service(definition(config(port)), clock) as http:
        # Digest timers other tests left planned on earlier days fire late, at once: let them pass first.
        await eventually(partial(_no_digest_due, settings, clock), what="late digest timers to fire")
        await http.put(f"/v1/alerts/contacts/{officer}/email", json={"email": address}, headers=bearer(settings, lead))
        tasks = [
            (await assign(infra.kafka_bootstrap, clock.now(), officer=officer, lead=lead, due="2023-05-19"))[0]
            for _ in range(2)
        ]
        for task_id, days in zip(tasks, (7, 3), strict=True):
            await publish(
                infra.kafka_bootstrap,
                envelope(
                    DeadlineApproaching(due=date(2023, 5, 19), working_days_left=days, fires_at=clock.now()),
                    task_id=task_id,
                    at=clock.now(),
                    producer="progress",
                    agency="dondoc",
                ),
            )
            await eventually(partial(_delivered, alert_events, task_id, "in-app"), what="reminders")
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
