"""The outbox and its relay, broken on purpose against the real broker and database
(invariants: services/runtime/outbox.py, relay.py; docs/reliability.md).

Each test has its own schema and relays; events go to a topic of this module (three partitions,
keyed by task id like dondoc.task-events), so what a test reads is only what its relay published."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from prometheus_client import REGISTRY

from events.clock import VN_TZ, ManualClock
from events.envelope import Actor, Envelope, deterministic_id, new_envelope
from events.tasks import ProgressReported
from services.runtime import db, outbox
from services.runtime.consuming import Consumer, Record
from services.runtime.kafka_config import producer_options
from services.runtime.relay import OutboxRelay
from services.runtime.settings import Settings
from services.runtime.unit_of_work import UnitOfWork
from tests.conftest import eventually
from tests.integration.kafka_tools import TopicReader, create_topic, unique_topic

pytestmark = pytest.mark.integration

TOPIC = unique_topic("outbox")
PARTITIONS = 3
NOW = datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ)
ACTOR = Actor(agency_id="bd-sgddt", person_id="nguyễn-văn-an")


class Reported(ProgressReported):
    """A ProgressReported that travels on this module's topic (the registry still decodes it)."""

    topic = TOPIC


def event(task_id: str, seq: int) -> Envelope:
    return new_envelope(
        Reported(percent=seq % 101, note=f"Đã xong bước {seq}"),
        event_id=deterministic_id("test-outbox", task_id, seq),
        occurred_at=NOW,
        producer="test-outbox",
        actor=ACTOR,
        task_id=task_id,
    )


def new_task() -> str:
    return f"task-{uuid.uuid4().hex[:8]}"


def seq_of(value: bytes) -> int:
    return int(json.loads(value)["payload"]["note"].rsplit(" ", 1)[1])


class CountingProducer(AIOKafkaProducer):
    """Counts what it was asked to send: tells which relay published."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sent = 0

    async def send(self, *args: Any, **kwargs: Any) -> Any:
        self.sent += 1
        return await super().send(*args, **kwargs)


class DiesAfterAck(CountingProducer):
    """Kafka acknowledges the batch, then the relay 'dies' before it marks the rows published."""

    def __init__(self, *, deaths: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deaths = deaths

    async def send(self, *args: Any, **kwargs: Any) -> Any:
        delivered = await super().send(*args, **kwargs)
        if self.deaths <= 0:
            return delivered
        self.deaths -= 1

        async def acked_then_dead() -> Any:
            await delivered
            raise ConnectionResetError("relay died after Kafka's ack, before marking the row published")

        return asyncio.ensure_future(acked_then_dead())


@dataclass
class Outbox:
    """One service schema with the runtime's tables, and the relays started on it."""

    kafka: Settings
    database_url: str
    schema: str
    pool: asyncpg.Pool
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    closing: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    async def producer(self, cls: type[CountingProducer] = CountingProducer, **kw: Any) -> CountingProducer:
        producer = cls(**producer_options(self.kafka), enable_idempotence=True, acks="all", linger_ms=5, **kw)
        await producer.start()
        self.closing.append(producer.stop)
        return producer

    async def start_relay(
        self, producer: CountingProducer | None = None, *, own_pool: bool = False
    ) -> asyncio.Task[None]:
        """A relay as a replica runs it: its own producer, and its own pool if ``own_pool``."""
        pool = self.pool
        if own_pool:
            pool = await db.create_pool(self.database_url, self.schema, min_size=1, max_size=3)
            self.closing.append(pool.close)
        relay = OutboxRelay(pool, producer or await self.producer(), self.schema, poll_interval_s=0.1)
        task = asyncio.create_task(relay.run())
        self.tasks.append(task)
        return task

    async def commit(self, *events: Envelope) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            for e in events:
                await outbox.enqueue(conn, e, schema=self.schema)

    async def all_marked_published(self) -> bool:
        return not await self.pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")


@pytest.fixture(scope="module")
async def topic(infra: Any) -> str:
    return await create_topic(infra.kafka, TOPIC, PARTITIONS)


@pytest.fixture
async def box(infra: Any, topic: str) -> AsyncIterator[Outbox]:
    schema = f"t_outbox_{uuid.uuid4().hex[:10]}"
    pool = await db.create_pool(infra.database_url, schema, min_size=1, max_size=6)
    await db.migrate(pool, schema, {"runtime": db.RUNTIME_MIGRATIONS})
    await pool.execute("CREATE TABLE probe_state (task_id text PRIMARY KEY, seq int NOT NULL)")
    box = Outbox(infra.kafka, infra.database_url, schema, pool)
    try:
        yield box
    finally:
        for task in box.tasks:
            task.cancel()
        await asyncio.gather(*box.tasks, return_exceptions=True)
        for close in reversed(box.closing):
            await close()
        await pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await pool.close()


@pytest.fixture
async def topic_reader(infra: Any, topic: str) -> AsyncIterator[TopicReader]:
    async with TopicReader(infra.kafka, topic, PARTITIONS) as reader:
        yield reader


def ids_on(reader: TopicReader) -> Counter[str]:
    return Counter(json.loads(r.value)["event_id"] for r in reader.records)


def seqs_of(reader: TopicReader, task_id: str) -> list[int]:
    """The task's events in the order they are on the topic (one key, one partition)."""
    return [seq_of(r.value) for r in reader.records if r.key == task_id.encode()]


async def published(reader: TopicReader, *events: Envelope, copies: int = 1) -> Counter[str]:
    """Polls until each of ``events`` is on the topic ``copies`` times; returns every event id seen."""

    async def check() -> Counter[str]:
        await reader.read()
        seen = ids_on(reader)
        missing = [e for e in events if seen[str(e.event_id)] < copies]
        assert not missing, f"{len(missing)} of {len(events)} not there yet"
        return seen

    return await eventually(check, timeout=15, what=f"{len(events)} event(s) on {reader.topic}")


async def test_an_event_exists_only_if_its_transaction_committed(box: Outbox, topic_reader: TopicReader) -> None:
    await box.start_relay()
    task = new_task()
    lost, kept = event(task, 1), event(task, 2)

    with pytest.raises(RuntimeError, match="state change failed"):
        async with box.pool.acquire() as conn, conn.transaction():
            await conn.execute("INSERT INTO probe_state VALUES ($1, 1)", task)
            await UnitOfWork(conn, "test-outbox", box.schema, ManualClock(NOW)).emit(
                lost.payload, actor=ACTOR, task_id=task, id_parts=("lost",)
            )
            raise RuntimeError("the state change failed after the event was written")
    async with box.pool.acquire() as conn, conn.transaction():
        await conn.execute("INSERT INTO probe_state VALUES ($1, 2)", task)
        await outbox.enqueue(conn, kept, schema=box.schema)

    seen = await published(topic_reader, kept)
    # The rolled-back row took the lower id: had it existed, the relay would have published it first.
    assert seqs_of(topic_reader, task) == [2]
    assert seen[str(kept.event_id)] == 1
    assert await box.pool.fetchval("SELECT count(*) FROM outbox") == 1
    assert await box.pool.fetchval("SELECT seq FROM probe_state WHERE task_id = $1", task) == 2


async def test_a_row_that_commits_after_a_higher_id_was_published_is_still_published(
    box: Outbox, topic_reader: TopicReader
) -> None:
    """Insert order is not commit order: a relay tailing a cursor (max id published) would skip A."""
    await box.start_relay()
    task = new_task()
    a, b, c = event(task, 1), event(task, 2), event(new_task(), 3)

    async with box.pool.acquire() as conn_a:
        slow = conn_a.transaction()
        await slow.start()
        await outbox.enqueue(conn_a, a, schema=box.schema)
        await box.commit(b)
        await published(topic_reader, b)
        await box.commit(c)  # and the relay moves on past A's id, round after round
        await published(topic_reader, c)
        assert str(a.event_id) not in ids_on(topic_reader)
        await slow.commit()

    await published(topic_reader, a)
    ids = dict(await box.pool.fetch("SELECT event_id, id FROM outbox"))
    assert ids[a.event_id] < ids[b.event_id] < ids[c.event_id]
    assert seqs_of(topic_reader, task) == [2, 1]  # one task's events in commit order: B, then A
    await eventually(box.all_marked_published, what="every row marked published")


async def test_a_relay_dying_between_the_ack_and_the_mark_republishes_and_the_inbox_applies_once(
    box: Outbox, topic_reader: TopicReader, settings: Any
) -> None:
    await box.start_relay(await box.producer(DiesAfterAck, deaths=1))
    task = new_task()
    e = event(task, 1)
    await box.commit(e)

    seen = await published(topic_reader, e, copies=2)  # once before the "crash", once after the restart
    await eventually(box.all_marked_published, what="the row marked published after the retry")
    assert seen[str(e.event_id)] == 2

    # A consumer with an inbox (its own schema) is handed both copies, as Kafka would deliver them.
    schema = f"t_inbox_{uuid.uuid4().hex[:10]}"
    pool = await db.create_pool(settings.database_url, schema, min_size=1, max_size=2)
    try:
        await db.migrate(pool, schema, {"runtime": db.RUNTIME_MIGRATIONS})
        await pool.execute("CREATE TABLE effects (event_id uuid NOT NULL, note text NOT NULL)")

        async def apply(envelope: Envelope, uow: UnitOfWork) -> None:
            assert isinstance(envelope.payload, ProgressReported)
            await uow.conn.execute("INSERT INTO effects VALUES ($1, $2)", envelope.event_id, envelope.payload.note)

        consumer = Consumer(schema, schema, {"ProgressReported": apply}, pool, await box.producer(), ManualClock(NOW))
        both = [
            Record(r.topic, r.partition, r.offset, r.key, r.value)
            for r in topic_reader.records
            if r.key == task.encode()
        ]
        assert [await consumer.handle(record) for record in both] == ["handled", "duplicate"]
        assert await pool.fetch("SELECT event_id, note FROM effects") == [(e.event_id, "Đã xong bước 1")]
        assert await pool.fetchval("SELECT count(*) FROM inbox") == 1
    finally:
        await pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await pool.close()


async def test_two_relays_on_one_schema_publish_each_event_once(box: Outbox, topic_reader: TopicReader) -> None:
    first, second = await box.producer(), await box.producer()
    relays = {
        await box.start_relay(first, own_pool=True): first,
        await box.start_relay(second, own_pool=True): second,
    }
    tasks = [new_task() for _ in range(4)]
    batch = [event(t, seq) for seq in range(1, 6) for t in tasks]
    for i in range(0, len(batch), 4):
        await box.commit(*batch[i : i + 4])

    seen = await published(topic_reader, *batch)
    assert all(seen[str(e.event_id)] == 1 for e in batch), seen
    senders = [p for p in relays.values() if p.sent]
    assert len(senders) == 1, "both relays published: the advisory lock did not hold"
    assert senders[0].sent == len(batch)

    # The leader goes away: the standby takes the lock and carries on, still once per event.
    leader = next(t for t, p in relays.items() if p.sent)
    standby = next(p for t, p in relays.items() if t is not leader)
    leader.cancel()
    await asyncio.gather(leader, return_exceptions=True)
    later = [event(t, 6) for t in tasks]
    await box.commit(*later)
    seen = await published(topic_reader, *later)
    assert all(seen[str(e.event_id)] == 1 for e in [*batch, *later]), seen
    assert standby.sent == len(later)


async def test_events_of_one_task_reach_the_topic_in_commit_order(box: Outbox, topic_reader: TopicReader) -> None:
    """Writers of one task serialise on its row (as the services do, SELECT … FOR UPDATE) and the
    relay publishes while they commit: the task's partition shows its events in commit order."""
    await box.start_relay()
    task, others = new_task(), [new_task() for _ in range(3)]
    await box.pool.executemany("INSERT INTO probe_state VALUES ($1, 0)", [(t,) for t in [task, *others]])

    async def write(task_id: str) -> Envelope:
        async with box.pool.acquire() as conn, conn.transaction():
            seq = await conn.fetchval("UPDATE probe_state SET seq = seq + 1 WHERE task_id = $1 RETURNING seq", task_id)
            e = event(task_id, seq)
            await outbox.enqueue(conn, e, schema=box.schema)
            return e

    writes = [write(task) for _ in range(30)] + [write(t) for t in others for _ in range(5)]
    events = await asyncio.gather(*writes)
    await published(topic_reader, *events)

    assert len({r.partition for r in topic_reader.records if r.key == task.encode()}) == 1
    assert seqs_of(topic_reader, task) == list(range(1, 31))
    for other in others:
        assert seqs_of(topic_reader, other) == [1, 2, 3, 4, 5]


async def test_a_graceful_stop_publishes_what_is_committed_and_leaves_nothing_to_republish(
    box: Outbox, topic_reader: TopicReader
) -> None:
    events = [event(new_task(), seq) for seq in range(1200)]  # several batches of the relay's 500
    await box.commit(*events)
    relay = OutboxRelay(box.pool, await box.producer(), box.schema, poll_interval_s=0.1)
    running = asyncio.create_task(relay.run())
    box.tasks.append(running)

    async def some_published() -> bool:
        assert await box.pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"), "none yet"
        return True

    await eventually(some_published, what="the relay's first batch")
    relay.stop()  # mid-way through the backlog
    await asyncio.wait_for(running, 30)  # returns by itself: nobody cancels it

    assert await box.all_marked_published()
    seen = await published(topic_reader, *events)
    assert all(seen[str(e.event_id)] == 1 for e in events)  # nothing left for a restart to re-publish


# --- An emit is stored or raises (issue 12 items 3 and 8) ----------------------------------------------


async def test_an_emit_whose_id_holds_another_event_raises_and_the_same_event_again_is_a_retry(box: Outbox) -> None:
    from services.runtime.unit_of_work import NotEnqueued

    task_id = new_task()

    async def emit(note: str) -> Envelope:
        async with box.pool.acquire() as conn, conn.transaction():
            uow = UnitOfWork(conn, "test-outbox", box.schema, ManualClock(NOW))
            return await uow.emit(Reported(percent=40, note=note), actor=ACTOR, task_id=task_id, id_parts=("k-1",))

    first = await emit("Đã khảo sát")
    assert (await emit("Đã khảo sát")).event_id == first.event_id  # the same cause handled twice: no loss
    with pytest.raises(NotEnqueued, match="another content"):
        await emit("Gần xong")  # another event under the same id would be dropped by every inbox
    stored = await box.pool.fetch("SELECT value FROM outbox WHERE key = $1", task_id)
    assert [json.loads(bytes(r["value"]))["payload"]["note"] for r in stored] == ["Đã khảo sát"]


async def test_an_event_too_large_for_kafka_never_reaches_the_outbox(box: Outbox) -> None:
    from events.limits import EVENT_MAX_BYTES
    from services.runtime.limits import EventTooLarge

    task_id = new_task()
    giant = new_envelope(
        Reported.model_construct(percent=1, note="x" * EVENT_MAX_BYTES),  # as a bug past the field limits would
        event_id=deterministic_id("test-outbox", task_id, "giant"),
        occurred_at=NOW,
        producer="test-outbox",
        actor=ACTOR,
        task_id=task_id,
    )
    with pytest.raises(EventTooLarge, match=f"at most {EVENT_MAX_BYTES} bytes"):
        await box.commit(giant)
    assert await box.pool.fetchval("SELECT count(*) FROM outbox WHERE key = $1", task_id) == 0


async def test_an_oversized_row_is_parked_and_later_events_still_reach_kafka(
    box: Outbox, topic_reader: TopicReader
) -> None:
    """A 5 MB row (say a task whose description slipped past every other limit) is set aside with its
    reason; the events committed after it — a token revocation, any agency's — are published."""
    task = new_task()
    huge = event(task, 1)
    async with box.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO outbox (event_id, topic, key, value, headers) VALUES ($1, $2, $3, $4, '[]')",
            huge.event_id, TOPIC, task, b"x" * (5 * 1024 * 1024),
        )  # fmt: skip
    after = event(task, 2)
    await box.commit(after)
    await box.start_relay()

    await published(topic_reader, after)

    async def parked() -> Any:
        return await box.pool.fetchrow(
            "SELECT park_reason FROM outbox WHERE event_id = $1 AND parked_at IS NOT NULL", huge.event_id
        )

    assert "bytes" in (await eventually(parked, what="the oversized row to be parked"))["park_reason"]
    assert str(huge.event_id) not in ids_on(topic_reader)
    assert REGISTRY.get_sample_value("dondoc_outbox_parked", {"schema": box.schema}) == 1


class SkipsItsSequence(CountingProducer):
    """After its first delivery, jumps its sequence on every partition ahead, as a producer whose
    batches the broker lost does (issue 17: the broker stopped and came back minutes later): the broker
    then answers every batch with OutOfOrderSequenceNumber (Kafka error 45)."""

    async def send(self, *args: Any, **kwargs: Any) -> Any:
        delivered = await super().send(*args, **kwargs)
        if self.sent == 1:
            await delivered
            manager = self._txn_manager
            assert manager is not None
            for partition in range(PARTITIONS):
                manager.increment_sequence_number(TopicPartition(TOPIC, partition), 5)
        return delivered


async def test_a_relay_whose_producer_kafka_refuses_for_a_sequence_gap_heals_with_a_fresh_producer(
    box: Outbox, topic_reader: TopicReader
) -> None:
    made: list[CountingProducer] = []

    async def factory() -> AIOKafkaProducer:
        producer = await box.producer(SkipsItsSequence if not made else CountingProducer)
        made.append(producer)
        return producer

    relay = OutboxRelay(box.pool, factory, box.schema, poll_interval_s=0.1)
    box.tasks.append(asyncio.create_task(relay.run()))
    task = new_task()
    first = event(task, 1)
    await box.commit(first)
    await published(topic_reader, first)
    later = [event(task, seq) for seq in range(2, 12)]
    await box.commit(*later)

    await published(topic_reader, *later)
    assert relay.renewals == 1 and len(made) == 2
    assert seqs_of(topic_reader, task) == list(range(1, 12))  # nothing lost, doubled or out of order
    assert await box.all_marked_published()
