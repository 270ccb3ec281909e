"""kill -9 of the alerts service while it is delivering: a signed webhook, e-mail over SMTP and the live
SSE stream lose nothing and duplicate nothing a receiver cannot recognise.

Each test makes the kill land on work provably in flight: the webhook and SMTP receivers answer the first
few sends and then hold every later one open (a receiver stalling mid-burst), and the SSE streams break
while a burst of assignments is still being posted and after the clients have seen part of it. After the
restart every channel is compared with what the alerts service itself recorded (deliveries, stream table,
outbox) and with the audit log.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.alerts.channels import signing
from tests.conftest import eventually, free_port, unique
from tests.e2e.conftest import ServiceProcess, Stack

pytestmark = pytest.mark.e2e

ASSIGNER, LEAD = "ubnd-bd", "bd-sgddt"
# Every task below is led by the Sở GDĐT with this officer in charge: each alert goes to both of them.
OFFICER, HEAD = "p-bd-sgddt-officer-1", "p-bd-sgddt-head"

# Deliveries tuned so a crash heals within the test: the dead worker's leases expire after 5 s (production:
# 60 s), a send gives up after 2 s (with e-mail's grace still less than the lease, so a live worker never
# re-claims its own send), small batches make the burst trickle out instead of leaving in one batch.
DELIVERY_SETTINGS = {
    "DONDOC_ALERTS_DELIVERY_LEASE_S": "5",
    "DONDOC_ALERTS_DELIVERY_TIMEOUT_S": "2",
    "DONDOC_ALERTS_DELIVERY_BACKOFF_S": "0.2",
    "DONDOC_ALERTS_DELIVERY_BACKOFF_MAX_S": "1",
    "DONDOC_ALERTS_DELIVERY_POLL_INTERVAL_S": "0.2",
    "DONDOC_ALERTS_DELIVERY_BATCH_SIZE": "5",
    # The agency system runs on this machine: the documented on-premise allow-list, not a bypass.
    "DONDOC_ALERTS_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
}


@pytest.fixture(autouse=True)
def alerts_delivery_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stack's processes inherit this process's environment (tests/e2e/conftest.py), and autouse
    fixtures are set up before ``stack``: the alerts process starts with these settings."""
    for name, value in DELIVERY_SETTINGS.items():
        monkeypatch.setenv(name, value)


# --- the burst ------------------------------------------------------------------------------------------


def assign_body(run: str, i: int) -> dict[str, Any]:
    return {
        # A title of its own: an e-mail's subject tells which task it is about.
        "title": f"Triển khai thanh toán học phí trực tuyến ({run} #{i})",
        "source_document": {"number": "131/NQ-CP", "issued_on": "2022-10-06", "issuer": "Chính phủ"},
        "lead_agency_id": LEAD,
        "officer_in_charge_id": OFFICER,
        "deadline": "Quý IV năm 2030",
        "idempotency_key": f"{run}-{i}",
    }


async def assign(client: httpx.AsyncClient, stack: Stack, run: str, i: int) -> str:
    response = await client.post(
        f"{stack['assignment'].url}/v1/tasks", json=assign_body(run, i), headers=stack.headers_for(ASSIGNER)
    )
    assert response.status_code == 201, response.text
    return str(response.json()["task_id"])


async def assign_many(client: httpx.AsyncClient, stack: Stack, run: str, numbers: Iterable[int]) -> list[str]:
    return [await assign(client, stack, run, i) for i in numbers]


async def alerts_know_the_lead_agency(stack: Stack) -> bool:
    """The seed directory reaches alerts over Kafka after the stack is up; until it has, an alert would go
    to the officer only (no head known) and without an e-mail address."""
    rows = await stack.fetch(
        "alerts", "SELECT person_id, role, email FROM people WHERE person_id = ANY($1::text[])", [OFFICER, HEAD]
    )
    known = {r["person_id"]: r for r in rows if r["email"]}
    return set(known) == {OFFICER, HEAD} and known[HEAD]["role"] == "head"


async def restart(service: ServiceProcess) -> None:
    service.start()
    await service.wait_ready()


async def all_raised(stack: Stack, task_ids: list[str]) -> list[Any]:
    """The alerts of these tasks once each task has its two (officer and head), else none."""
    alerts = await stack.fetch(
        "alerts", "SELECT alert_id, task_id, recipient_person_id FROM alerts WHERE task_id = ANY($1::text[])", task_ids
    )
    return alerts if len(alerts) >= 2 * len(task_ids) and {a["task_id"] for a in alerts} == set(task_ids) else []


def assert_officer_and_head_alerted_once_per_task(alerts: list[Any], task_ids: list[str]) -> None:
    pairs = Counter((a["task_id"], a["recipient_person_id"]) for a in alerts)
    assert set(pairs) == {(t, p) for t in task_ids for p in (OFFICER, HEAD)}, "an alert is missing"
    assert set(pairs.values()) == {1}, "an alert was raised twice"


async def settled_deliveries(stack: Stack, channel: str, task_ids: list[str], expected: int) -> list[Any]:
    """The channel's delivery rows of these tasks once all exist and none is still pending (else none)."""
    rows = await stack.fetch(
        "alerts",
        "SELECT delivery_id, alert_id, person_id, target, body, status, attempts, "
        "last_error FROM deliveries WHERE channel = $1 AND task_id = ANY($2::text[])",
        channel,
        task_ids,
    )
    return rows if len(rows) == expected and all(r["status"] != "pending" for r in rows) else []


async def alert_delivered_in_audit(stack: Stack, task_ids: list[str], channel: str) -> list[dict[str, Any]]:
    """AlertDelivered events of the channel as the audit service recorded them off Kafka (one row per
    event id: a re-published duplicate is one row, a second event for one delivery would be two)."""
    rows = await stack.fetch(
        "audit", "SELECT value FROM events WHERE event_type = 'AlertDelivered' AND task_id = ANY($1::text[])", task_ids
    )
    payloads = [json.loads(bytes(r["value"]))["payload"] for r in rows]
    return [p for p in payloads if p["channel"] == channel]


async def alert_delivered_in_outbox(stack: Stack, task_ids: list[str], channel: str) -> list[dict[str, Any]]:
    """The same events at their source, the alerts service's outbox."""
    rows = await stack.fetch("alerts", "SELECT value FROM outbox WHERE key = ANY($1::text[])", task_ids)
    events = [json.loads(bytes(r["value"])) for r in rows]
    return [e["payload"] for e in events if e["event_type"] == "AlertDelivered" and e["payload"]["channel"] == channel]


async def assert_alert_delivered_once_per_delivery(
    stack: Stack, task_ids: list[str], channel: str, rows: list[Any]
) -> None:
    expected = {str(r["alert_id"]): r["attempts"] for r in rows}

    async def all_in_audit() -> list[dict[str, Any]]:
        found = await alert_delivered_in_audit(stack, task_ids, channel)
        return found if {p["alert_id"] for p in found} == set(expected) else []

    audited = await eventually(all_in_audit, timeout=60, what=f"every AlertDelivered({channel}) in the audit log")
    for where, payloads in (
        ("audit log", audited),
        ("outbox", await alert_delivered_in_outbox(stack, task_ids, channel)),
    ):
        counts = Counter(p["alert_id"] for p in payloads)
        assert set(counts) == set(expected), f"{where}: AlertDelivered missing for a delivery"
        doubled = {a: n for a, n in counts.items() if n > 1}
        assert not doubled, f"{where}: AlertDelivered({channel}) emitted more than once: {doubled}"
        # The event tells the tries the row counted (a send cut short by the crash is not one of them).
        assert {p["alert_id"]: p["attempts"] for p in payloads} == expected, where


def assert_sent_again(arrivals: list[str], answered: int, seen_at_kill: int) -> None:
    """``arrivals``: the id of each send in the order the receiver got them. The first ``answered`` were
    answered; the rest up to the kill were held open, so never confirmed: each must come again after it."""
    held_at_kill = set(arrivals[answered:seen_at_kill])
    assert held_at_kill, "no send was in flight at the kill"
    lost = held_at_kill - set(arrivals[seen_at_kill:])
    assert not lost, f"sends cut short by the kill were never sent again (at-most-once): {lost}"


def assert_none_failed(rows: list[Any]) -> None:
    failed = [(r["delivery_id"], r["attempts"], r["last_error"]) for r in rows if r["status"] != "delivered"]
    assert not failed, f"deliveries left undelivered: {failed}"


# --- receivers that stall mid-burst -----------------------------------------------------------------------


class Valve:
    """Lets the first ``free`` sends through, then holds each later one open until ``open()``: a receiver
    stalling mid-burst, so a kill provably lands while sends are in flight. ``open()`` may be called from
    another thread than the receiver's loop (the SMTP server runs its own)."""

    def __init__(self, free: int, loop: asyncio.AbstractEventLoop) -> None:
        self.free, self.passed, self.held = free, 0, 0
        self._loop, self._opened = loop, asyncio.Event()

    async def through(self) -> None:
        if self.passed >= self.free:
            self.held += 1
            try:
                await self._opened.wait()
            finally:
                self.held -= 1
        self.passed += 1

    def open(self) -> None:
        self._loop.call_soon_threadsafe(self._opened.set)

    async def stalled_mid_burst(self) -> bool:
        return self.passed >= self.free and self.held > 0


@dataclass
class WebhookRequest:
    delivery_id: str
    signature: str
    raw: bytes
    body: dict[str, Any]


class AgencySystem:
    """The Sở GDĐT's system behind its webhook: records every request as it arrives."""

    def __init__(self, valve: Valve) -> None:
        self.valve = valve
        self.requests: list[WebhookRequest] = []
        self.app = Starlette(routes=[Route("/alerts", self._receive, methods=["POST"])])

    async def _receive(self, request: Request) -> Response:
        raw = await request.body()
        self.requests.append(
            WebhookRequest(request.headers["x-dondoc-delivery"], request.headers[signing.HEADER], raw, json.loads(raw))
        )
        await self.valve.through()
        return Response(status_code=204)


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app on a real local port, in this event loop."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", timeout_graceful_shutdown=2
        )
    )
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        assert not task.done(), "the receiver's server stopped"
        return bool(server.started)

    try:
        await eventually(started, timeout=10, interval=0.02, what="the receiver to listen")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


class Mailbox:
    """aiosmtpd handler: records every message as its DATA arrives, before answering."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.valve: Valve | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd calls it by this name
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        assert self.valve is not None
        await self.valve.through()
        return "250 OK"


# --- 1. webhook -------------------------------------------------------------------------------------------


async def test_kill_9_mid_burst_of_webhooks_every_alert_reaches_the_agency_system_under_one_delivery_id(
    stack: Stack,
) -> None:
    run, alerts = unique("wh"), stack["alerts"]
    system = AgencySystem(Valve(free=10, loop=asyncio.get_running_loop()))
    async with serve(system.app) as url, httpx.AsyncClient(timeout=10) as client:
        try:
            registered = await client.put(
                f"{alerts.url}/v1/alerts/webhook", json={"url": f"{url}/alerts"}, headers=stack.headers_for(LEAD)
            )
            assert registered.status_code == 200, registered.text
            secret = registered.json()["secret"]
            await eventually(lambda: alerts_know_the_lead_agency(stack), what="alerts to know the Sở GDĐT")

            before_kill = await assign_many(client, stack, run, range(20))
            await eventually(
                system.valve.stalled_mid_burst,
                timeout=30,
                what="the agency system to hold webhook sends open after answering some",
            )
            seen_at_kill = len(system.requests)
            alerts.kill()
            after_kill = await assign_many(client, stack, run, range(20, 30))  # consumed only after the restart
            system.valve.open()
            await restart(alerts)

            task_ids = before_kill + after_kill
            raised = await eventually(lambda: all_raised(stack, task_ids), timeout=60, what="every alert")
            assert_officer_and_head_alerted_once_per_task(raised, task_ids)
            rows = await eventually(
                lambda: settled_deliveries(stack, "webhook", task_ids, len(raised)),
                timeout=60,
                what="every webhook delivery to settle",
            )
        finally:
            system.valve.open()  # the receiver stops only once no request is held

    assert_none_failed(rows)
    assert {r["alert_id"] for r in rows} == {a["alert_id"] for a in raised}, "an alert has no webhook delivery"
    assert 0 < seen_at_kill < len(rows), "the kill did not land mid-burst"

    # Every delivery reached the agency system at least once, under its own id, carrying its alert.
    by_delivery = {str(r["delivery_id"]): r for r in rows}
    received = Counter(req.delivery_id for req in system.requests)
    assert set(received) == set(by_delivery), "a delivery never reached the agency system (or an unknown one did)"
    for req in system.requests:
        row = by_delivery[req.delivery_id]
        assert req.body["delivery_id"] == req.delivery_id
        assert req.body["alert_id"] == str(row["alert_id"]) and req.body["recipient_person_id"] == row["person_id"]
        assert signing.verify(secret, req.raw, req.signature, now=int(time.time())), "bad signature"
    # A repeat of an alert always carries the same delivery id, so the receiver can de-duplicate...
    ids_of_alert: dict[str, set[str]] = {}
    for req in system.requests:
        ids_of_alert.setdefault(req.body["alert_id"], set()).add(req.delivery_id)
    assert all(len(ids) == 1 for ids in ids_of_alert.values()), "an alert arrived under two delivery ids"
    # ...and the sends held open at the kill, never answered, were sent again after the restart.
    assert_sent_again([r.delivery_id for r in system.requests], system.valve.free, seen_at_kill)

    await assert_alert_delivered_once_per_delivery(stack, task_ids, "webhook", rows)


# --- 2. e-mail --------------------------------------------------------------------------------------------


class TestEmailOverSmtp:
    @pytest.fixture
    def mailbox(self) -> Any:
        """A real SMTP server (aiosmtpd, its own thread and event loop) on a free port."""
        mailbox, port = Mailbox(), free_port()
        controller = Controller(mailbox, hostname="127.0.0.1", port=port)
        mailbox.valve = Valve(free=10, loop=controller.loop)
        controller.start()
        try:
            yield mailbox, port
        finally:
            mailbox.valve.open()  # nothing may stay held while the server stops
            controller.stop()

    @pytest.fixture(autouse=True)
    def smtp_settings(self, mailbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        """Autouse, so set before ``stack`` starts the alerts process: e-mail goes to the test's server."""
        monkeypatch.setenv("DONDOC_ALERTS_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("DONDOC_ALERTS_SMTP_PORT", str(mailbox[1]))

    async def test_kill_9_mid_burst_of_emails_every_mail_arrives_under_one_message_id(
        self, stack: Stack, mailbox: Any
    ) -> None:
        box: Mailbox = mailbox[0]
        assert box.valve is not None
        run, alerts = unique("mail"), stack["alerts"]
        await eventually(lambda: alerts_know_the_lead_agency(stack), what="alerts to know the Sở GDĐT")
        async with httpx.AsyncClient(timeout=10) as client:
            before_kill = await assign_many(client, stack, run, range(20))
            await eventually(
                box.valve.stalled_mid_burst,
                timeout=30,
                what="the SMTP server to hold messages open after accepting some",
            )
            seen_at_kill = len(box.messages)
            alerts.kill()
            after_kill = await assign_many(client, stack, run, range(20, 30))
        box.valve.open()
        await restart(alerts)

        task_ids = before_kill + after_kill
        raised = await eventually(lambda: all_raised(stack, task_ids), timeout=60, what="every alert")
        assert_officer_and_head_alerted_once_per_task(raised, task_ids)
        rows = await eventually(
            lambda: settled_deliveries(stack, "email", task_ids, len(raised)),
            timeout=60,
            what="every e-mail delivery to settle",
        )
        assert_none_failed(rows)
        assert {r["alert_id"] for r in rows} == {a["alert_id"] for a in raised}, "an alert has no e-mail delivery"
        assert 0 < seen_at_kill < len(rows), "the kill did not land mid-burst"
        addresses = {r["person_id"]: r["target"] for r in rows}
        assert addresses == {
            OFFICER: "bd-sgddt-officer-1@demo.dondoc.invalid",
            HEAD: "bd-sgddt-head@demo.dondoc.invalid",
        }

        # An e-mail is told apart by its recipient and subject (each task has its own title).
        expected = {(r["target"], json.loads(r["body"])["subject"]): f"<{r['delivery_id']}@dondoc>" for r in rows}
        arrived: dict[tuple[str, str], list[str]] = {}
        for message in box.messages:
            arrived.setdefault((str(message["To"]), str(message["Subject"])), []).append(str(message["Message-ID"]))
        assert set(arrived) == set(expected), "an e-mail never arrived (or an unexpected one did)"
        for mail, message_ids in arrived.items():
            assert set(message_ids) == {expected[mail]}, f"{mail} arrived under another Message-ID: {message_ids}"
        assert_sent_again([str(m["Message-ID"]) for m in box.messages], box.valve.free, seen_at_kill)

        await assert_alert_delivered_once_per_delivery(stack, task_ids, "email", rows)


# --- 3. the live stream -----------------------------------------------------------------------------------


@dataclass
class Frame:
    id: int
    event: str
    data: dict[str, Any]


@dataclass
class StreamFollower:
    """Follows one person's alert stream as a browser's EventSource does: a frame counts once its blank line
    has arrived; when the stream breaks it reconnects, sending ``Last-Event-ID`` = the last frame's id."""

    url: str
    person_id: str
    headers: dict[str, str]
    frames: list[Frame] = field(default_factory=list)
    # (Last-Event-ID sent, frames held) at each accepted connection; status codes of refused ones.
    connections: list[tuple[int | None, int]] = field(default_factory=list)
    refusals: list[int] = field(default_factory=list)

    # A browser waits the server's ``retry:`` (2 s) before reconnecting; waiting less only makes the test faster.
    RECONNECT_DELAY_S = 0.2

    async def follow(self) -> None:
        async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, read=None)) as client:
            while True:
                last_id = self.frames[-1].id if self.frames else None
                headers = {**self.headers, "Accept": "text/event-stream"}
                if last_id is not None:
                    headers["Last-Event-ID"] = str(last_id)
                try:
                    async with client.stream(
                        "GET", f"{self.url}/v1/alerts/stream", params={"person_id": self.person_id}, headers=headers
                    ) as response:
                        if response.status_code != 200:
                            self.refusals.append(response.status_code)
                        else:
                            self.connections.append((last_id, len(self.frames)))
                            await self._read(response)
                except httpx.HTTPError:
                    pass  # the service died under the stream, or is not back yet
                await asyncio.sleep(self.RECONNECT_DELAY_S)

    async def _read(self, response: httpx.Response) -> None:
        fields: dict[str, str] = {}
        async for line in response.aiter_lines():
            if line == "":
                if "data" in fields and "id" in fields:
                    self.frames.append(
                        Frame(int(fields["id"]), fields.get("event", "message"), json.loads(fields["data"]))
                    )
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")

    def alerts_of(self, task_ids: Iterable[str]) -> list[Frame]:
        wanted = set(task_ids)
        return [f for f in self.frames if f.event == "alert" and f.data.get("task_id") in wanted]


@asynccontextmanager
async def following(followers: Iterable[StreamFollower]) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(f.follow()) for f in followers]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task


@dataclass
class Burst:
    """Agencies assigning one task after another in the background; once told of the kill, a few more
    (events the dead service must catch up on), then it stops."""

    client: httpx.AsyncClient
    stack: Stack
    run: str
    task_ids: list[str] = field(default_factory=list)
    killed: asyncio.Event = field(default_factory=asyncio.Event)

    async def assign(self, after_kill: int = 10, at_most: int = 300) -> None:
        remaining = after_kill
        for i in range(at_most):
            self.task_ids.append(await assign(self.client, self.stack, self.run, i))
            if self.killed.is_set():
                remaining -= 1
                if remaining == 0:
                    return


async def test_kill_9_mid_burst_sse_clients_resume_from_last_event_id_without_gap_or_duplicate(stack: Stack) -> None:
    run, alerts = unique("sse"), stack["alerts"]
    await eventually(lambda: alerts_know_the_lead_agency(stack), what="alerts to know the Sở GDĐT")
    # Reads of a person's alerts send the token of the person's agency (soon required).
    followers = [StreamFollower(alerts.url, person, stack.headers_for(LEAD)) for person in (OFFICER, HEAD)]
    async with following(followers), httpx.AsyncClient(timeout=10) as client:
        await eventually(lambda: _all_connected(followers), what="both streams to open")
        burst = Burst(client, stack, run)
        assigning = asyncio.create_task(burst.assign())

        async def streams_mid_burst() -> bool:
            return all(len(f.alerts_of(burst.task_ids)) >= 3 for f in followers)

        await eventually(streams_mid_burst, timeout=30, what="both streams to show some of the burst")
        assert not assigning.done(), f"the burst ended before the kill: {assigning}"
        alerts.kill()
        burst.killed.set()
        await assigning
        await restart(alerts)
        task_ids = burst.task_ids

        async def streams_complete() -> bool:
            return all(len(f.alerts_of(task_ids)) >= len(task_ids) for f in followers)

        await eventually(streams_complete, timeout=60, what="both streams to show every assignment")
        inboxes = {f.person_id: await _inbox(client, stack, f.person_id) for f in followers}

    for f in followers:
        ids = [frame.id for frame in f.frames]
        assert ids == sorted(set(ids)), f"{f.person_id}: a frame came twice or out of order: {ids}"
        table = await stack.fetch("alerts", "SELECT seq FROM stream WHERE person_id = $1 ORDER BY seq", f.person_id)
        assert ids == [r["seq"] for r in table], f"{f.person_id}: the frames received differ from the stream table"

        per_task = Counter(frame.data["task_id"] for frame in f.alerts_of(task_ids))
        assert per_task == Counter(task_ids), f"{f.person_id}: an assignment's alert is missing or doubled"
        assert all(frame.data["recipient_person_id"] == f.person_id for frame in f.frames)
        assert {frame.data["alert_id"] for frame in f.alerts_of(task_ids)} == inboxes[f.person_id]

        # The stream broke mid-burst and the client resumed where it was, as EventSource does.
        assert not f.refusals, f"{f.person_id}: the stream refused the reader: {f.refusals}"
        assert len(f.connections) >= 2, f"{f.person_id}: the stream never broke"
        resumed_from, held = f.connections[1]
        assert resumed_from is not None and resumed_from == f.frames[held - 1].id
        before_break = [x for x in f.frames[:held] if x.event == "alert" and x.data["task_id"] in task_ids]
        assert 0 < len(before_break) < len(task_ids), f"{f.person_id}: the break did not fall mid-burst"


async def _all_connected(followers: list[StreamFollower]) -> bool:
    return all(f.connections for f in followers)


async def _inbox(client: httpx.AsyncClient, stack: Stack, person_id: str) -> set[str]:
    """Alert ids of the person's inbox (GET /v1/alerts, with the token of the person's agency)."""
    response = await client.get(
        f"{stack['alerts'].url}/v1/alerts",
        params={"person_id": person_id, "limit": 1000},
        headers=stack.headers_for(LEAD),
    )
    assert response.status_code == 200, response.text
    return {a["alert_id"] for a in response.json()["alerts"]}
