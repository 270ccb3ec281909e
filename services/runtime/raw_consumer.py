"""Consuming a topic whose records are not dondoc envelopes (``dondoc.intake``: agency commands).

The shared ``Consumer`` decodes envelopes and dead-letters anything else; commands from agency systems
have their own shape and their own answer to a bad message (a rejection the agency can read, not a
dead letter). This hook is a ``ServiceDefinition.background`` task that runs a subscriber of its own,
with the same guarantees as ``Consumer``:

* Offsets are committed only after the handler returned (AckPolicy.ACK, and the wrapper never lets an
  exception escape), never before.
* The handler does its de-duplication and its effects in one transaction (for intake: an inbox keyed
  by a deterministic command id, and the rejection event in the outbox).
* An unreachable database or broker is retried until it works, holding the partition.
* Any other failure is retried a bounded number of times, then handed to ``give_up`` (for intake: a
  rejection saying so, plus the dead-letter topic) and the consumer moves on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.runtime import logs, tracing
from services.runtime.consuming import INFRA_BACKOFF_MAX_S, INFRA_ERRORS
from services.runtime.definition import BackgroundTask, Runtime
from services.runtime.kafka_config import broker_options
from services.runtime.retry import RetryPolicy
from services.runtime.service import no_decoding, tolerant_parser

log = logs.get_logger(__name__)


@dataclass(frozen=True)
class RawRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int | None = None
    """The record's Kafka timestamp: on dondoc.intake, when the broker appended it (LogAppendTime)."""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value.decode("utf-8", "replace")
        return None


RawHandler = Callable[[RawRecord], Awaitable[str]]
GiveUp = Callable[[RawRecord, str, int], Awaitable[None]]


@dataclass(frozen=True)
class RawConsumer:
    """What to do with each record of ``topic``, built once the runtime (pool, producer) exists."""

    handle: RawHandler
    give_up: GiveUp


def raw_consumer(topic: str, name: str, build: Callable[[Runtime], RawConsumer]) -> BackgroundTask:
    """A background task consuming ``topic`` in the consumer group ``dondoc.<service>.<name>``."""

    async def run(rt: Runtime) -> None:
        consumer = build(rt)
        broker = KafkaBroker(
            **broker_options(rt.settings),
            allow_auto_create_topics=False,
            client_id=f"dondoc-{rt.service}-{name}",
            graceful_timeout=30.0,
            log_level=10,
        )  # DEBUG: the per-record line is ours, with ids bound
        rt.lag_sources.append((f"dondoc.{rt.service}.{name}", broker))  # its lag on /metrics (runtime/sampling.py)

        # As the event consumer's: FastStream's own parser fails on a header that is not UTF-8, its decoder
        # on JSON nested past the recursion limit, and either way the record was acked unanswered
        # (tests/integration/test_fuzz_intake.py). The handler reads the raw bytes itself.
        @broker.subscriber(
            topic,
            group_id=f"dondoc.{rt.service}.{name}",
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.ACK,
            max_poll_records=100,
            parser=tolerant_parser,
            decoder=no_decoding,
        )
        async def on_message(msg: KafkaMessage) -> None:
            raw = msg.raw_message
            assert not isinstance(raw, tuple), "a single-record subscriber, not a batch one"
            record = RawRecord(
                raw.topic,
                raw.partition,
                raw.offset,
                raw.key,
                raw.value,
                tuple((k, bytes(v)) for k, v in (raw.headers or ())),
                raw.timestamp,
            )
            settings = rt.settings
            await _with_retries(record, consumer, settings.handler_attempts, settings.handler_retry_backoff_s)

        try:
            # Inside the try: on a fresh broker start() can take seconds (the group coordinator loads), and
            # a service stopped meanwhile must still stop its consumer, or it lives on in the process,
            # holding the group's partitions with a closed pool.
            await broker.start()
            await asyncio.Event().wait()  # until the service stops and cancels us
        finally:
            await broker.stop()  # waits for the record being handled, so its offset commits

    run.__name__ = f"{name}-consumer"
    return run


async def _with_retries(record: RawRecord, consumer: RawConsumer, attempts: int, backoff_s: float) -> None:
    # The record's trace (an agency may send a traceparent header) or a new one: what the command causes joins it.
    parent = tracing.from_headers(record.headers)
    with (
        tracing.span(f"consume {record.topic}", parent, kind="consumer"),
        logs.bound(topic=record.topic, partition=record.partition, offset=record.offset),
    ):
        attempt, infra_failures = 0, 0
        while True:
            try:
                outcome = await consumer.handle(record)
                log.info("record handled", outcome=outcome)
                return
            except INFRA_ERRORS as exc:
                infra_failures += 1
                delay = RetryPolicy(backoff_s, INFRA_BACKOFF_MAX_S).delay_s(infra_failures + 1)
                log.warning("infrastructure unavailable, will retry", error=repr(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
            except Exception as exc:
                attempt += 1
                if attempt >= attempts:
                    log.error("record failed, giving up", error=repr(exc), attempts=attempt)
                    await _give_up(record, consumer, f"{type(exc).__name__}: {exc}", attempt, backoff_s)
                    return
                log.warning("record failed, will retry", error=repr(exc), attempt=attempt)
                await asyncio.sleep(RetryPolicy(backoff_s, INFRA_BACKOFF_MAX_S).delay_s(attempt))


async def _give_up(record: RawRecord, consumer: RawConsumer, error: str, attempts: int, backoff_s: float) -> None:
    tries = 0
    while True:  # the record must be answered somewhere before its offset is committed
        try:
            await consumer.give_up(record, error, attempts)
            return
        except Exception as exc:
            tries += 1
            delay = RetryPolicy(backoff_s, INFRA_BACKOFF_MAX_S).delay_s(tries)
            log.warning("giving up failed, will retry", error=repr(exc), retry_in_s=delay)
            await asyncio.sleep(delay)
