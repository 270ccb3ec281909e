"""A batch changes the alerts and progress tables exactly as its events one by one do (their set-based
handlers, services/runtime/consuming.py's ``in_segments``).

The same random history as tests/integration/test_report_batches.py (delegation, a reorganised
directory, completions, returns, extensions, withdrawals, secret tasks), with the agencies' heads
(alerts has someone to tell) and a few overdue tasks (alerts' timers), and, for alerts, reminders before
a deadline and tasks a reorganisation moves (every type alerts applies set-based), the directory first, cut at random
into fetched batches, some delivered twice. One record at a time into one schema, the batches with
partitions side by side into another: every table is the same in both, but for what a serial or the
database clock numbers (the stream's seq and the outbox's id, whose order across tasks follows commit
order, and created_at).
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, time, timedelta
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from events.clock import VN_TZ, ManualClock
from events.directory import AgencyChanged, PersonChanged
from events.envelope import Actor, Envelope, EventPayload, new_envelope
from events.tasks import DeadlineApproaching, SourceDocument, TaskAssigned, TaskOverdue, TaskTransferred
from events.topics import DIRECTORY
from services.registry import definition
from services.runtime import db, revocations
from services.runtime.service import ServiceDefinition
from services.runtime.settings import Settings
from tests.integration.test_report_batches import Counting, NoBroker, in_batches, records_of
from tests.integration.test_report_paths import START, World, random_world

pytestmark = pytest.mark.integration


def with_heads_and_overdue(world: World, rng: random.Random) -> World:
    """Each agency gets a head (just after the agency), a third of the dated tasks a
    TaskOverdue somewhere after their assignment."""
    directory: list[Envelope] = []
    for envelope in world.streams["directory"]:
        directory.append(envelope)
        agency = envelope.payload
        if isinstance(agency, AgencyChanged) and agency.version == 1:
            head = PersonChanged(
                person_id=f"head-{agency.agency_id}",
                agency_id=agency.agency_id,
                full_name="Thủ trưởng",
                role="head",
                version=1,
            )
            directory.append(
                new_envelope(head, event_id=uuid.uuid4(), occurred_at=START, producer="test", actor=envelope.actor)
            )
    world.streams["directory"] = directory
    for name, stream in world.streams.items():
        first = stream[0].payload
        if name == "directory" or not isinstance(first, TaskAssigned) or first.deadline.due is None:
            continue
        if rng.random() < 0.35:
            due = first.deadline.due
            since = datetime.combine(due + timedelta(days=1), time(0, 0), tzinfo=VN_TZ)
            overdue = new_envelope(
                TaskOverdue(due=due, overdue_since=since),
                event_id=uuid.uuid4(),
                occurred_at=since,
                producer="progress",
                actor=Actor(agency_id=first.lead_agency_id),
                task_id=stream[0].task_id,
            )
            stream.insert(rng.randint(1, len(stream)), overdue)
    return world


def with_reminders_and_transfers(world: World, rng: random.Random) -> World:
    """Alerts' other causes: a DeadlineApproaching for a third of the dated tasks, and a reorganisation
    moving a third of the tasks (as lead or coordinating agency) to another agency, somewhere after their
    assignment."""
    agencies = sorted({e.payload.agency_id for e in world.streams["directory"] if isinstance(e.payload, AgencyChanged)})
    for name, stream in world.streams.items():
        first = stream[0].payload
        if name == "directory" or not isinstance(first, TaskAssigned):
            continue
        at = stream[0].occurred_at
        if first.deadline.due is not None and rng.random() < 0.35:
            due = first.deadline.due
            near = DeadlineApproaching(due=due, working_days_left=rng.randint(0, 5), fires_at=at)
            stream.insert(rng.randint(1, len(stream)), _event(near, at, first.lead_agency_id, stream[0].task_id))
        if rng.random() < 0.35:
            role = "phoi-hop" if first.coordinating_agency_ids and rng.random() < 0.5 else "chu-tri"
            old = first.coordinating_agency_ids[0] if role == "phoi-hop" else first.lead_agency_id
            move = TaskTransferred(
                reorganisation_id=f"reorg-{rng.randint(1, 2)}",
                decision=SourceDocument(number="202/2025/QH15", issued_on=at.date(), issuer="Quốc hội"),
                effective_on=at.date(),
                from_agency_id=old,
                to_agency_id=rng.choice([a for a in agencies if a != old]),
                role=role,
            )
            stream.insert(rng.randint(1, len(stream)), _event(move, at, "cp", stream[0].task_id))
    return world


def _event(payload: EventPayload, at: datetime, actor: str, task_id: str | None) -> Envelope:
    return new_envelope(
        payload, event_id=uuid.uuid4(), occurred_at=at, producer="test", actor=Actor(agency_id=actor), task_id=task_id
    )


async def fresh_schema(database_url: str, service: ServiceDefinition) -> tuple[asyncpg.Pool, str]:
    name = f"ab_{uuid.uuid4().hex[:10]}"
    pool = await db.create_pool(database_url, name, min_size=1, max_size=6)
    await db.migrate(pool, name, {"runtime": db.RUNTIME_MIGRATIONS, service.name: service.migrations})
    return pool, name


def consumer(pool: asyncpg.Pool, schema: str, service: ServiceDefinition, *, batched: bool) -> Counting:
    return Counting(
        service.name,
        schema,
        revocations.consumer_handlers(service.topics, service.handlers),
        pool,
        NoBroker(),  # type: ignore[arg-type]
        ManualClock(START),
        attempts=1,
        backoff_s=0.01,
        concurrency=4 if batched else 1,
        batch=service.batch_handler if batched else None,
    )


# The outbox's headers carry each event's traceparent, and a timer the trace of what planned it: a new trace
# every run, whatever the batching.
PER_RUN = {("outbox", "headers"), ("timers", "traceparent")}


async def tables(pool: asyncpg.Pool, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    async with pool.acquire() as conn:
        columns: dict[str, list[str]] = {}
        for r in await conn.fetch(
            # Columns a serial or the database clock fills follow commit order, not the events: left out.
            """SELECT table_name, column_name FROM information_schema.columns
               WHERE table_schema = $1 AND table_name NOT LIKE 'schema_%'
                 AND coalesce(column_default, '') NOT LIKE '%now()%'
                 AND coalesce(column_default, '') NOT LIKE 'nextval%'
               ORDER BY table_name, ordinal_position""",
            schema,
        ):
            if (r["table_name"], r["column_name"]) not in PER_RUN:
                columns.setdefault(r["table_name"], []).append(r["column_name"])
        got = {}
        for table, cols in columns.items():
            listed = ", ".join(f'"{c}"' for c in cols)
            got[table] = sorted(tuple(map(repr, r)) for r in await conn.fetch(f'SELECT {listed} FROM "{table}"'))
        return got


@settings(
    max_examples=3,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 10_000),
    cuts=st.lists(st.integers(1, 60), min_size=1, max_size=40),
    again=st.sets(st.integers(0, 39), max_size=4),
)
@pytest.mark.parametrize("service_name", ["alerts", "progress"])
async def test_alerts_and_progress_give_in_batches_the_tables_they_give_one_by_one(
    infra: Any, service_name: str, seed: int, cuts: list[int], again: set[int]
) -> None:
    service = definition(service_name)
    world = with_heads_and_overdue(random_world(seed, tasks=30), random.Random(seed))
    if service_name == "alerts":
        world = with_reminders_and_transfers(world, random.Random(seed + 1))
    # The directory first, in batches of its own: what alerts tells depends on who is known when a task
    # arrives, and a batch runs its directory partition beside its task partitions (as it did before the
    # set-based handlers), so a head arriving in the batch of a task may or may not be told. That is
    # timing across partitions, not what batching changes.
    order = world.delivery_order()
    log = records_of([e for e in order if e.task_id is None] + [e for e in order if e.task_id is not None])
    directory = [r for r in log if r.topic == DIRECTORY]
    one_pool, one = await fresh_schema(infra.database_url, service)
    many_pool, many = await fresh_schema(infra.database_url, service)
    try:
        single = consumer(one_pool, one, service, batched=False)
        for record in log:
            await single.handle_batch([record])
        batched = consumer(many_pool, many, service, batched=True)
        await batched.handle_batch(directory)
        await in_batches(batched, log[len(directory) :], cuts, again)
        assert batched.alone == 0, "a run failed and fell back to one by one"
        expected = await tables(one_pool, one)
        assert expected["tasks"] and not expected["dead_letters"]
        if service_name == "alerts":
            assert expected["alerts"] and expected["stream"], "the history raised no alert: nothing compared"
            kinds = {row[2] for row in expected["alerts"]}  # the alerts table's third column: the kind
            assert {"'assigned'", "'transferred'"} <= kinds, kinds
        else:
            assert expected["timers"], "the history planned no timer: nothing compared"
        got = await tables(many_pool, many)
        assert set(got) == set(expected)
        for name in expected:
            assert got[name] == expected[name], (
                name,
                [r[:6] for r in set(got[name]) - set(expected[name])],
                [r[:6] for r in set(expected[name]) - set(got[name])],
            )
    finally:
        for pool, name in ((one_pool, one), (many_pool, many)):
            async with pool.acquire() as conn:
                await conn.execute(f'DROP SCHEMA "{name}" CASCADE')
            await pool.close()


@settings(
    max_examples=2,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 10_000), cuts=st.lists(st.integers(1, 80), min_size=1, max_size=20))
async def test_the_audit_chain_recorded_in_batches_is_the_chain_recorded_one_by_one(
    infra: Any, seed: int, cuts: list[int]
) -> None:
    service = definition("audit")
    keyed = Settings(audit_key="k" * 32)
    log = records_of(with_heads_and_overdue(random_world(seed, tasks=20), random.Random(seed)).delivery_order())
    one_pool, one = await fresh_schema(infra.database_url, service)
    many_pool, many = await fresh_schema(infra.database_url, service)
    try:
        single = Counting(
            "audit", one, revocations.consumer_handlers(service.topics, service.handlers_for(keyed)), one_pool,
            NoBroker(), ManualClock(START),  # type: ignore[arg-type]
        )  # fmt: skip
        for record in log:
            await single.handle_batch([record])
        batched = Counting(
            "audit", many, revocations.consumer_handlers(service.topics, service.handlers_for(keyed)), many_pool,
            NoBroker(), ManualClock(START), batch=service.batch_handler_for(keyed),  # type: ignore[arg-type]
        )  # fmt: skip
        await in_batches(batched, log, cuts)
        assert batched.alone == 0, "a run failed and fell back to one by one"
        chain = 'SELECT seq, event_id, topic, partition, "offset", prev_hash, hash FROM events ORDER BY seq'
        async with one_pool.acquire() as a, many_pool.acquire() as b:
            expected = [tuple(r) for r in await a.fetch(chain)]
            assert len(expected) == len(log)
            assert [tuple(r) for r in await b.fetch(chain)] == expected
            for table in ("chain_head", "chain_offsets"):
                assert sorted(map(tuple, await b.fetch(f"SELECT * FROM {table}"))) == sorted(
                    map(tuple, await a.fetch(f"SELECT * FROM {table}"))
                ), table
    finally:
        for pool, name in ((one_pool, one), (many_pool, many)):
            async with pool.acquire() as conn:
                await conn.execute(f'DROP SCHEMA "{name}" CASCADE')
            await pool.close()
