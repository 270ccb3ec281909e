"""What an operator (or a fault drill) watches while something is wrong, sampled into Prometheus gauges on
every service's ``/metrics``:

* consumer lag per group, topic and partition (the event consumer and every raw consumer, e.g. intake);
* event-loop lag: how late a sleeping task is woken, the sign of a handler hogging the loop;
* the outbox backlog and the age of its oldest unpublished row, read from the database, so a wedged relay
  shows even when the relay itself no longer reports anything;
* timers due and not fired, those late by more than a minute, and how long the oldest has been due.

Read-only and cheap (two indexed queries every few seconds); a failing sample is skipped, never raised:
the metrics must not be what stops a service during an outage.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from services.runtime import metrics

if TYPE_CHECKING:
    from services.runtime.definition import Runtime

LAG_EVERY_S = 5.0
DATABASE_EVERY_S = 5.0
LOOP_TICK_S = 0.5
TIMER_LATE_S = 60.0


async def watch_consumer_lag(rt: Runtime) -> None:
    while True:
        await asyncio.sleep(LAG_EVERY_S)
        try:
            await sample_consumer_lag(rt)
        except asyncio.CancelledError:
            raise
        except Exception:  # a consumer stopping or rebalancing: next round
            pass


async def sample_consumer_lag(rt: Runtime) -> None:
    """Per-partition lag (end offset minus position) of each consumer group of this service."""
    for group, consumer in consumers(rt):
        for tp in consumer.assignment():
            try:
                high = consumer.highwater(tp)
                position = await consumer.position(tp)
            except Exception:  # a rebalance moved the partition away: skip until next round
                continue
            if high is not None:
                metrics.CONSUMER_LAG.labels(rt.service, group, tp.topic, str(tp.partition)).set(max(high - position, 0))


def consumers(rt: Runtime) -> list[tuple[str, Any]]:
    """(group id, aiokafka consumer) of the event consumer and of the raw consumers that registered a broker."""
    brokers = ([(f"dondoc.{rt.service}", rt.broker)] if rt.broker is not None else []) + list(rt.lag_sources)
    return [
        (group, c)
        for group, broker in brokers
        for sub in broker.subscribers
        if (c := getattr(sub, "consumer", None)) is not None
    ]


async def watch_event_loop(rt: Runtime, tick_s: float = LOOP_TICK_S) -> None:
    """Sleeps ``tick_s`` again and again; how much later than asked it wakes is the loop's lag. The largest
    since the last scrape is kept too: a one-second stall between two scrapes must not go unseen."""
    worst, worst_since = 0.0, time.monotonic()
    while True:
        before = time.monotonic()
        await asyncio.sleep(tick_s)
        lag = max(time.monotonic() - before - tick_s, 0.0)
        metrics.EVENT_LOOP_LAG.labels(rt.service).set(lag)
        if time.monotonic() - worst_since > 15.0:
            worst, worst_since = 0.0, time.monotonic()
        worst = max(worst, lag)
        metrics.EVENT_LOOP_LAG_MAX.labels(rt.service).set(worst)


async def watch_database(rt: Runtime, every_s: float = DATABASE_EVERY_S) -> None:
    """Outbox backlog and age, timers due and late, from the service's own tables."""
    while True:
        try:
            await sample_database(rt)
        except asyncio.CancelledError:
            raise
        except Exception:  # the database is away: the readiness probe says so; try again next round
            pass
        await asyncio.sleep(every_s)


async def sample_database(rt: Runtime) -> None:
    async with rt.pool.acquire() as conn:
        outbox = await conn.fetchrow(
            """SELECT count(*) AS backlog, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age
               FROM outbox WHERE published_at IS NULL AND parked_at IS NULL"""
        )
        # Due on the service's clock (shifted in a demo), as the timer loop judges it.
        now = rt.clock.now()
        timers = await conn.fetchrow(
            """SELECT count(*) AS due,
                      count(*) FILTER (WHERE fire_at < $1::timestamptz - make_interval(secs => $2)) AS late,
                      coalesce(extract(epoch FROM $1::timestamptz - min(fire_at)), 0) AS oldest
               FROM timers WHERE status = 'scheduled' AND fire_at <= $1::timestamptz""",
            now,
            TIMER_LATE_S,
        )
    metrics.OUTBOX_BACKLOG.labels(rt.definition.schema).set(outbox["backlog"])
    metrics.OUTBOX_OLDEST_AGE.labels(rt.definition.schema).set(float(outbox["age"]))
    metrics.TIMERS_DUE.labels(rt.service).set(timers["due"])
    metrics.TIMERS_LATE.labels(rt.service).set(timers["late"])
    metrics.TIMERS_OLDEST_DUE_AGE.labels(rt.service).set(float(timers["oldest"]))
