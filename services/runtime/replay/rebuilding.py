"""Rebuilding a projection in its shadow schema, made afresh: the runtime's and the service's own
migrations, then the log fed to the service's own handlers through the runtime's Consumer (inbox claim
and handler in one transaction), so the rebuilt state is what the service would hold.

The handlers are the ones the live consumer runs (``revocations.consumer_handlers``): a reader of the
directory also records revoked tokens and inactive agencies, in the shadow's runtime tables, which
--apply carries over to the live ones (applying.py) since it moves the group past those events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import cast

import asyncpg
from aiokafka import AIOKafkaProducer, ConsumerRecord

from events.codec import decode
from services.runtime import db, revocations
from services.runtime.consuming import Consumer, Record
from services.runtime.definition import ServiceDefinition
from services.runtime.logs import get_logger
from services.runtime.replay import catalog
from services.runtime.replay.log import LogReader, Position
from services.runtime.replay.policy import ReplayPolicy, ReplayRefused, policy_of
from services.runtime.replay.shadow import HeldDeadLetters, shadow_pool, shadow_schema_of
from services.runtime.service import default_clock
from services.runtime.settings import Settings

log = get_logger(__name__)

Progress = Callable[[int, int], None]  # (records replayed, total)


@dataclass(frozen=True)
class Rebuilt:
    service: str
    live_schema: str
    shadow_schema: str
    topics: tuple[str, ...]
    starts: dict[Position, int]
    ends: dict[Position, int]
    records: int
    handled: int
    dead_lettered: int
    seconds: float
    runtime_tables: tuple[str, ...]
    policy: ReplayPolicy
    finish_seconds: float = 0.0  # of ``seconds``: after the last record (deferred indexes, ``prepare``)

    @property
    def group(self) -> str:
        return f"dondoc.{self.service}"


def projection_tables(all_tables: Sequence[str], rebuilt: Rebuilt, policy: ReplayPolicy) -> list[str]:
    return [t for t in all_tables if t not in rebuilt.runtime_tables and t not in policy.kept]


async def rebuild(
    definition: ServiceDefinition,
    settings: Settings,
    *,
    on_progress: Progress | None = None,
    policy: ReplayPolicy | None = None,
) -> Rebuilt:
    """Replay the service's input topics into its shadow schema, made afresh."""
    policy = policy or policy_of(definition)
    shadow = shadow_schema_of(definition)
    started = time.perf_counter()
    guard = await asyncpg.connect(settings.database_url)
    try:
        if not await guard.fetchval("SELECT pg_try_advisory_lock($1)", db.lock_key("replay", definition.name)):
            raise ReplayRefused(f"another replay of {definition.name} is running (it holds the replay lock)")
        await guard.execute(f'DROP SCHEMA IF EXISTS "{shadow}" CASCADE')
        pool = await shadow_pool(settings.database_url, shadow, definition.consumer_concurrency + 2)
        try:
            await db.migrate(pool, shadow, {"runtime": db.RUNTIME_MIGRATIONS})
            runtime_tables = (*await catalog.tables(guard, shadow), "schema_migrations")
            await db.migrate(pool, shadow, {definition.name: definition.migrations})
            later = await _drop_indexes(guard, shadow, policy.indexes_after_load)
            log.info("replay started", service=definition.name, shadow=shadow, topics=list(definition.topics))
            feeding = await shadow_pool(
                settings.database_url, shadow, definition.consumer_concurrency + 2, policy.feed_settings
            )
            try:
                records, ends, starts = await _feed(definition, settings, feeding, shadow, policy, on_progress)
            finally:
                await feeding.close()
            fed = time.perf_counter()
            async with asyncio.TaskGroup() as finishing:
                # Side by side: the policy's ``prepare`` reads none of the indexes built after the load.
                finishing.create_task(_build_indexes(pool, later))
                finishing.create_task(_prepare(pool, policy, definition.schema))
            finish_seconds = time.perf_counter() - fed
            async with pool.acquire() as conn:
                handled = await conn.fetchval("SELECT count(*) FROM inbox")
                dead = await conn.fetchval("SELECT count(*) FROM dead_letters")
        finally:
            await pool.close()
    finally:
        await guard.close()  # also releases the replay lock
    result = Rebuilt(
        definition.name,
        definition.schema,
        shadow,
        tuple(definition.topics),
        starts,
        ends,
        records,
        handled,
        dead,
        time.perf_counter() - started,
        tuple(sorted(set(runtime_tables))),
        policy,
        finish_seconds,
    )
    log.info(
        "replay finished",
        service=definition.name,
        records=records,
        handled=handled,
        dead_lettered=dead,
        seconds=round(result.seconds, 2),
        after_last_record_s=round(finish_seconds, 2),
    )
    return result


async def _prepare(pool: asyncpg.Pool, policy: ReplayPolicy, live_schema: str) -> None:
    if policy.prepare is not None:
        async with pool.acquire() as conn, conn.transaction():
            await policy.prepare(conn, live_schema)


async def _drop_indexes(conn: asyncpg.Connection, shadow: str, names: Sequence[str]) -> list[str]:
    """Drop these indexes of the shadow; return the statements that build them again."""
    rows = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = ANY($2::text[])",
        shadow,
        list(names),
    )
    if missing := sorted(set(names) - {r["indexname"] for r in rows}):
        raise ReplayRefused(f"the replay policy names indexes the schema does not have: {', '.join(missing)}")
    for r in rows:
        await conn.execute(f'DROP INDEX "{shadow}"."{r["indexname"]}"')
    return [r["indexdef"] for r in rows]


async def _build_indexes(pool: asyncpg.Pool, statements: Sequence[str]) -> None:
    """Build the indexes dropped for the feed, two at a time (each one sorts its table once)."""
    if not statements:
        return
    started = time.perf_counter()
    todo = list(statements)

    async def worker() -> None:
        async with pool.acquire() as conn:
            await conn.execute("SET maintenance_work_mem = '256MB'")
            while todo:
                await conn.execute(todo.pop())

    async with asyncio.TaskGroup() as building:
        for _ in range(min(2, len(todo))):
            building.create_task(worker())
    log.info("replay built its indexes", indexes=len(statements), seconds=round(time.perf_counter() - started, 2))


async def _feed(
    definition: ServiceDefinition,
    settings: Settings,
    pool: asyncpg.Pool,
    shadow: str,
    policy: ReplayPolicy,
    on_progress: Progress | None,
) -> tuple[int, dict[Position, int], dict[Position, int]]:
    batch_handler = definition.batch_handler_for(settings)
    one_lane = batch_handler is not None and policy.one_lane
    consumer = Consumer(
        definition.name,
        shadow,
        # As the live consumer runs them.
        revocations.consumer_handlers(definition.topics, definition.handlers_for(settings)),
        pool,
        cast(AIOKafkaProducer, HeldDeadLetters()),
        default_clock(settings),
        attempts=settings.handler_attempts,
        backoff_s=settings.handler_retry_backoff_s,
        concurrency=1 if one_lane else definition.consumer_concurrency,
        batch=replace(batch_handler, across_partitions=True)
        if batch_handler is not None and one_lane
        else batch_handler,
    )
    records = 0
    async with LogReader(settings, definition.topics, client_id=f"dondoc-replay-{definition.name}") as reader:
        total = reader.total
        if on_progress:
            on_progress(0, total)
        # The next batch is read and decoded while the current one is written: the database's work and
        # ours overlap instead of taking turns (one batch ahead at most, so memory stays bounded).
        ahead: asyncio.Queue[list[Record] | None] = asyncio.Queue(maxsize=1)

        async def read() -> None:
            async for batch in reader.batches(settings.replay_batch_size):
                await ahead.put(await _decoded(batch))
            await ahead.put(None)

        async with asyncio.TaskGroup() as running:
            running.create_task(read())
            while (batch := await ahead.get()) is not None:
                await consumer.handle_batch(batch)
                records += len(batch)
                if on_progress:
                    on_progress(records, total)
        if on_progress:
            on_progress(total, total)  # a compacted topic has holes: its records are fewer than its offsets
        ends = {(tp.topic, tp.partition): o for tp, o in reader.ends.items()}
        starts = {(tp.topic, tp.partition): o for tp, o in reader.starts.items()}
    return records, ends, starts


async def _decoded(batch: Sequence[ConsumerRecord[bytes, bytes]]) -> list[Record]:
    """The batch's records with their envelopes decoded (none for one that does not decode: the consumer
    dead-letters it as ever), giving way to the writes of the batch before every few hundred."""
    records = []
    for i, r in enumerate(batch):
        if i % 250 == 0:
            await asyncio.sleep(0)
        try:
            decoded = decode(r.value) if r.value else None
        except Exception:
            decoded = None
        records.append(Record(r.topic, r.partition, r.offset, r.key, r.value, r.timestamp, decoded=decoded))
    return records
