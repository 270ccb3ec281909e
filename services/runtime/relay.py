"""The outbox relay: publishes committed outbox rows to Kafka with an idempotent producer.

* One active relay per service schema (a session advisory lock): a second replica waits as a
  standby, so rows of one key are never published out of order by two relays racing.
* No cursor: each round takes the lowest unpublished ids. A transaction that took id 7 but
  commits after id 8 was published is simply picked up in the next round, never skipped.
* A row is marked published only after Kafka acknowledged it (acks=all); a crash in between
  re-publishes it, and consumers' inboxes drop the duplicate.
* A graceful stop (``stop``) is not a crash: the relay finishes the batch in hand and publishes
  what is committed, then returns, so a restart re-publishes nothing.
* One row Kafka will never take never stops the rows after it: a row larger than its topic's
  ``max.message.bytes`` (checked before sending), or refused for a reason that retrying cannot cure
  (too large, invalid or unauthorized topic), is parked — kept with the reason, counted in
  ``dondoc_outbox_parked``, listed by ``dondoc kafka parked`` — and the relay goes on. A broker that is
  away is not a reason to park: the round is retried, as before.
* A producer that cannot go on is replaced, not retried: after an error an idempotent producer never
  recovers from (Kafka error 45 ``OutOfOrderSequenceNumber`` after a broker outage, an unknown or fenced
  producer id, a dead sender task) every later send fails the same way, so the relay has it replaced
  (``producers.RenewableProducer``) and publishes the unacknowledged rows again — the consumers' inboxes
  drop what had already arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
)

from events.topics import max_message_bytes
from services.runtime import metrics
from services.runtime.agency_rejections import AgencyTopics
from services.runtime.db import lock_key
from services.runtime.logs import get_logger
from services.runtime.outbox import notify_channel
from services.runtime.producers import FATAL, ProducerBroken, ProducerFactory, RenewableProducer
from services.runtime.retry import RetryPolicy

log = get_logger(__name__)

_CLEANUP_EVERY_S = 300.0
_KEEP_PUBLISHED = "1 day"

RETRY_MAX_S = 5.0  # the longest wait between relay rounds that fail, as the consumer's (consuming.py)


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer | ProducerFactory,
        schema: str,
        *,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
        agency_topics: AgencyTopics | None = None,
    ) -> None:
        """``producer``: a factory, and the relay owns its producers (starts one, replaces it when it
        breaks, stops it when ``run`` ends); or a started producer the caller owns, which the relay can
        only keep retrying with."""
        self._pool = pool
        name = f"{schema}.relay"
        self._producer = (
            RenewableProducer.fixed(producer, name)
            if isinstance(producer, AIOKafkaProducer)
            else RenewableProducer(producer, name)
        )
        self._agency_topics = agency_topics
        self._schema = schema
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        # Since when rounds have failed without one succeeding (readiness reports a relay stuck too long).
        self._failing_since: float | None = None
        self._last_error = ""

    @property
    def renewals(self) -> int:
        """Producers replaced after a fatal error, for tests and the drills."""
        return self._producer.renewals

    def stuck(self, longer_than_s: float) -> str | None:
        """Why the relay has published nothing for longer than ``longer_than_s`` although it tried (None if
        it is fine): what readiness says instead of "ready" while events pile up unpublished."""
        if self._failing_since is None or time.monotonic() - self._failing_since < longer_than_s:
            return None
        return f"nothing published for {time.monotonic() - self._failing_since:.0f}s ({self._last_error})"

    def stop(self) -> None:
        """Ask ``run`` to publish what is committed and return (the caller still bounds the wait)."""
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Runs until stopped (``stop``) or cancelled."""
        try:
            await self._run()
        finally:
            await self._producer.close()  # its own: what it holds undelivered is published by the next start

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._run_as_leader()
            except asyncio.CancelledError:
                raise
            except ProducerBroken as exc:
                self._note_failure(exc)
                await self._renew(exc)
            except Exception as exc:  # the database or broker went away: back off, then try again
                log.warning("outbox relay interrupted", schema=self._schema, error=str(exc))
                self._note_failure(exc)
                # The one retry policy: a poll interval at first, doubling while the database or broker stays
                # away (the failures so far are about log2 of the time failing), at most RETRY_MAX_S.
                assert self._failing_since is not None
                failures = int((time.monotonic() - self._failing_since) / self._poll_interval_s).bit_length() + 1
                delay = RetryPolicy(self._poll_interval_s, max(self._poll_interval_s, RETRY_MAX_S)).delay_s(failures)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)

    def _note_failure(self, exc: BaseException) -> None:
        if self._failing_since is None:
            self._failing_since = time.monotonic()
        self._last_error = f"{type(exc).__name__}: {exc}"[:300]

    async def _renew(self, why: ProducerBroken) -> None:
        # Replaced: the next round makes the fresh producer and publishes the unacknowledged rows again.
        if not await self._producer.renew(why):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._poll_interval_s)

    async def _run_as_leader(self) -> None:
        async with self._pool.acquire() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key("relay", self._schema)):
                # Standby: another replica relays.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._poll_interval_s)
                return
            channel = notify_channel(self._schema)
            await conn.add_listener(channel, self._on_notify)
            try:
                loop = asyncio.get_running_loop()
                next_cleanup = loop.time()
                await self.count_parked(conn)  # what an earlier leader parked, in this process's /metrics
                while True:
                    self._wake.clear()
                    stopping = self._stopping.is_set()
                    published = await self._publish_batch(conn)
                    if stopping and published < self._batch_size:
                        return  # everything committed before the stop began is published
                    if loop.time() >= next_cleanup:
                        await conn.execute(
                            f"DELETE FROM outbox WHERE published_at < now() - interval '{_KEEP_PUBLISHED}'"
                        )
                        next_cleanup = loop.time() + _CLEANUP_EVERY_S
                    if published < self._batch_size:
                        try:
                            await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)
                        except TimeoutError:
                            pass
            finally:
                await conn.remove_listener(channel, self._on_notify)
                await conn.execute("SELECT pg_advisory_unlock($1)", lock_key("relay", self._schema))

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _publish_batch(self, conn: asyncpg.Connection) -> int:
        rows = await conn.fetch(
            "SELECT id, topic, key, value, headers FROM outbox WHERE published_at IS NULL AND parked_at IS NULL "
            "ORDER BY id LIMIT $1",
            self._batch_size,
        )
        if not rows:
            metrics.OUTBOX_BACKLOG.labels(self._schema).set(0)
            self._failing_since = None
            return 0
        producer = await self._producer.get()  # the broker away: raises, and the round backs off
        unmade = await self._agency_topics.ensure({r["topic"] for r in rows}) if self._agency_topics else {}
        # send() only queues; awaiting all the futures afterwards lets the producer batch them.
        sent = [
            TopicNotMade(f"{row['topic']}: {unmade[row['topic']]}")
            if row["topic"] in unmade
            else await self._send(producer, row)
            for row in rows
        ]
        delivered = iter(
            await asyncio.gather(*(s for s in sent if isinstance(s, asyncio.Future)), return_exceptions=True)
        )
        results = [next(delivered) if isinstance(s, asyncio.Future) else s for s in sent]
        published = [row["id"] for row, result in zip(rows, results, strict=True) if not _failed(result)]
        if published:
            await conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", published)
            metrics.OUTBOX_PUBLISHED.labels(self._schema).inc(len(published))
        parked = [(row, r) for row, r in zip(rows, results, strict=True) if _failed(r) and isinstance(r, _UNSENDABLE)]
        for row, error in parked:
            reason = f"{type(error).__name__}: {error}"[:1000]
            log.error("outbox row parked: Kafka will not take it", schema=self._schema, outbox_id=row["id"],
                      topic=row["topic"], reason=reason)  # fmt: skip
            await conn.execute("UPDATE outbox SET parked_at = now(), park_reason = $2 WHERE id = $1", row["id"], reason)
        if parked:
            await self.count_parked(conn)
        backlog = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL AND parked_at IS NULL")
        metrics.OUTBOX_BACKLOG.labels(self._schema).set(backlog)
        if fatal := [r for r in results if isinstance(r, FATAL)]:
            raise ProducerBroken(f"{type(fatal[0]).__name__}: {fatal[0]}") from fatal[0]
        if transient := [r for r in results if _failed(r) and not isinstance(r, _UNSENDABLE)]:
            raise transient[0]  # the broker is away or busy: the whole round backs off and comes again
        self._failing_since = None
        return len(rows)

    async def _send(self, producer: AIOKafkaProducer, row: asyncpg.Record) -> Any:
        """The delivery future of one row, or the error that refused it before it was queued."""
        value = bytes(row["value"])
        key = row["key"].encode() if row["key"] is not None else None
        headers = [(k, v.encode()) for k, v in json.loads(row["headers"])]
        size = len(value) + len(key or b"") + sum(len(k) + len(v) for k, v in headers)
        if size > (limit := max_message_bytes(row["topic"])):
            return RecordTooLarge(f"{size} bytes, more than the {limit} bytes {row['topic']} accepts")
        try:
            return await producer.send(row["topic"], value=value, key=key, headers=headers)
        except Exception as exc:  # refused before queueing: too large for the producer, unknown topic…
            return exc

    async def count_parked(self, conn: asyncpg.Connection) -> int:
        parked = int(
            await conn.fetchval("SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL AND published_at IS NULL")
        )
        metrics.OUTBOX_PARKED.labels(self._schema).set(parked)
        return parked


class RecordTooLarge(Exception):
    """The row is larger than its topic accepts (events/topics.py): no broker will ever take it."""


class TopicNotMade(Exception):
    """The row's topic (an agency's rejections) does not exist and could not be made."""


# Refusals that retrying cannot cure; anything else (a broker away, a leader moving) is retried.
_UNSENDABLE = (
    RecordTooLarge,
    TopicNotMade,
    MessageSizeTooLargeError,
    RecordTooLargeError,
    InvalidTopicError,
    TopicAuthorizationFailedError,
)


def _failed(result: object) -> bool:
    return isinstance(result, BaseException)
