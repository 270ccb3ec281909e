"""Consuming Kafka: decode, de-duplicate, handle in one transaction, retry, dead-letter.

Invariants (tests/integration/test_consuming.py breaks each on purpose):
* Offsets are committed only after the message was handled or dead-lettered (FastStream's
  AckPolicy.ACK, with this wrapper never letting an exception escape), never before (the
  default ACK_FIRST is at-most-once).
* Effects and the inbox record commit together: a re-delivered event changes nothing.
* A message that fails deterministically (not a dondoc envelope, invalid payload, a handler
  error) is retried a bounded number of times, then goes to the service's dead-letter topic with
  its error, and the consumer moves on: nothing stalls and nothing is silently skipped.
* An unreachable database or broker is not the message's fault: it is retried until it works,
  holding the partition, rather than dead-lettering good messages.
* Order is kept per key, which is what dondoc's events need (a task's events share its key): a
  fetched batch is split into lanes by (topic, partition, key); a lane runs in order, different lanes
  side by side (at most ``concurrency``). The batch's offsets are committed once, after every lane
  finished, so a crash mid-batch re-delivers the batch and the inbox drops what was already done.
* A service with a ``BatchHandler`` gets runs of consecutive events of a partition (the types it
  takes) in one transaction: one inbox statement for the run, the handler applies them in order. The
  run commits whole or not at all; should it fail for any reason but the infrastructure, it is rolled
  back and its events go one by one through the path above, so a bad event is retried and
  dead-lettered alone and the good ones around it are applied. Partitions run side by side (at most
  ``concurrency``); a key lives in one partition, so its order is kept.
* A dead letter is written before the offset moves on, so the producer that writes it must not wedge:
  after an error no idempotent producer recovers from it is replaced (``producers.RenewableProducer``,
  as the relay's), not retried for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import asyncpg
from aiokafka import AIOKafkaProducer

from events.clock import Clock
from events.codec import decode, key_for
from events.envelope import Envelope
from events.topics import dead_letter_topic, is_compacted
from services.runtime import inbox, limits, metrics, tracing
from services.runtime.logs import bound, get_logger
from services.runtime.producers import RenewableProducer, broken
from services.runtime.retry import RetryPolicy
from services.runtime.unit_of_work import Handler, Position, UnitOfWork

BatchApply = Callable[[Sequence[tuple[Envelope, UnitOfWork]]], Awaitable[None]]

log = get_logger(__name__)

ALL_EVENTS = "*"
"""Handler key that receives every event type (the audit service)."""

# Not the message's fault: every consumer (this one, raw_consumer) retries these without end.
INFRA_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # TimeoutError included: a pool or a command that timed out
    asyncpg.PostgresConnectionError,  # class 08: the connection failed, was refused or dropped
    asyncpg.InterfaceError,
    # Class 57, operator intervention: the server shutting down (AdminShutdown, CrashShutdown), not
    # accepting connections yet (CannotConnectNow), a cancelled query or session, a dropped database.
    asyncpg.exceptions.OperatorInterventionError,
    # Class 53: out of connections, memory or disk space.
    asyncpg.exceptions.InsufficientResourcesError,
    # A failover left us on a replica that is now read-only; a session the server ended for idling.
    asyncpg.ReadOnlySQLTransactionError,
    asyncpg.IdleInTransactionSessionTimeoutError,
    # Contention, not a property of the message: trying again is expected to succeed.
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)
INFRA_BACKOFF_MAX_S = 5.0
SLICE_S = 0.005
"""Longest stretch of a consumer's own synchronous work (decoding a fetch, preparing a run) before it lets the
event loop run other tasks: a bulk backlog must not hold up a deadline's firing or a person's stream for the
length of a whole run's decoding (``dondoc bench alerts --backlog``)."""


class _Slicer:
    """Yields to the event loop once ``SLICE_S`` of synchronous work has passed since the last yield."""

    def __init__(self) -> None:
        self._since = time.perf_counter()

    async def tick(self) -> None:
        if time.perf_counter() - self._since >= SLICE_S:
            await asyncio.sleep(0)
            self._since = time.perf_counter()


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int = 0
    """Kafka's record timestamp (ms): when the producer sent it."""
    headers: tuple[tuple[str, bytes], ...] = ()
    """Kafka's record headers; the ``traceparent`` among them is continued (runtime/tracing.py)."""
    decoded: Envelope | None = field(default=None, compare=False, repr=False)
    """The value already decoded (a replay decodes the next batch while the current one is written);
    None: decoded when handled. A record that does not decode has none, and is dead-lettered as ever."""


@dataclass(frozen=True)
class BatchHandler:
    """Applies a run of events of ``event_types`` (each with its unit of work, all in one transaction)
    as the single handlers would one after the other, in fewer round trips."""

    event_types: frozenset[str]
    """The types it takes; ``ALL_EVENTS`` among them: every type without a handler of its own in the
    consumer's handlers (those go alone, through their handler)."""
    apply: BatchApply
    across_partitions: bool = False
    """One sequence of runs for the whole fetched batch, its partitions merged by send time (each one's
    order kept), as a single-lane consumer reads them (the audit chain), instead of runs per partition."""


def in_one_transaction(handlers: Mapping[str, Handler], event_types: Iterable[str]) -> BatchHandler:
    """A run of these events handled by their single handlers, in order, in the run's one transaction:
    one commit and one inbox statement per run instead of per event, nothing else changed."""

    async def apply(items: Sequence[tuple[Envelope, UnitOfWork]]) -> None:
        for envelope, uow in items:
            with bound(**envelope.log_context()), tracing.joined(uow.traceparent):
                await handlers[envelope.event_type](envelope, uow)

    return BatchHandler(frozenset(event_types), apply)


SetApply = Callable[[Sequence[tuple[Envelope, UnitOfWork]]], Awaitable[None]]
"""Applies events of one type, each of a different key, set-based: as their single handler would one
after the other, in a few statements for all of them."""


def in_segments(
    handlers: Mapping[str, Handler], event_types: Iterable[str], set_based: Mapping[str, SetApply]
) -> BatchHandler:
    """A run in one transaction (``in_one_transaction``), the types in ``set_based`` gathered and applied
    together. Order per key holds: an event whose key is already gathered first applies what was
    gathered. Events of different keys may be applied in another order than the log's, as partitions
    running side by side already do; every effect of one key keeps its order."""

    async def apply(items: Sequence[tuple[Envelope, UnitOfWork]]) -> None:
        gathered: dict[str, list[tuple[Envelope, UnitOfWork]]] = {}
        keys: set[bytes | None] = set()

        async def flush() -> None:
            for event_type, group in gathered.items():
                await set_based[event_type](group)
            gathered.clear()
            keys.clear()

        for envelope, uow in items:
            key = key_for(envelope)
            if key in keys:
                await flush()
            if envelope.event_type in set_based and key is not None:
                gathered.setdefault(envelope.event_type, []).append((envelope, uow))
                keys.add(key)
            else:
                with bound(**envelope.log_context()), tracing.joined(uow.traceparent):
                    await handlers[envelope.event_type](envelope, uow)
        await flush()

    return BatchHandler(frozenset(event_types), apply)


def in_waves(items: Sequence[tuple[Envelope, UnitOfWork]]) -> list[list[tuple[Envelope, UnitOfWork]]]:
    """A run split into waves, the n-th event of each key in the n-th wave. Applied wave after wave,
    every key keeps its order; inside a wave no two events share a key, so a wave's events may be
    applied in any order, e.g. set-based by type. A run needs as many waves as its busiest key has
    events, not a flush each time some key comes back (``in_segments``)."""
    waves: list[list[tuple[Envelope, UnitOfWork]]] = []
    seen: dict[bytes | None, int] = {}
    for item in items:
        key = key_for(item[0])
        n = seen.get(key, 0)
        seen[key] = n + 1
        if n == len(waves):
            waves.append([])
        waves[n].append(item)
    return waves


@dataclass
class Consumer:
    service: str
    schema: str
    handlers: Mapping[str, Handler]
    pool: asyncpg.Pool
    # Writes the dead letters: renewable (the service's own, service.py), or a started producer the caller owns.
    producer: AIOKafkaProducer | RenewableProducer
    clock: Clock
    attempts: int = 3
    backoff_s: float = 0.2
    concurrency: int = 1
    batch: BatchHandler | None = None
    run_records: int | None = None
    """Longest run one transaction applies; a partition's longer share of a batch is applied run after
    run, the next run decoded while the database writes the one before (None: one run, however long)."""
    dead_letters: RenewableProducer = field(init=False)

    def __post_init__(self) -> None:
        producer = self.producer
        self.dead_letters = (
            producer
            if isinstance(producer, RenewableProducer)
            else RenewableProducer.fixed(producer, f"{self.schema}.dlq")
        )

    async def handle_batch(self, records: Sequence[Record]) -> None:
        """Handle a fetched batch; returns when every record is handled or dead-lettered."""
        if self.batch is not None:
            await self._handle_in_runs(records)
            return
        if self.concurrency <= 1:
            # A batch comes partition after partition; merged by send time instead (each partition's
            # order kept), a single-lane reader such as the audit trail sees events as they were
            # published: a task's TaskAssigned before the AlertRaised it caused on another topic.
            partitions: dict[tuple[str, int], list[Record]] = {}
            for record in records:
                partitions.setdefault((record.topic, record.partition), []).append(record)
            for record in heapq.merge(*partitions.values(), key=lambda r: r.timestamp):
                await self.handle(record)
            return
        lanes: dict[tuple[str, int, bytes | None], list[Record]] = {}
        for record in records:
            lanes.setdefault((record.topic, record.partition, record.key), []).append(record)
        gate = asyncio.Semaphore(self.concurrency)

        async def run(lane: list[Record]) -> None:
            async with gate:
                for record in lane:
                    await self.handle(record)

        # A task group, not gather: should a lane ever fail, the others stop with it instead of running on
        # beside the next batch (service.py then rewinds the whole batch).
        async with asyncio.TaskGroup() as lanes_running:
            for lane in lanes.values():
                lanes_running.create_task(run(lane))

    async def _handle_in_runs(self, records: Sequence[Record]) -> None:
        assert self.batch is not None
        partitions: dict[tuple[str, int], list[Record]] = {}
        for record in records:
            partitions.setdefault((record.topic, record.partition), []).append(record)
        if self.batch.across_partitions:
            await self._handle_partition(list(heapq.merge(*partitions.values(), key=lambda r: r.timestamp)))
            return
        gate = asyncio.Semaphore(max(1, self.concurrency))

        async def run(partition: list[Record]) -> None:
            async with gate:
                await self._handle_partition(partition)

        async with asyncio.TaskGroup() as running:
            for partition in partitions.values():
                running.create_task(run(partition))

    async def _handle_partition(self, records: list[Record]) -> None:
        """A partition's records in order: runs of batchable events together, any other record alone.

        A run of ``run_records`` is applied in the background while the records after it are decoded
        (decoding yields every ``SLICE_S``, so its statements go out as their answers come back); the next run
        or record waits for it first, so runs still apply one after the other, in order."""
        assert self.batch is not None
        run: list[tuple[Record, Envelope]] = []
        applying: asyncio.Task[None] | None = None

        async def applied() -> None:
            nonlocal applying
            if applying is not None:
                task, applying = applying, None
                await task

        slicer = _Slicer()
        try:
            for record in records:
                await slicer.tick()
                envelope = self._decoded(record)
                if envelope is not None and self._batched(envelope.event_type):
                    run.append((record, envelope))
                    if self.run_records is not None and len(run) >= self.run_records:
                        await applied()
                        applying = asyncio.create_task(self._apply_run(run))
                        run = []
                elif envelope is not None and not self._handler_of(envelope):
                    continue  # another service's concern: no effect, so no reason to end the run
                else:
                    await applied()
                    await self._apply_run(run)
                    run = []
                    await self.handle(record)
            await applied()
            await self._apply_run(run)
        finally:
            if applying is not None:  # cancelled (a stop) while a run was being applied: it stops too
                applying.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await applying

    def _batched(self, event_type: str) -> bool:
        assert self.batch is not None
        if event_type in self.batch.event_types:
            return True
        return ALL_EVENTS in self.batch.event_types and event_type not in self.handlers

    @staticmethod
    def _decoded(record: Record) -> Envelope | None:
        if record.decoded is not None:
            return record.decoded
        if record.value is None:
            return None
        try:
            return decode(record.value)
        except Exception:
            return None  # handle() dead-letters it, alone

    def _handler_of(self, envelope: Envelope) -> Handler | None:
        return self.handlers.get(envelope.event_type) or self.handlers.get(ALL_EVENTS)

    async def _apply_run(self, run: list[tuple[Record, Envelope]]) -> None:
        if not run:
            return
        assert self.batch is not None
        infra_failures = 0
        while True:
            started = time.perf_counter()
            try:
                applied = await self._apply_run_once(run)
                metrics.HANDLER_LATENCY.labels(self.service, "batch", "handled").observe(time.perf_counter() - started)
                log.debug("run applied", events=len(run), applied=applied)
                return
            except INFRA_ERRORS as exc:
                infra_failures += 1
                await self._wait_for_infrastructure(exc, infra_failures)
            except Exception as exc:
                # Rolled back whole: one by one, each event gets its own retries and, failing, its dead letter.
                log.warning("a run failed; handling its events one by one", error=repr(exc), events=len(run))
                for record, _ in run:
                    await self.handle(record)
                return

    async def _wait_for_infrastructure(self, exc: BaseException, failures: int) -> None:
        delay = RetryPolicy(self.backoff_s, INFRA_BACKOFF_MAX_S).delay_s(failures + 1)
        log.warning("infrastructure unavailable, will retry", error=repr(exc), retry_in_s=delay)
        await asyncio.sleep(delay)

    async def _apply_run_once(self, run: list[tuple[Record, Envelope]]) -> int:
        assert self.batch is not None
        first: dict[object, tuple[Record, Envelope]] = {}
        for record, envelope in run:
            first.setdefault(envelope.event_id, (record, envelope))  # the same event twice: the first counts
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await inbox.claim_many(
                conn, [inbox.Claim(e, r.topic, r.partition, r.offset) for r, e in first.values()]
            )
            items: list[tuple[Envelope, UnitOfWork]] = []
            slicer = _Slicer()
            for record, envelope in run:
                await slicer.tick()
                if envelope.event_id in fresh and first[envelope.event_id][0] is record:
                    position = Position(record.topic, record.partition, record.offset)
                    uow = UnitOfWork(
                        conn, self.service, self.schema, self.clock, cause=envelope, position=position,
                        traceparent=tracing.child_of(tracing.from_headers(record.headers)),
                        record_value=record.value,
                    )  # fmt: skip
                    items.append((envelope, uow))
                else:
                    metrics.DUPLICATES.labels(self.service, envelope.event_type).inc()
            if items:
                await self.batch.apply(items)
        return len(items)

    async def handle(self, record: Record) -> str:
        """Handle one record; returns the outcome: handled, duplicate, ignored or dead-lettered. In a span
        continuing the record's trace: what the handler emits is part of it."""
        parent = tracing.from_headers(record.headers)
        with tracing.span(
            f"consume {record.topic}", parent, kind="consumer", **{"messaging.destination": record.topic}
        ):
            return await self._handle(record)

    async def _handle(self, record: Record) -> str:
        if record.value is None and is_compacted(record.topic):
            return "ignored"  # a tombstone: compaction's deletion marker, not a message
        try:
            envelope = decode(record.value)
        except Exception as exc:  # a DecodeError, or anything else a hostile record provokes: never escapes
            await self._dead_letter(record, f"{type(exc).__name__}: {exc}", attempts=1)
            return "dead-lettered"
        handler = self._handler_of(envelope)
        if handler is None:
            return "ignored"  # another service's concern; no effect to record
        with bound(**envelope.log_context()):
            return await self._handle_with_retries(record, envelope, handler)

    async def _handle_with_retries(self, record: Record, envelope: Envelope, handler: Handler) -> str:
        attempt, infra_failures = 0, 0
        while True:
            started = time.perf_counter()
            try:
                outcome = await self._handle_once(record, envelope, handler)
                metrics.HANDLER_LATENCY.labels(self.service, envelope.event_type, outcome).observe(
                    time.perf_counter() - started
                )
                return outcome
            except INFRA_ERRORS as exc:
                infra_failures += 1
                await self._wait_for_infrastructure(exc, infra_failures)
            except Exception as exc:
                attempt += 1
                metrics.HANDLER_LATENCY.labels(self.service, envelope.event_type, "error").observe(
                    time.perf_counter() - started
                )
                if attempt >= self.attempts:
                    log.error("handler failed, dead-lettering", error=repr(exc), attempts=attempt)
                    await self._dead_letter(record, f"{type(exc).__name__}: {exc}", attempts=attempt)
                    return "dead-lettered"
                log.warning("handler failed, will retry", error=repr(exc), attempt=attempt)
                await asyncio.sleep(RetryPolicy(self.backoff_s, INFRA_BACKOFF_MAX_S).delay_s(attempt))

    async def _handle_once(self, record: Record, envelope: Envelope, handler: Handler) -> str:
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await inbox.claim(
                conn, envelope, topic=record.topic, partition=record.partition, offset=record.offset
            )
            if not fresh:
                metrics.DUPLICATES.labels(self.service, envelope.event_type).inc()
                return "duplicate"
            uow = UnitOfWork(
                conn,
                self.service,
                self.schema,
                self.clock,
                cause=envelope,
                position=Position(record.topic, record.partition, record.offset),
                record_value=record.value,
            )
            await handler(envelope, uow)
        return "handled"

    async def _dead_letter(self, record: Record, error: str, *, attempts: int) -> None:
        value, error, clipped = limits.dead_letter(record.value, error)
        headers = [
            ("dlq_error", error.encode()),
            ("dlq_service", self.service.encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
            ("dlq_attempts", str(attempts).encode()),
            *clipped,
        ]
        tries = 0
        while True:  # the message must land somewhere before its offset is committed
            try:
                producer = await self.dead_letters.get()
                await (
                    await producer.send(dead_letter_topic(self.service), value=value, key=record.key, headers=headers)
                )
                async with self.pool.acquire() as conn:
                    await conn.execute(
                        """INSERT INTO dead_letters (topic, partition, "offset", key, value, error, attempts)
                           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING""",
                        record.topic,
                        record.partition,
                        record.offset,
                        record.key,
                        value,
                        error,
                        attempts,
                    )
                break
            except Exception as exc:
                if broken(exc):  # it would fail alike every time: a fresh one for the next try
                    await self.dead_letters.renew(exc)
                tries += 1
                delay = RetryPolicy(self.backoff_s, INFRA_BACKOFF_MAX_S).delay_s(tries)
                log.warning("dead-letter write failed, will retry", error=repr(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
        metrics.DEAD_LETTERED.labels(self.service, record.topic).inc()
        log.error(
            "message dead-lettered", topic=record.topic, partition=record.partition, offset=record.offset, error=error
        )
