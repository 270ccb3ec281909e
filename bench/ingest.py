"""``dondoc bench ingest``: how fast each consuming service applies a backlog, against the raw ceiling.

One run, on its own Kafka and PostgreSQL (``bench.alerts.isolated_infra``):

1. publish the backlog (``bench.mix``) while no service runs;
2. the raw ceiling over the same records: aiokafka ``getmany`` + ``events.codec.decode``, and asyncpg
   ``copy_records_to_table`` of as many rows;
3. each consuming service in turn, started cold as a real process, timed from ready until its
   consumer group's lag is 0, with the CPU seconds it, PostgreSQL and Kafka spent meanwhile and
   its peak RSS.

Rates are records applied per second after the service was ready (records it took while starting
are left out of both the count and the time). Other work on the machine moves every figure; the
ratios within one run are what compare.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.alerts import Service, isolated_infra
from bench.mix import backlog
from deploy import stack
from events.codec import decode, to_record
from events.topics import DIRECTORY, TASK_EVENTS, TOPICS
from services.runtime.kafka_config import client_options, producer_options
from services.runtime.settings import Settings


def _consumers() -> dict[str, tuple[str, ...]]:
    from services.registry import definition

    return {name: tuple(definition(name).topics) for name in ("progress", "alerts", "reporting", "audit")}


@dataclass
class Phase:
    """What the caller shows: a phase's name and how far it got (done of total)."""

    start: Callable[[str, int], None] = lambda name, total: None
    advance: Callable[[int], None] = lambda done: None


@dataclass
class Drain:
    service: str
    records: int
    seconds: float
    cpu_service_s: float
    cpu_postgres_s: float
    cpu_kafka_s: float
    rss_mb: float
    dead_letters: int

    @property
    def per_s(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


@dataclass
class Replay:
    """``dondoc replay reporting`` over the same log, into its shadow schema, and its verdict."""

    records: int
    seconds: float
    identical: bool

    @property
    def per_s(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


@dataclass
class Result:
    events: int
    raw_consume_per_s: float = 0.0
    raw_copy_per_s: float = 0.0
    publish_per_s: float = 0.0
    relay_per_s: float = 0.0
    drains: list[Drain] = field(default_factory=list)
    replay: Replay | None = None
    load: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "raw_consume_per_s": round(self.raw_consume_per_s),
            "raw_copy_per_s": round(self.raw_copy_per_s),
            "publish_per_s": round(self.publish_per_s),
            "relay": {
                "events_per_s": round(self.relay_per_s),
                "ratio_to_raw_producer": round(self.relay_per_s / self.publish_per_s, 3)
                if self.publish_per_s
                else None,
            },
            "load_average": self.load,
            "replay_reporting": None
            if self.replay is None
            else {
                "records": self.replay.records,
                "events_per_s": round(self.replay.per_s, 1),
                "ratio": round(self.replay.per_s / self.raw_consume_per_s, 4) if self.raw_consume_per_s else None,
                "identical_to_live": self.replay.identical,
            },
            "services": {
                d.service: {
                    "records": d.records,
                    "events_per_s": round(d.per_s, 1),
                    "ratio": round(d.per_s / self.raw_consume_per_s, 4) if self.raw_consume_per_s else None,
                    "cpu_service_s": round(d.cpu_service_s, 1),
                    "cpu_postgres_s": round(d.cpu_postgres_s, 1),
                    "cpu_kafka_s": round(d.cpu_kafka_s, 1),
                    "rss_mb": round(d.rss_mb),
                    "dead_letters": d.dead_letters,
                }
                for d in self.drains
            },
        }


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def run(events: int, services: tuple[str, ...], home: Path | None, phase: Phase) -> Result:
    from services.runtime import logs

    # The replay runs in this process: its logs go to stderr and only warnings, so --json stays clean.
    logs.configure("bench", "WARNING", "console")
    result = Result(events=events)
    consumers = _consumers()
    phase.start("starting Kafka and PostgreSQL", 0)
    with isolated_infra(home) as (bootstrap, database_url, bench_home):
        settings = stack.kafka_admin(bootstrap).model_copy(update={"database_url": database_url})
        env = {
            **os.environ,
            "DONDOC_KAFKA_BOOTSTRAP": bootstrap,
            "DONDOC_DATABASE_URL": database_url,
            "DONDOC_LOG_FORMAT": "json",
            "DONDOC_LOG_LEVEL": "WARNING",
        }
        result.publish_per_s = await _publish(settings, backlog(events), phase)
        result.raw_consume_per_s = await _raw_consume(settings, events, phase)
        result.raw_copy_per_s = await _raw_copy(database_url, events, phase)
        for name in services:
            drain = await _drain(name, consumers[name], settings, env, bench_home, phase)
            result.drains.append(drain)
        if "reporting" in services:
            result.replay = await _replay_reporting(settings, phase)
        # Last: the relay's rows go to the same topics, after everything above has read them.
        try:
            result.relay_per_s = await _relay(settings, backlog(events), phase)
        except Exception as exc:  # the figures above stand without it
            logs.get_logger(__name__).warning("the relay could not be timed", error=repr(exc))
        result.load = load_average()
    return result


async def _publish(settings: Settings, envelopes: list[Any], phase: Phase) -> float:
    phase.start(f"publishing {len(envelopes)} events", len(envelopes))
    producer = AIOKafkaProducer(
        **client_options(settings), enable_idempotence=True, acks="all", linger_ms=20, max_batch_size=256 * 1024
    )
    await producer.start()
    try:
        started = time.perf_counter()
        sent = []
        for i, envelope in enumerate(envelopes, start=1):
            record = to_record(envelope)
            sent.append(await producer.send(record.topic, record.value, key=record.key, headers=list(record.headers)))
            if i % 1000 == 0:
                phase.advance(i)
        await asyncio.gather(*sent)
        phase.advance(len(envelopes))
        return len(envelopes) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def _relay(settings: Settings, envelopes: list[Any], phase: Phase) -> float:
    """The outbox relay (runtime/relay.py, its producer configured as a service's) publishing the backlog
    from a fresh outbox: rows committed first, then timed from start until every row is published."""
    from services.runtime import db
    from services.runtime.outbox import enqueue_many
    from services.runtime.relay import OutboxRelay

    phase.start(f"relay: {len(envelopes)} outbox rows", len(envelopes))
    schema = "bench_relay"
    pool = await db.create_pool(settings.database_url, schema, min_size=1, max_size=2)
    producer = AIOKafkaProducer(**producer_options(settings), enable_idempotence=True, acks="all")
    try:
        await db.migrate(pool, schema, {"runtime": db.RUNTIME_MIGRATIONS})
        async with pool.acquire() as conn, conn.transaction():
            for start in range(0, len(envelopes), 5000):
                await enqueue_many(conn, envelopes[start : start + 5000], schema=schema)
        await producer.start()
        relay = OutboxRelay(pool, producer, schema, batch_size=settings.relay_batch_size, poll_interval_s=0.05)
        started = time.perf_counter()
        running = asyncio.create_task(relay.run())
        while not running.done():  # polled: the relay says nothing when it is done
            if not await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):
                break
            await asyncio.sleep(0.05)
        seconds = time.perf_counter() - started
        relay.stop()
        await running
        left = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        if left:
            raise RuntimeError(f"the relay stopped with {left} rows unpublished")
        phase.advance(len(envelopes))
        return len(envelopes) / seconds
    finally:
        await producer.stop()
        await pool.close()


async def _raw_consume(settings: Settings, events: int, phase: Phase) -> float:
    """The ceiling: every record fetched with getmany and decoded, nothing else."""
    phase.start("raw consume + decode", events)
    consumer = AIOKafkaConsumer(
        TASK_EVENTS,
        DIRECTORY,
        **client_options(settings),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        await consumer.getmany(timeout_ms=0)  # joins and seeks; not part of the rate
        seen, started = 0, time.perf_counter()
        while seen < events:
            batches = await consumer.getmany(timeout_ms=1000, max_records=2000)
            for records in batches.values():
                for record in records:
                    decode(record.value)
                    seen += 1
            phase.advance(seen)
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def _raw_copy(database_url: str, rows: int, phase: Phase) -> float:
    """The database's ceiling for as many rows: one COPY into a table shaped like an inbox."""
    phase.start("raw COPY into PostgreSQL", rows)
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "CREATE TEMP TABLE bench_copy (event_id uuid, event_type text, topic text, partition int, "
            '"offset" bigint, value bytea)'
        )
        import uuid

        records = [(uuid.uuid4(), "TaskAssigned", "t", i % 6, i, b"x" * 300) for i in range(rows)]
        started = time.perf_counter()
        await conn.copy_records_to_table("bench_copy", records=records)
        seconds = time.perf_counter() - started
        phase.advance(rows)
        return rows / seconds
    finally:
        await conn.close()


class _Cpu:
    """CPU seconds (user + system) of a process and the children it has or has reaped."""

    def __init__(self, pid: int | None) -> None:
        self.process = psutil.Process(pid) if pid else None

    def seconds(self) -> float:
        if self.process is None:
            return 0.0
        try:
            times = self.process.cpu_times()
            total = times.user + times.system + times.children_user + times.children_system
            for child in self.process.children(recursive=True):
                try:
                    t = child.cpu_times()
                    total += t.user + t.system
                except psutil.NoSuchProcess:
                    pass
            return total
        except psutil.NoSuchProcess:
            return 0.0


async def _drain(
    name: str, topics: tuple[str, ...], settings: Settings, env: dict[str, str], home: Path, phase: Phase
) -> Drain:
    from deploy import stack

    target = await _end_offsets(settings, topics)
    total = sum(target.values())
    phase.start(f"{name}: starting", total)
    postgres, kafka = _Cpu(stack.local_postgres().pid()), _Cpu(stack.kafka_node().pid())
    service = Service(name, env, home)
    await service.start()
    assert service.proc is not None
    own = _Cpu(service.proc.pid)
    group = f"dondoc.{name}"
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        done_at_ready = await _committed(admin, group, target)
        profiler = _profile(name, service.proc.pid, home)
        cpu0 = (own.seconds(), postgres.seconds(), kafka.seconds())
        started = time.perf_counter()
        phase.start(f"{name}: draining", total)
        rss, done = 0, done_at_ready
        while done < total:
            await asyncio.sleep(0.25)
            rss = max(rss, psutil.Process(service.proc.pid).memory_info().rss)
            done = await _committed(admin, group, target)
            phase.advance(done)
            if service.proc.poll() is not None:
                raise RuntimeError(f"{name} exited while draining; see {home / service.log_name}")
        seconds = time.perf_counter() - started
        cpu1 = (own.seconds(), postgres.seconds(), kafka.seconds())
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=60)
    finally:
        await admin.close()
        service.stop()
    conn = await asyncpg.connect(settings.database_url)
    try:
        dead = await conn.fetchval(f"SELECT count(*) FROM {name}.dead_letters")
    finally:
        await conn.close()
    return Drain(
        name,
        records=total - done_at_ready,
        seconds=seconds,
        cpu_service_s=cpu1[0] - cpu0[0],
        cpu_postgres_s=cpu1[1] - cpu0[1],
        cpu_kafka_s=cpu1[2] - cpu0[2],
        rss_mb=rss / 2**20,
        dead_letters=int(dead),
    )


def _profile(name: str, pid: int, home: Path) -> subprocess.Popen[bytes] | None:
    """With DONDOC_BENCH_PYSPY naming a py-spy binary, sample the draining service into
    ``<home>/<service>.pyspy.txt`` (collapsed stacks): what the profiles in docs/performance.md come from.
    DONDOC_BENCH_PYSPY_RATE: samples per second (50; a short drain needs more to show its hot spots)."""
    pyspy = os.environ.get("DONDOC_BENCH_PYSPY")
    if not pyspy:
        return None
    out = home / f"{name}.pyspy.txt"
    command = [
        pyspy,
        "record",
        "--pid",
        str(pid),
        "--rate",
        os.environ.get("DONDOC_BENCH_PYSPY_RATE", "50"),
        "--format",
        "raw",
        "--output",
        str(out),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _end_offsets(settings: Settings, topics: tuple[str, ...]) -> dict[TopicPartition, int]:
    partitions = {spec.name: spec.partitions for spec in TOPICS}
    consumer = AIOKafkaConsumer(**client_options(settings), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        wanted = [TopicPartition(topic, p) for topic in topics for p in range(partitions[topic])]
        return dict(await consumer.end_offsets(wanted))
    finally:
        await consumer.stop()


async def _committed(admin: AIOKafkaAdminClient, group: str, target: dict[TopicPartition, int]) -> int:
    """How many of the target's records the group has committed past (at most the target per partition)."""
    offsets = await admin.list_consumer_group_offsets(group, partitions=list(target))
    done = 0
    for tp, end in target.items():
        meta = offsets.get(tp)
        done += min(end, meta.offset) if meta is not None and meta.offset >= 0 else 0
    return done


async def _replay_reporting(settings: Settings, phase: Phase) -> Replay:
    """What `dondoc replay reporting` does, timed: rebuild from the log, then compare with the live tables
    the service just built (identical is expected: the same handlers, in batches both times)."""
    from services.registry import definition
    from services.runtime.replay.comparing import compare
    from services.runtime.replay.rebuilding import rebuild

    phase.start("replay reporting", 0)
    rebuilt = await rebuild(definition("reporting"), settings, on_progress=lambda done, total: phase.advance(done))
    comparison = await compare(rebuilt, settings)
    return Replay(rebuilt.records, rebuilt.seconds, comparison.identical)
