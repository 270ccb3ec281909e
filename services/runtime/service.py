"""One composition root for every service process: HTTP and Kafka side by side in one lifespan.

A service declares what it is (``ServiceDefinition``, in definition.py with ``Runtime``: the types every
service imports live apart from this wiring, so health and replay need not import it); ``create_app`` wires the shared
machinery around it: settings, logs, the pool, migrations, the idempotent producer, the
outbox relay, the consumer with its retries and dead letters, health and metrics.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from fastapi import FastAPI
from faststream import AckPolicy
from faststream.exceptions import NackMessage
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from events.clock import Clock, ShiftedClock, SystemClock
from services.runtime import db, health, heap, limits, logs, outages, revocations, sampling, tracing
from services.runtime.agency_rejections import AgencyTopics
from services.runtime.consuming import Consumer, Record

# Re-exported: services import these from here today; new code imports them from definition.py.
from services.runtime.definition import BackgroundTask as BackgroundTask
from services.runtime.definition import Runtime, ServiceDefinition
from services.runtime.definition import runtime_of as runtime_of
from services.runtime.kafka_config import broker_options, producer_options
from services.runtime.kafka_readiness import access_problems
from services.runtime.producers import RenewableProducer
from services.runtime.refusals import Refused
from services.runtime.refusals import handler as refusal_handler
from services.runtime.relay import OutboxRelay
from services.runtime.settings import Settings, get_settings
from services.runtime.spec_refusals import install as install_refusals
from services.runtime.unit_of_work import Handler

log = logs.get_logger(__name__)

RELAY_DRAIN_S = 10.0  # at a graceful stop, how long the relay may take to publish what is committed


def default_clock(settings: Settings) -> Clock:
    if settings.clock_offset_s:
        return ShiftedClock(timedelta(seconds=settings.clock_offset_s))
    return SystemClock()


def create_app(definition: ServiceDefinition, settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.require_token_secret()
    # Built now, not in the lifespan: a handler that needs a secret (audit's chain key) refuses to start
    # the process here, with its message, instead of failing later inside the server.
    handlers = definition.handlers_for(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logs.configure(definition.name, settings.log_level, settings.log_format)
        tracing.configure(definition.name)  # spans exported only with OTEL_EXPORTER_OTLP_ENDPOINT
        if problems := await access_problems(settings):
            # Up but not ready, saying why (health.readyz), rather than retrying a refused login forever.
            log.error("kafka access refused; not starting", problems=problems)
            app.state.kafka_problems = problems
            yield
            return
        rt = await _start(definition, settings, clock or default_clock(settings), handlers)
        app.state.runtime = rt
        rt.tasks = tasks = [asyncio.create_task(_supervise(name, coro), name=name) for name, coro in _tasks(rt)]
        # What starting built lives as long as the process: frozen, the collector no longer walks it (heap.py).
        log.info("service started", port=settings.port_of(definition.name), frozen_objects=heap.settle())
        try:
            yield
        finally:
            # Stop consuming first (FastStream waits for the running batch), then the background work;
            # the relay last, publishing what they committed, so a restart has nothing to re-publish.
            if rt.broker is not None:
                await rt.broker.stop()
            relay_task, others = tasks[0], tasks[1:]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            rt.relay.stop()
            try:
                await asyncio.wait_for(asyncio.shield(relay_task), RELAY_DRAIN_S)
            except Exception:
                relay_task.cancel()  # Kafka away: the restart's relay publishes the rest
                await asyncio.gather(relay_task, return_exceptions=True)
            await rt.producer.stop()
            await rt.dead_letters.close()
            await rt.pool.close()
            log.info("service stopped")

    app = FastAPI(
        title=definition.title or f"dondoc {definition.name}", description=outages.RETRY_ADVICE, lifespan=lifespan
    )
    limits.install(app)  # every body, field and event bounded (events/limits.py)
    app.add_exception_handler(Refused, refusal_handler)  # one bilingual refusal body for every service
    app.include_router(health.router)
    for router in definition.routers:
        app.include_router(router)
    outages.install(app)  # a database or broker outage is a 503 with Retry-After, not a bare 500
    install_refusals(app)  # the framework's refusals bilingual too; all refusals in every route's OpenAPI
    app.add_middleware(tracing.TraceMiddleware)  # outermost: every answer, refusals too, names its trace
    return app


async def _start(
    definition: ServiceDefinition, settings: Settings, clock: Clock, handlers: Mapping[str, Handler]
) -> Runtime:
    # Each concurrent consumer lane holds a connection for its transaction, beside the relay,
    # timers, workers and HTTP requests that share the pool.
    pool = await db.create_pool(
        settings.database_url_of(definition.name),
        definition.schema,
        max_size=settings.db_pool_size + definition.consumer_concurrency,
    )
    await db.migrate(
        pool, definition.schema, {"runtime": db.RUNTIME_MIGRATIONS, definition.name: definition.migrations}
    )
    producer = await _idempotent_producer(settings, f"dondoc-{definition.name}")
    relay = OutboxRelay(
        pool,
        # The relay's own producer, which it replaces after a fatal error (relay.py); the routes keep theirs.
        lambda: _idempotent_producer(settings, f"dondoc-{definition.name}-relay"),
        definition.schema,
        batch_size=settings.relay_batch_size,
        poll_interval_s=settings.relay_poll_interval_s,
        agency_topics=AgencyTopics(settings),
    )
    # The dead letters' own, made at the first one and replaced after a fatal error: a consumer waiting on a
    # broken producer to write a dead letter would hold its partition for good.
    dead_letters = RenewableProducer(
        lambda: _idempotent_producer(settings, f"dondoc-{definition.name}-dead-letters"), f"{definition.schema}.dlq"
    )
    rt = Runtime(definition, settings, clock, pool, producer, relay, dead_letters)
    if definition.topics:
        rt.consumer = Consumer(
            definition.name,
            definition.schema,
            revocations.consumer_handlers(definition.topics, handlers),
            pool,
            dead_letters,
            clock,
            attempts=settings.handler_attempts,
            backoff_s=settings.handler_retry_backoff_s,
            concurrency=definition.consumer_concurrency,
            batch=definition.batch_handler_for(settings),
            run_records=(definition.consumer_run_size or settings.consumer_run_size) or None,
        )
        rt.broker = _broker(rt)
        await rt.broker.start()
    return rt


async def _idempotent_producer(settings: Settings, client_id: str) -> AIOKafkaProducer:
    # Idempotence dedups the producer's own retries and implies acks=all; the inbox does the rest.
    producer = AIOKafkaProducer(
        **producer_options(settings), enable_idempotence=True, acks="all", linger_ms=5, client_id=client_id
    )
    try:
        await producer.start()
    except BaseException:
        await producer.stop()  # a failed start leaves its client open
        raise
    return producer


def _broker(rt: Runtime) -> KafkaBroker:
    broker = KafkaBroker(
        **broker_options(rt.settings),
        allow_auto_create_topics=False,
        client_id=f"dondoc-{rt.service}",
        log_level=logging.DEBUG,  # one line per message is our logs' job, with ids bound
        graceful_timeout=30.0,
    )
    consumer = rt.consumer
    assert consumer is not None

    # Batches: one offset commit per fetched batch, and room to handle different keys side by side.
    # ACK after the wrapper returned; the wrapper never raises (it dead-letters), so the commit can
    # never pass a message that was not handled. getmany returns as soon as records are there; the
    # wait only bounds an idle poll (FastStream then naps as long, hence short).
    @broker.subscriber(
        *rt.definition.topics,
        group_id=f"dondoc.{rt.service}",
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.ACK,
        batch=True,
        max_records=rt.settings.consumer_batch_size,
        batch_timeout_ms=rt.settings.consumer_idle_wait_ms,
        parser=tolerant_parser,
        decoder=no_decoding,
    )
    async def on_batch(msg: KafkaMessage) -> None:
        raw = msg.raw_message
        batch = raw if isinstance(raw, tuple) else (raw,)
        try:
            await consumer.handle_batch(
                [
                    Record(r.topic, r.partition, r.offset, r.key, r.value, r.timestamp, tuple(r.headers or ()))
                    for r in batch
                ]
            )
        except Exception as exc:
            # Consumer.handle never raises by design. Should it, AckPolicy.ACK would commit the whole batch,
            # past what was not handled: rewind every partition to the batch's start instead (the inbox
            # drops what was already done when it comes again).
            log.exception("a batch failed outside the handlers; rewinding it", records=len(batch))
            raise NackMessage() from exc

    return broker


async def tolerant_parser(
    records: ConsumerRecord[Any, Any] | tuple[ConsumerRecord[Any, Any], ...], default: Callable[..., Awaitable[Any]]
) -> Any:
    """FastStream's parser decodes every header as UTF-8 before our code runs, and a failure there
    would be acked and skipped: garbled header bytes are replaced instead, the record still reaches
    the consumer (which decodes and dead-letters by itself)."""
    if isinstance(records, tuple):
        return await default(tuple(_readable_headers(r) for r in records))
    return await default(_readable_headers(records))


def _readable_headers(record: ConsumerRecord[Any, Any]) -> ConsumerRecord[Any, Any]:
    # The record as it is when every header reads (all but a hostile one's): a copy per record was 5% of a
    # consumer's time while it drained a backlog.
    try:
        for _, value in record.headers or ():
            value.decode("utf-8")
        return record
    except UnicodeDecodeError:
        pass
    headers = [(key, value.decode("utf-8", "replace").encode()) for key, value in record.headers or ()]
    return dataclasses.replace(record, headers=headers)


async def no_decoding(_message: Any) -> None:
    """The body is decoded by events.codec in Consumer.handle, where a failure is dead-lettered;
    FastStream's own JSON decoding would fail earlier, out of our reach."""
    return None


def _tasks(rt: Runtime) -> list[tuple[str, Awaitable[None]]]:
    """The relay first (the shutdown drains it last)."""
    tasks: list[tuple[str, Awaitable[None]]] = [("outbox-relay", rt.relay.run())]
    tasks += [(getattr(bg, "__name__", "background"), bg(rt)) for bg in rt.definition.background]
    tasks += [
        ("consumer-lag", sampling.watch_consumer_lag(rt)),
        ("event-loop-lag", sampling.watch_event_loop(rt)),
        ("database-sampler", sampling.watch_database(rt)),
    ]
    return tasks


async def _supervise(name: str, coro: Awaitable[None]) -> None:
    try:
        await coro
    except asyncio.CancelledError:
        raise
    except Exception:
        # A background loop dying silently would stop alerts without anyone knowing: fail loud.
        log.exception("background task crashed", task=name)
        raise
