"""What a drill watches on /metrics (services/runtime/sampling.py), against the real broker and database: a probe
service (tests/integration/probe_service.py) whose relay is stopped, with a timer nobody fires."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from events.codec import encode_value, key_for
from events.topics import dead_letter_topic
from services.runtime import sampling
from services.runtime.kafka_config import producer_options
from tests.conftest import eventually, running
from tests.integration.kafka_tools import create_topic, unique_topic
from tests.integration.probe_service import Probe, ProbeSettings, probe_event

pytestmark = pytest.mark.integration


@pytest.fixture
async def probe(infra: Any, settings: Any) -> AsyncIterator[tuple[Probe, Any]]:
    name = f"t_metrics_{uuid.uuid4().hex[:10]}"
    topic = await create_topic(infra.kafka, unique_topic("metrics"))
    await create_topic(infra.kafka, dead_letter_topic(name))
    probe = Probe(name, topic, infra.database_url)
    async with running(probe.definition(), ProbeSettings(**settings.model_dump())) as http:
        yield probe, http
    conn = await asyncpg.connect(infra.database_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_an_unpublished_outbox_row_shows_as_backlog_with_its_age(probe: tuple[Probe, Any]) -> None:
    p, http = probe
    rt = http.app.state.runtime
    rt.relay.stop()  # a wedged relay, as after the broker outage of issue 17
    async with rt.pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO outbox (event_id, topic, key, value, headers, created_at)
               VALUES ($1, 'dondoc.task-events', 'k', '{}'::bytea, '[]', now() - interval '90 seconds')""",
            uuid.uuid4(),
        )
    await sampling.sample_database(rt)
    assert sample("dondoc_outbox_backlog", schema=p.name) == 1
    assert (sample("dondoc_outbox_oldest_unpublished_seconds", schema=p.name) or 0) >= 90
    metrics = (await http.get("/metrics")).text
    assert f'dondoc_outbox_oldest_unpublished_seconds{{schema="{p.name}"}}' in metrics


async def test_a_timer_past_its_time_counts_as_due_and_after_a_minute_as_late(probe: tuple[Probe, Any]) -> None:
    p, http = probe
    rt = http.app.state.runtime
    now = rt.clock.now()
    async with rt.pool.acquire() as conn:
        for kind, ago in (
            ("late", timedelta(minutes=5)),
            ("due", timedelta(seconds=1)),
            ("later", -timedelta(hours=1)),
        ):
            await conn.execute(
                "INSERT INTO timers (timer_id, kind, subject_id, dedup_key, fire_at) VALUES ($1, $2, 's', 'd', $3)",
                uuid.uuid4(),
                kind,
                now - ago,
            )
    await sampling.sample_database(rt)
    assert sample("dondoc_timers_due", service=p.name) == 2
    assert sample("dondoc_timers_late", service=p.name) == 1
    assert (sample("dondoc_timers_oldest_due_seconds", service=p.name) or 0) >= 300


async def test_consumer_lag_is_reported_per_group_and_partition_and_returns_to_zero(
    probe: tuple[Probe, Any], infra: Any
) -> None:
    p, http = probe
    rt = http.app.state.runtime
    producer = AIOKafkaProducer(**producer_options(infra.kafka), enable_idempotence=True)
    await producer.start()
    try:
        for seq in range(3):
            event = probe_event(f"ok {seq}", seq=seq, salt=p.name)
            await producer.send_and_wait(p.topic, encode_value(event), key=key_for(event))
    finally:
        await producer.stop()
    labels = {"service": p.name, "group": f"dondoc.{p.name}", "topic": p.topic, "partition": "0"}

    async def caught_up() -> bool:
        await sampling.sample_consumer_lag(rt)
        return sample("dondoc_consumer_lag", **labels) == 0 and len(p.calls) == 3

    await eventually(caught_up, timeout=30, what="the probe's lag back to 0 after its 3 events")


async def test_a_stalled_event_loop_shows_as_event_loop_lag(probe: tuple[Probe, Any]) -> None:
    p, _http = probe
    # The fault itself, not a wait for something: a handler hogging the loop for 1.2 s. The sampler's 0.5 s
    # sleep is then woken at least 0.7 s late, wherever in its tick the stall began.
    time.sleep(1.2)  # noqa: ASYNC251

    async def seen() -> bool:
        return (sample("dondoc_event_loop_lag_max_seconds", service=p.name) or 0.0) >= 0.6

    await eventually(seen, timeout=10, what="the stall in dondoc_event_loop_lag_max_seconds")
