"""Helpers of the progress and alerts integration tests: publish events as another service would, read
a topic, issue tokens, serve an app on a real port (SSE needs one: httpx's ASGI transport buffers
whole responses), read a server-sent-event stream, query a service's schema."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import asyncpg
import httpx
import uvicorn
from aiokafka import AIOKafkaProducer

from events.codec import decode, to_record
from events.deadlines import Deadline, parse_deadline_or_date
from events.directory import AgencyChanged, PersonChanged
from events.envelope import Actor, Envelope, EventPayload, deterministic_id, new_envelope
from events.tasks import SourceDocument, TaskAssigned
from services.runtime import auth
from services.runtime.kafka_config import producer_options
from services.runtime.settings import Settings
from tests.conftest import free_port, unique
from tests.integration.kafka_tools import TopicReader

DOC = SourceDocument(number="131/NQ-CP", issued_on=date(2022, 10, 6), issuer="Chính phủ")


def deadline(text: str, issued: date = DOC.issued_on) -> Deadline:
    return parse_deadline_or_date(text, issued)


def task_assigned(
    *,
    officer: str | None,
    lead: str = "bd-sgddt",
    assigning: str = "ubnd-bd",
    coordinating: tuple[str, ...] = (),
    due: str = "Tháng 11/2022",
    key_task: bool = False,
    parent: str | None = None,
    title: str = "Triển khai thanh toán học phí trực tuyến",
) -> TaskAssigned:
    return TaskAssigned(
        code=unique("131/NQ-CP#"),
        title=title,
        source_document=DOC,
        assigning_agency_id=assigning,
        lead_agency_id=lead,
        coordinating_agency_ids=coordinating,
        officer_in_charge_id=officer,
        deadline=deadline(due),
        key_task=key_task,
        parent_task_id=parent,
    )


def envelope(
    payload: EventPayload,
    *,
    task_id: str | None,
    at: datetime,
    agency: str = "ubnd-bd",
    producer: str = "assignment",
    event_id: uuid.UUID | None = None,
) -> Envelope:
    return new_envelope(
        payload,
        event_id=event_id or uuid.uuid4(),
        occurred_at=at,
        producer=producer,
        actor=Actor(agency_id=agency),
        task_id=task_id,
    )


async def publish(kafka: Settings, *envelopes: Envelope, key: str | None = None) -> None:
    producer = AIOKafkaProducer(**producer_options(kafka), enable_idempotence=True)
    await producer.start()
    try:
        for env in envelopes:
            record = to_record(env, key)
            await producer.send_and_wait(record.topic, record.value, key=record.key, headers=list(record.headers))
    finally:
        await producer.stop()


async def assign(kafka: Settings, at: datetime, **kwargs: Any) -> tuple[str, TaskAssigned]:
    task_id = unique("t")
    payload = task_assigned(**kwargs)
    await publish(kafka, envelope(payload, task_id=task_id, at=at, agency=payload.assigning_agency_id))
    return task_id, payload


async def seed_directory(
    kafka: Settings, at: datetime, agencies: list[dict[str, Any]], people: list[dict[str, Any]]
) -> None:
    """Publish AgencyChanged/PersonChanged as the assignment service does (whole state, keyed by id)."""
    envs = [
        envelope(AgencyChanged(**{"version": 1, "level": "so-nganh", "parent_id": None, **a}), task_id=None, at=at)
        for a in agencies
    ]
    envs += [envelope(PersonChanged(version=1, full_name=p["person_id"], **p), task_id=None, at=at) for p in people]
    producer = AIOKafkaProducer(**producer_options(kafka), enable_idempotence=True)
    await producer.start()
    try:
        for env in envs:
            p = env.payload
            key = getattr(p, "agency_id", None) if isinstance(p, AgencyChanged) else getattr(p, "person_id", None)
            record = to_record(env, key)
            await producer.send_and_wait(record.topic, record.value, key=record.key, headers=list(record.headers))
    finally:
        await producer.stop()


def bearer(settings: Any, agency_id: str) -> dict[str, str]:
    token, _ = auth.issue(settings.token_secret, agency_id, datetime.now().astimezone())
    return {"Authorization": f"Bearer {token}"}


class Events:
    """The events of one task on a topic, decoded, as far as they have arrived."""

    def __init__(self, reader: TopicReader) -> None:
        self._reader = reader

    async def records(self) -> list[Any]:
        return await self._reader.read()

    async def of(self, task_id: str, event_type: str | None = None) -> list[Envelope]:
        """As a consumer's inbox sees them: a re-published event (same id) counts once."""
        found: dict[uuid.UUID, Envelope] = {}
        for r in await self._reader.read():
            if r.key == task_id.encode():
                event = decode(r.value)
                found.setdefault(event.event_id, event)
        return [e for e in found.values() if event_type is None or e.event_type == event_type]


@asynccontextmanager
async def topic_events(kafka: Settings, topic: str, partitions: int) -> AsyncIterator[Events]:
    async with TopicReader(kafka, topic, partitions) as reader:
        yield Events(reader)


async def fetch(settings: Any, schema: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": schema})
    try:
        return [dict(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve an app whose lifespan already runs (``run_service``) on a real local port."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):  # up to 10 s for the socket to listen
            if server.started:
                break
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass
class SseEvent:
    id: int | None
    event: str
    data: dict[str, Any]


@dataclass
class SseStream:
    """Reads a server-sent-event stream in the background; ``events`` grows as they arrive. A refused
    stream (401/403) raises ``httpx.HTTPStatusError`` on entering."""

    url: str
    last_event_id: int | None = None
    headers: dict[str, str] = field(default_factory=dict)  # e.g. bearer(settings, agency): reads need a token
    events: list[SseEvent] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        headers = dict(self.headers)
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = str(self.last_event_id)
        async with (
            httpx.AsyncClient(timeout=None) as client,
            client.stream("GET", self.url, headers=headers) as r,
        ):
            r.raise_for_status()
            self.connected.set()
            fields: dict[str, str] = {}
            async for line in r.aiter_lines():
                if line == "":
                    if "data" in fields:
                        self.events.append(
                            SseEvent(
                                int(fields["id"]) if "id" in fields else None,
                                fields.get("event", "message"),
                                json.loads(fields["data"]),
                            )
                        )
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")

    async def __aenter__(self) -> SseStream:
        self._task = asyncio.create_task(self._read())
        connected = asyncio.create_task(self.connected.wait())
        await asyncio.wait({self._task, connected}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        connected.cancel()
        if self._task.done():
            self._task.result()  # the stream was refused or failed: say why
        if not self.connected.is_set():
            self._task.cancel()
            raise TimeoutError(f"{self.url} did not answer within 10 s")
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task

    def of(self, task_id: str, event: str | None = None) -> list[SseEvent]:
        return [e for e in self.events if e.data.get("task_id") == task_id and (event is None or e.event == event)]


def same_id(*parts: object) -> uuid.UUID:
    return deterministic_id("test", *parts)
