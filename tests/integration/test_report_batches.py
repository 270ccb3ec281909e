"""A batch changes the reporting tables exactly as its events one by one do (services/reporting/adapters.py,
services/runtime/consuming.py's runs).

Hypothesis draws a random history (test_report_paths' world: delegation, a directory that arrives late
and is reorganised, completions, returns, extensions, withdrawals, secret tasks) and random cuts of its
log into fetched batches, some of them delivered twice (a crash before the offset commit). The same
log goes through the consumer one record at a time into one schema, and in those batches, partitions
side by side, into another: every table of the read model is the same in both.
"""

from __future__ import annotations

import asyncio
import uuid
import zlib
from collections.abc import Collection
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from events.clock import ManualClock
from events.codec import encode_value, key_for
from events.envelope import Envelope
from events.topics import DIRECTORY, TASK_EVENTS
from services.reporting.bootstrap import DEFINITION
from services.reporting.domain import STATES
from services.runtime import db, revocations
from services.runtime.consuming import Consumer, Record
from tests.integration.test_report_paths import START, random_world

pytestmark = pytest.mark.integration

NONZERO = " OR ".join(f"{c} <> 0" for c in STATES)
TABLES = {
    "tasks": "SELECT * FROM tasks",
    "task_history": "SELECT * FROM task_history",
    "journal": f"SELECT * FROM journal WHERE {NONZERO}",  # a row back at zero may or may not remain
    "live": f"SELECT * FROM live WHERE {NONZERO}",
    "agencies": "SELECT * FROM agencies",
    "agency_tree": "SELECT * FROM agency_tree",
    "documents": "SELECT * FROM documents",
    "inbox": "SELECT event_id, event_type FROM inbox",
    "dead_letters": 'SELECT topic, partition, "offset", error FROM dead_letters',
}


class NoBroker:
    """Dead letters land in the table only (there should be none)."""

    async def send(self, *_: Any, **__: Any) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def records_of(envelopes: list[Envelope]) -> list[Record]:
    """The log as the broker would hold it: each key in one partition, offsets in order per partition."""
    offsets: dict[tuple[str, int], int] = {}
    out = []
    for i, envelope in enumerate(envelopes):
        topic = envelope.payload.topic
        key = key_for(envelope)
        partition = zlib.crc32(key or b"") % (3 if topic == DIRECTORY else 6)
        offset = offsets.get((topic, partition), 0)
        offsets[(topic, partition)] = offset + 1
        out.append(Record(topic, partition, offset, key, encode_value(envelope), timestamp=i))
    assert {r.topic for r in out} <= {TASK_EVENTS, DIRECTORY}
    return out


async def fresh_schema(database_url: str) -> tuple[asyncpg.Pool, str]:
    name = f"rb_{uuid.uuid4().hex[:10]}"
    pool = await db.create_pool(database_url, name, min_size=1, max_size=6)
    await db.migrate(pool, name, {"runtime": db.RUNTIME_MIGRATIONS, "reporting": DEFINITION.migrations})
    async with pool.acquire() as conn:
        await conn.execute("SELECT live_roll($1)", (START.date().replace(year=START.year + 1)))
    return pool, name


class Counting(Consumer):
    """Counts the task events handled alone: in batches, none should be (a failed run falls back to that)."""

    alone = 0

    async def handle(self, record: Record) -> str:
        self.alone += record.topic == TASK_EVENTS
        return await super().handle(record)


def consumer(pool: asyncpg.Pool, schema: str, *, batched: bool) -> Counting:
    return Counting(
        "reporting",
        schema,
        revocations.consumer_handlers(DEFINITION.topics, DEFINITION.handlers),
        pool,
        NoBroker(),  # type: ignore[arg-type]
        ManualClock(START),
        attempts=1,
        backoff_s=0.01,
        concurrency=4 if batched else 1,
        batch=DEFINITION.batch_handler if batched else None,
    )


async def in_batches(consumer: Consumer, log: list[Record], cuts: list[int], again: Collection[int] = ()) -> None:
    """``log`` to ``consumer`` in batches of the sizes in ``cuts`` (again and again); the ``again``-th
    batches twice (the offsets were not committed: the same batch comes again)."""
    start, n = 0, 0
    while start < len(log):
        size = cuts[n % len(cuts)]
        batch = log[start : start + size]
        await consumer.handle_batch(batch)
        if n in again:
            await consumer.handle_batch(batch)
        start, n = start + size, n + 1


async def tables(pool: asyncpg.Pool) -> dict[str, list[tuple[Any, ...]]]:
    async with pool.acquire() as conn:
        return {name: sorted(tuple(r) for r in await conn.fetch(sql)) for name, sql in TABLES.items()}


# No shrinking: each example migrates two schemas; a failure prints the drawn seed, cuts and repeats.
@settings(
    max_examples=4,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 10_000),
    cuts=st.lists(st.integers(1, 60), min_size=1, max_size=40),
    again=st.sets(st.integers(0, 39), max_size=4),
)
async def test_a_history_applied_in_batches_gives_the_tables_it_gives_one_by_one(
    infra: Any, seed: int, cuts: list[int], again: set[int]
) -> None:
    world = random_world(seed, tasks=30)
    log = records_of(world.delivery_order())
    one_pool, one = await fresh_schema(infra.database_url)
    many_pool, many = await fresh_schema(infra.database_url)
    try:
        single = consumer(one_pool, one, batched=False)
        for record in log:
            await single.handle_batch([record])
        batched = consumer(many_pool, many, batched=True)
        await in_batches(batched, log, cuts, again)
        assert batched.alone == 0, "a run failed and fell back to one by one"
        expected = await tables(one_pool)
        assert expected["tasks"] and not expected["dead_letters"]
        got = await tables(many_pool)
        for name in TABLES:
            assert got[name] == expected[name], name
    finally:
        for pool, name in ((one_pool, one), (many_pool, many)):
            async with pool.acquire() as conn:
                await conn.execute(f'DROP SCHEMA "{name}" CASCADE')
            await pool.close()
