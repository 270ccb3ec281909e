"""A relay whose producer hits an error no idempotent producer recovers from replaces it and publishes the
rows again (issue 17 fix 1: after a broker outage assignment's relay failed every second with
OutOfOrderSequenceNumber, 251 events unpublished, until someone restarted the service)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, OutOfOrderSequenceNumber, UnknownProducerId

from services.runtime.relay import OutboxRelay
from tests.conftest import eventually


class FakeOutbox:
    """The relay's side of PostgreSQL: an outbox table in memory, on one connection."""

    def __init__(self, rows: int) -> None:
        self.rows = {
            i: {"id": i, "topic": "t", "key": f"k{i}", "value": b"v", "headers": json.dumps([]), "published": False}
            for i in range(1, rows + 1)
        }

    @asynccontextmanager
    async def _conn(self) -> Any:
        yield self

    def acquire(self) -> Any:
        return self._conn()

    async def fetchval(self, sql: str, *args: Any) -> Any:
        if "advisory_lock" in sql:
            return True
        return sum(1 for r in self.rows.values() if not r["published"])

    async def fetch(self, sql: str, limit: int) -> list[dict[str, Any]]:
        return [r for r in self.rows.values() if not r["published"]][:limit]

    async def execute(self, sql: str, *args: Any) -> None:
        if sql.startswith("UPDATE outbox SET published_at"):
            for i in args[0]:
                self.rows[i]["published"] = True

    async def add_listener(self, *_: Any) -> None: ...

    async def remove_listener(self, *_: Any) -> None: ...

    def unpublished(self) -> int:
        return sum(1 for r in self.rows.values() if not r["published"])


class FakeProducer:
    """Fails every delivery with ``error`` (as aiokafka does for every batch after a sequence error), or
    delivers everything when ``error`` is None."""

    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.sent: list[str] = []
        self.stopped = False

    async def send(self, topic: str, *, value: bytes, key: bytes, headers: Any) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.error is None:
            self.sent.append(key.decode())
            future.set_result(None)
        else:
            future.set_exception(self.error)
        return future

    async def stop(self) -> None:
        self.stopped = True


class Factory:
    def __init__(self, *errors: Exception | None) -> None:
        self.errors = list(errors)
        self.made: list[FakeProducer] = []

    async def __call__(self) -> AIOKafkaProducer:
        producer = FakeProducer(self.errors.pop(0) if self.errors else None)
        self.made.append(producer)
        return cast(AIOKafkaProducer, producer)


async def _run_until_published(
    outbox: FakeOutbox, relay: OutboxRelay, meanwhile: Callable[[], Awaitable[None]] | None = None
) -> None:
    task = asyncio.create_task(relay.run())
    try:
        if meanwhile is not None:
            await meanwhile()

        async def all_published() -> bool:
            return outbox.unpublished() == 0

        await eventually(all_published, timeout=5, interval=0.01, what="every row published")
    finally:
        relay.stop()
        await asyncio.wait_for(task, 5)


async def test_a_sequence_error_makes_the_relay_replace_its_producer_and_publish_every_row() -> None:
    outbox = FakeOutbox(rows=7)
    factory = Factory(OutOfOrderSequenceNumber())
    relay = OutboxRelay(cast(asyncpg.Pool, outbox), factory, "svc", poll_interval_s=0.01)
    await _run_until_published(outbox, relay)
    broken, fresh = factory.made[0], factory.made[1]
    assert broken.stopped and not broken.sent
    assert sorted(fresh.sent) == sorted(f"k{i}" for i in range(1, 8))
    assert relay.renewals == 1
    assert fresh.stopped  # the relay owns the producers it made: its end closes the last one


async def test_an_unknown_producer_id_is_fatal_too() -> None:
    outbox = FakeOutbox(rows=2)
    factory = Factory(UnknownProducerId(), UnknownProducerId())
    relay = OutboxRelay(cast(asyncpg.Pool, outbox), factory, "svc", poll_interval_s=0.01)
    await _run_until_published(outbox, relay)
    assert relay.renewals == 2 and len(factory.made) == 3


async def test_a_broker_away_is_retried_with_the_same_producer_not_replaced() -> None:
    outbox = FakeOutbox(rows=3)
    factory = Factory(KafkaConnectionError())
    relay = OutboxRelay(cast(asyncpg.Pool, outbox), factory, "svc", poll_interval_s=0.01)

    async def broker_back_after_a_failed_round() -> None:
        async def failed() -> bool:
            return relay.stuck(0) is not None

        await eventually(failed, timeout=5, interval=0.01, what="a failed round")
        factory.made[0].error = None

    await _run_until_published(outbox, relay, broker_back_after_a_failed_round)
    assert relay.renewals == 0 and len(factory.made) == 1


async def test_a_producer_that_cannot_be_made_is_retried_after_the_usual_back_off() -> None:
    outbox = FakeOutbox(rows=1)
    calls = 0

    async def flaky() -> AIOKafkaProducer:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 1)]")
        return cast(AIOKafkaProducer, FakeProducer(None))

    relay = OutboxRelay(cast(asyncpg.Pool, outbox), flaky, "svc", poll_interval_s=0.01)
    await _run_until_published(outbox, relay)
    assert calls == 3
