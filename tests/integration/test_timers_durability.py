"""Durable deadline timers on the real database: never dropped, never fired twice — with two workers on
one table, a worker whose lease expired, a crash before commit, and a restarted or doubled service."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import asyncpg
import pytest

from events.clock import VN_TZ, ManualClock
from events.envelope import Actor
from events.tasks import TaskOverdue
from events.topics import TASK_EVENTS
from services.progress.bootstrap import definition
from services.runtime import db, timers, tracing
from services.runtime.timers import Timer, TimerWorker
from services.runtime.unit_of_work import UnitOfWork, emit_all
from tests.conftest import eventually
from tests.integration.progress_alerts_kit import Events, assign, topic_events

pytestmark = pytest.mark.integration

NOW = datetime(2022, 12, 1, 9, 0, tzinfo=VN_TZ)


@pytest.fixture
async def pool(settings: Any) -> AsyncIterator[asyncpg.Pool]:
    """A schema of its own with the runtime's tables (timers, outbox), as every service has."""
    schema = f"timers_{uuid.uuid4().hex[:10]}"
    pool = await db.create_pool(settings.database_url, schema, max_size=12)
    await db.migrate(pool, schema, {"runtime": db.RUNTIME_MIGRATIONS})
    try:
        yield pool
    finally:
        await pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await pool.close()


class Recorder:
    """A timer handler that emits an event (into the outbox, in the firing transaction) and counts calls."""

    def __init__(self, fail_first: int = 0, always_fails: frozenset[str] = frozenset()) -> None:
        self.calls: list[str] = []
        self._fail_first, self._always_fails = fail_first, always_fails

    async def __call__(self, timer: Timer, uow: UnitOfWork) -> None:
        self.calls.append(timer.subject_id)
        if len(self.calls) <= self._fail_first or timer.subject_id in self._always_fails:
            raise RuntimeError("crash before commit")
        await asyncio.sleep(0)  # let a concurrent worker interleave here
        await uow.emit(
            TaskOverdue(due=date(2022, 11, 30), overdue_since=timer.fire_at),
            actor=Actor(agency_id="dondoc"),
            task_id=timer.subject_id,
            id_parts=(timer.timer_id,),
        )


class BatchRecorder:
    """A batch timer handler: records each call's (kind, subject) and emits every timer's event in one statement,
    each in its own timer's trace."""

    def __init__(self) -> None:
        self.calls: list[list[tuple[str, str]]] = []

    async def __call__(self, fired: Sequence[Timer], uow: UnitOfWork) -> None:
        self.calls.append([(t.kind, t.subject_id) for t in fired])
        payload = TaskOverdue(due=date(2022, 11, 30), overdue_since=NOW)
        envelopes = [
            uow.envelope(payload, actor=Actor(agency_id="dondoc"), task_id=t.subject_id, id_parts=(t.timer_id,))
            for t in fired
        ]
        await emit_all(uow.conn, uow.schema, envelopes, traceparents=timers.traces(fired))


def worker(pool: asyncpg.Pool, recorder: Recorder, batch_size: int = 100) -> TimerWorker:
    return TimerWorker(
        pool,
        ManualClock(NOW),
        {"overdue": recorder},
        service="test",
        schema="test",
        lease_s=30.0,
        batch_size=batch_size,
    )


async def schedule(pool: asyncpg.Pool, n: int) -> list[str]:
    subjects = [f"task-{i}" for i in range(n)]
    async with pool.acquire() as conn:
        for s in subjects:
            await timers.schedule(
                conn, kind="overdue", subject_id=s, dedup_key="2022-11-30", fire_at=NOW - timedelta(minutes=1)
            )
    return subjects


async def fired(pool: asyncpg.Pool) -> list[str]:
    return [r["key"] for r in await pool.fetch("SELECT key FROM outbox ORDER BY key")]


async def test_scheduling_the_same_timer_twice_keeps_one(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        first = await timers.schedule(conn, kind="overdue", subject_id="t", dedup_key="d", fire_at=NOW)
        again = await timers.schedule(conn, kind="overdue", subject_id="t", dedup_key="d", fire_at=NOW)
    assert (first, again) == (True, False)
    assert await pool.fetchval("SELECT count(*) FROM timers") == 1


async def test_cancelling_skips_a_timer_being_fired_instead_of_waiting_for_its_worker(pool: asyncpg.Pool) -> None:
    """The deadlock a completion report met with the overdue timer of its task firing: the worker holds the
    timer row and wants the task, the command holds the task and cancels the timer. Skipping rows being
    fired keeps one lock order; their handler re-checks the task (services/progress/timer_handlers.py)."""
    subject, other = await schedule(pool, 2)
    async with pool.acquire() as firing, firing.transaction():
        # What the worker's claim-and-complete leaves: the timer row locked by the firing transaction.
        await firing.execute("UPDATE timers SET status = 'fired' WHERE subject_id = $1", subject)
        async with pool.acquire() as command:
            async with command.transaction():
                # Waiting would show as an error here at once, not as a hang.
                await command.execute("SET LOCAL lock_timeout = '5s'")
                assert await timers.cancel_many(command, [subject, other], skip_firing=True) == 1
            with pytest.raises(asyncpg.LockNotAvailableError):
                async with command.transaction():
                    await command.execute("SET LOCAL lock_timeout = '1s'")
                    await timers.cancel(command, subject)  # without it: waits for the worker
    statuses = dict(await pool.fetch("SELECT subject_id, status FROM timers"))
    assert statuses == {subject: "fired", other: "cancelled"}


async def test_two_workers_on_one_table_fire_every_timer_exactly_once(pool: asyncpg.Pool) -> None:
    subjects = await schedule(pool, 300)
    a, b = Recorder(), Recorder()
    wa, wb = worker(pool, a, batch_size=25), worker(pool, b, batch_size=25)

    async def drain(w: TimerWorker) -> None:
        while await w.fire_due():
            pass

    await asyncio.gather(drain(wa), drain(wb), drain(wa), drain(wb))
    assert sorted(a.calls + b.calls) == sorted(subjects)  # each handled once, by one worker
    assert a.calls and b.calls  # both really worked the table
    assert await fired(pool) == sorted(subjects)
    assert await pool.fetchval("SELECT count(*) FROM timers WHERE status = 'scheduled'") == 0


async def test_a_worker_whose_lease_expired_cannot_fire_the_timer_another_worker_now_holds(
    pool: asyncpg.Pool,
) -> None:
    await schedule(pool, 1)
    stalled, rescuer = Recorder(), Recorder()
    w_stalled = worker(pool, stalled)
    claimed = await w_stalled._claim()  # it claims, then stalls (GC pause, lost network…)
    assert len(claimed) == 1
    # Breaking it on purpose: the lease runs out while it stalls (time passes on the database clock).
    await pool.execute("UPDATE timers SET lease_expires_at = now() - interval '1 second'")
    assert await worker(pool, rescuer).fire_due() == 1
    timer, token = claimed[0]
    assert await w_stalled._fire(timer, token) is False  # its stale token no longer matches
    assert (stalled.calls, len(rescuer.calls)) == ([], 1)
    assert len(await fired(pool)) == 1


async def test_a_crash_before_commit_leaves_the_timer_scheduled_and_it_fires_after_its_lease(
    pool: asyncpg.Pool,
) -> None:
    await schedule(pool, 1)
    recorder = Recorder(fail_first=2)  # fails fired with its batch, and again fired alone
    w = worker(pool, recorder)
    assert await w.fire_due() == 0  # the handler failed: nothing committed, no event
    assert await fired(pool) == []
    assert await w.fire_due() == 0  # still leased: not retried in a tight loop
    await pool.execute("UPDATE timers SET lease_expires_at = now() - interval '1 second'")
    assert await w.fire_due() == 1
    assert len(await fired(pool)) == 1
    assert await pool.fetchval("SELECT status FROM timers") == "fired"


@pytest.mark.parametrize(
    ("together", "batch"),
    [(True, False), (False, False), (True, True)],
    ids=["fired-together", "fired-one-by-one", "fired-in-one-call"],
)
async def test_a_timers_event_continues_the_trace_of_what_scheduled_it(
    pool: asyncpg.Pool, together: bool, batch: bool
) -> None:
    traces = {"single": secrets.token_hex(16), "many": secrets.token_hex(16)}
    due = NOW - timedelta(minutes=1)
    async with pool.acquire() as conn:
        # As a consumer's handler plans a timer: inside the span of the event it handles.
        with tracing.span("consume TaskAssigned", f"00-{traces['single']}-{secrets.token_hex(8)}-01"):
            await timers.schedule(conn, kind="overdue", subject_id="single", dedup_key="d", fire_at=due)
        # As a batch plans many at once: each with its own cause's trace.
        cause = f"00-{traces['many']}-{secrets.token_hex(8)}-01"
        many = timers.PlannedTimer(kind="overdue", subject_id="many", dedup_key="d", fire_at=due, traceparent=cause)
        await timers.schedule_many(conn, [many])
    w = TimerWorker(
        pool,
        ManualClock(NOW),
        {"overdue": Recorder()},
        service="t",
        schema="t",
        fire_together=together,
        batch_handlers={"overdue": BatchRecorder()} if batch else None,
    )
    assert await w.fire_due() == 2
    rows = await pool.fetch("SELECT key, headers FROM outbox")
    assert {r["key"]: tracing.trace_id_of(tracing.from_headers(json.loads(r["headers"]))) for r in rows} == traces


async def test_a_batch_handler_fires_a_waves_timers_of_one_kind_in_one_call_each_subjects_in_their_order(
    pool: asyncpg.Pool,
) -> None:
    """When many deadlines pass together, each kind's timers fire in one call (a few statements, not a few
    per timer); a subject's earlier timer still fires before its later one (wave after wave)."""
    planned = [("approaching", "a", 3), ("overdue", "a", 1), ("overdue", "b", 2), ("overdue", "c", 2)]
    async with pool.acquire() as conn:
        for kind, subject, minutes_ago in planned:
            fire_at = NOW - timedelta(minutes=minutes_ago)
            await timers.schedule(conn, kind=kind, subject_id=subject, dedup_key=kind, fire_at=fire_at)
    many = BatchRecorder()
    one_by_one = Recorder()
    w = TimerWorker(
        pool,
        ManualClock(NOW),
        {"approaching": one_by_one, "overdue": one_by_one},
        service="t",
        schema="t",
        batch_handlers={"approaching": many, "overdue": many},
    )
    assert await w.fire_due() == 4
    assert many.calls == [[("approaching", "a")], [("overdue", "b"), ("overdue", "c")], [("overdue", "a")]]
    assert one_by_one.calls == []
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 4


@pytest.fixture
async def events(infra: Any) -> AsyncIterator[Events]:
    async with topic_events(infra.kafka, TASK_EVENTS, 6) as found:
        yield found


async def test_a_restarted_service_neither_drops_nor_repeats_a_deadline_event(
    infra: Any, settings: Any, run_service: Any, events: Events
) -> None:
    clock = ManualClock(datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ))
    async with run_service(definition(), clock) as http:
        task_id, _ = await assign(infra.kafka, clock.now(), officer="p-1")
        await eventually(lambda: _known(http, task_id), what="the task")
    # Down while the 7-working-day reminder (21/11 08:00) and the deadline pass.
    clock.set(datetime(2022, 12, 1, 0, 0, 1, tzinfo=VN_TZ))
    async with run_service(definition(), clock):
        overdue = await eventually(lambda: events.of(task_id, "TaskOverdue"), what="the overdue event")
    async with run_service(definition(), clock):  # and once more: nothing is fired again
        clock.advance(timedelta(days=1))
        await _drained(settings)
    assert overdue and await distinct(events, task_id, "TaskOverdue") == 1
    # A reminder that came due while the service was down and is stale by now is dropped, not sent late.
    assert await events.of(task_id, "DeadlineApproaching") == []


async def test_two_replicas_running_at_once_fire_each_deadline_once(
    infra: Any, settings: Any, run_service: Any, events: Events
) -> None:
    clock = ManualClock(datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ))
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(run_service(definition(), clock))
        await stack.enter_async_context(run_service(definition(), clock))
        task_ids = [(await assign(infra.kafka, clock.now(), officer=f"p-{i}", due="2022-11-10"))[0] for i in range(20)]
        for task_id in task_ids:
            await eventually(partial(_known, first, task_id), what="every task")
        # 7, 3 and 1 working days before Thursday 10/11/2022 (both replicas poll the same table):
        for day, event_type in ((7, "DeadlineApproaching"), (9, "DeadlineApproaching"), (11, "TaskOverdue")):
            clock.set(datetime(2022, 11, day, 8, 0, 1, tzinfo=VN_TZ))

            async def all_fired(event_type: str = event_type, day: int = day) -> bool:
                for t in task_ids:
                    if not [e for e in await events.of(t, event_type) if e.occurred_at.day == day]:
                        return False
                return True

            await eventually(all_fired, what=f"every task's {event_type} of {day}/11")
        await _drained(settings)
    for task_id in task_ids:
        assert await distinct(events, task_id, "TaskOverdue") == 1
        # 7 working days before was 1/11, before the assignment: only the 3- and 1-day reminders, once each.
        assert await distinct(events, task_id, "DeadlineApproaching") == 2


async def distinct(events: Events, task_id: str, event_type: str) -> int:
    """Events as consumers see them (``Events.of`` counts an id once): the relay publishes at least
    once — a service stopped between Kafka's ack and marking the row re-publishes it — and every
    inbox drops a repeated event id. What must never happen is two *different* ids for one deadline."""
    return len(await events.of(task_id, event_type))


async def _known(http: Any, task_id: str) -> bool:
    return bool((await http.get(f"/v1/tasks/{task_id}")).status_code == 200)


async def _drained(settings: Any) -> None:
    """No due timer left unfired and the outbox published: what happened has reached Kafka."""
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": "progress"})
    try:

        async def quiet() -> bool:
            return not await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")

        await eventually(quiet, what="the outbox to be published")
    finally:
        await conn.close()


async def test_a_failing_timer_does_not_hold_back_the_others_claimed_with_it(pool: asyncpg.Pool) -> None:
    subjects = await schedule(pool, 5)
    w = worker(pool, Recorder(always_fails=frozenset({"task-2"})))
    assert await w.fire_due() == 4  # the batch fired together rolls back whole; then one by one
    assert await fired(pool) == [s for s in subjects if s != "task-2"]  # each once, none for the failure
    statuses = {r["subject_id"]: r["status"] for r in await pool.fetch("SELECT subject_id, status FROM timers")}
    assert statuses == {s: "scheduled" if s == "task-2" else "fired" for s in subjects}
