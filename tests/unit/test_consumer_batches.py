"""How a fetched batch is cut up (services/runtime/consuming.py), without a broker: which records are
handled in which order, and which side by side."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest

from events.clock import VN_TZ
from events.codec import encode_value
from events.directory import AgencyChanged
from events.envelope import Actor, new_envelope
from events.tasks import ProgressReported, TaskWithdrawn
from services.runtime.consuming import BatchHandler, Consumer, Record
from tests.conftest import eventually


class Recording(Consumer):
    """A consumer whose handling of a record is only noted (and, for gated keys, held)."""

    def __init__(self, concurrency: int, held: asyncio.Event | None = None) -> None:
        super().__init__("test", "test", {}, pool=None, producer=None, clock=None, concurrency=concurrency)  # type: ignore[arg-type]
        self.order: list[str] = []
        self.held = held

    async def handle(self, record: Record) -> str:
        note = (record.value or b"").decode()
        if self.held is not None and note.startswith("held"):
            await self.held.wait()
        self.order.append(note)
        return "handled"


def rec(partition: int, offset: int, timestamp: int, note: str, key: bytes = b"k", topic: str = "t") -> Record:
    return Record(topic, partition, offset, key, note.encode(), timestamp)


async def test_one_lane_follows_send_time_across_partitions_and_keeps_each_partitions_order() -> None:
    consumer = Recording(concurrency=1)
    # As aiokafka hands them over: partition after partition.
    batch = [
        rec(0, 10, 1000, "assigned"),
        rec(0, 11, 3000, "completed"),
        rec(1, 5, 2000, "alert raised", topic="alerts"),
        rec(1, 6, 2500, "alert delivered", topic="alerts"),
        # A producer's clock may step back: the partition's own order still wins over the timestamp.
        rec(2, 0, 2200, "second of partition 2 sent first?"),
        rec(2, 1, 2100, "later offset, earlier time"),
    ]
    await consumer.handle_batch(batch)
    assert consumer.order == [
        "assigned",
        "alert raised",
        "second of partition 2 sent first?",
        "later offset, earlier time",
        "alert delivered",
        "completed",
    ]


async def test_lanes_keep_each_keys_order_and_a_held_key_does_not_hold_the_others() -> None:
    held = asyncio.Event()
    consumer = Recording(concurrency=4, held=held)
    batch = [
        rec(0, 0, 1, "held a0", key=b"a"),
        rec(0, 1, 2, "b0", key=b"b"),
        rec(0, 2, 3, "a1", key=b"a"),
        rec(0, 3, 4, "b1", key=b"b"),
    ]
    handling = asyncio.create_task(consumer.handle_batch(batch))

    async def b_done() -> bool:
        return consumer.order == ["b0", "b1"]

    await eventually(b_done, timeout=5, interval=0.005, what="key b handled while key a is held")
    assert not handling.done()  # the batch (and its offset commit) waits for key a
    held.set()
    await asyncio.wait_for(handling, 5)
    assert consumer.order == ["b0", "b1", "held a0", "a1"]


async def test_concurrency_never_exceeds_its_bound() -> None:
    running, peak = 0, 0

    class Counting(Recording):
        async def handle(self, record: Record) -> Any:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.01)
            running -= 1
            return "handled"

    consumer = Counting(concurrency=3)
    await consumer.handle_batch([rec(0, i, i, f"n{i}", key=f"k{i}".encode()) for i in range(12)])
    assert peak == 3


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.CrashShutdownError("terminating connection because of crash of another server process"),
        asyncpg.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only transaction"),
        asyncpg.IdleInTransactionSessionTimeoutError("terminating connection due to idle-in-transaction timeout"),
        asyncpg.QueryCanceledError("canceling statement due to user request"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        ConnectionResetError("reset by peer"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_a_database_going_away_is_retried_until_it_works_and_never_dead_lettered(error: Exception) -> None:
    failures_left = 5  # more than the handler's attempts: a message error would be dead-lettered by now
    dead_lettered: list[str] = []

    class Flaky(Consumer):
        async def _handle_once(self, record: Record, envelope: Any, handler: Any) -> str:
            nonlocal failures_left
            if failures_left:
                failures_left -= 1
                raise error
            return "handled"

        async def _dead_letter(self, record: Record, error: str, *, attempts: int) -> None:
            dead_lettered.append(error)

    consumer = Flaky("test", "test", {}, pool=None, producer=None, clock=None, attempts=3, backoff_s=0.0)  # type: ignore[arg-type]
    envelope = SimpleNamespace(event_type="TaskAssigned")
    outcome = await consumer._handle_with_retries(rec(0, 0, 0, "x"), envelope, handler=None)  # type: ignore[arg-type]
    assert (outcome, failures_left, dead_lettered) == ("handled", 0, [])


async def test_a_handler_error_is_still_dead_lettered_after_its_attempts() -> None:
    dead_lettered: list[str] = []

    class Failing(Consumer):
        async def _handle_once(self, record: Record, envelope: Any, handler: Any) -> str:
            raise asyncpg.UniqueViolationError("duplicate key value violates unique constraint")

        async def _dead_letter(self, record: Record, error: str, *, attempts: int) -> None:
            dead_lettered.append(error)

    consumer = Failing("test", "test", {}, pool=None, producer=None, clock=None, attempts=2, backoff_s=0.0)  # type: ignore[arg-type]
    outcome = await consumer._handle_with_retries(rec(0, 0, 0, "x"), SimpleNamespace(event_type="T"), handler=None)  # type: ignore[arg-type]
    assert outcome == "dead-lettered" and len(dead_lettered) == 1


def _event(payload: Any, task_id: str) -> Record:
    envelope = new_envelope(
        payload,
        event_id=uuid.uuid4(),
        occurred_at=datetime(2031, 3, 2, 8, 0, tzinfo=VN_TZ),
        producer="test",
        actor=Actor(agency_id="cp"),
        task_id=task_id,
    )
    return Record("dondoc.task-events", 0, 0, task_id.encode(), encode_value(envelope), 0)


WITHDRAWN = TaskWithdrawn(withdrawn_by_agency_id="cp", reason="Không còn phù hợp")
PROGRESS = ProgressReported(percent=10)
AGENCY = AgencyChanged(agency_id="so-x", name="Sở X", level="so-nganh", parent_id=None, version=1)


class Runs(Consumer):
    """Batched consumer whose runs and lone records are only noted; a run may be told to fail."""

    def __init__(self, fail: BaseException | None = None) -> None:
        async def nothing(event: Any, uow: Any) -> None:
            return None

        batch = BatchHandler(frozenset({"TaskWithdrawn"}), apply=None)  # type: ignore[arg-type]
        handlers = {"TaskWithdrawn": nothing, "AgencyChanged": nothing}
        super().__init__("test", "test", handlers, pool=None, producer=None, clock=None, batch=batch, backoff_s=0.0)  # type: ignore[arg-type]
        self.runs: list[list[str]] = []
        self.alone: list[str] = []
        self.fail = fail

    async def _apply_run_once(self, run: list[tuple[Record, Any]]) -> int:
        if self.fail is not None:
            failure = self.fail
            if isinstance(failure, asyncpg.PostgresConnectionError):
                self.fail = None  # the database is back for the retry
            raise failure
        self.runs.append([r.key.decode() for r, _ in run if r.key])
        return len(run)

    async def handle(self, record: Record) -> str:
        self.alone.append((record.key or b"").decode())
        return "handled"


async def test_a_run_goes_on_past_events_nobody_here_handles_and_stops_at_one_handled_alone() -> None:
    consumer = Runs()
    a, b = _event(WITHDRAWN, "a"), _event(WITHDRAWN, "b")
    ignored = _event(PROGRESS, "p")
    directory = _event(AGENCY, "so-x")
    c = _event(WITHDRAWN, "c")
    garbage = Record("dondoc.task-events", 0, 0, b"g", b"not an envelope", 0)
    await consumer.handle_batch([a, ignored, b, directory, c, garbage])
    assert consumer.runs == [["a", "b"], ["c"]]
    assert consumer.alone == ["so-x", "g"]  # the directory event between the runs, the garbage to its dead letter


async def test_a_failed_run_is_handled_again_one_by_one_and_an_unreachable_database_retries_the_run() -> None:
    failing = Runs(fail=ValueError("a bad event somewhere in the run"))
    await failing.handle_batch([_event(WITHDRAWN, "a"), _event(WITHDRAWN, "b")])
    assert (failing.runs, failing.alone) == ([], ["a", "b"])
    flaky = Runs(fail=asyncpg.ConnectionDoesNotExistError("connection was closed"))
    await flaky.handle_batch([_event(WITHDRAWN, "a"), _event(WITHDRAWN, "b")])
    assert (flaky.runs, flaky.alone) == ([["a", "b"]], [])


class SlowRuns(Runs):
    """Runs that take a few turns of the event loop to apply, noting whether two were ever applied at once."""

    def __init__(self, run_records: int) -> None:
        super().__init__()
        self.run_records = run_records
        self.applying = 0
        self.overlapped = False
        self.order: list[str] = []

    async def _apply_run_once(self, run: list[tuple[Record, Any]]) -> int:
        self.applying += 1
        self.overlapped |= self.applying > 1
        for _ in range(3):
            await asyncio.sleep(0)
        self.applying -= 1
        self.order.append("run")
        return await super()._apply_run_once(run)

    async def handle(self, record: Record) -> str:
        self.overlapped |= self.applying > 0
        self.order.append("alone")
        return await super().handle(record)


async def test_long_runs_are_cut_and_applied_one_after_the_other_in_order_while_the_next_is_decoded() -> None:
    consumer = SlowRuns(run_records=2)
    keys = "abcde"
    records = [_event(WITHDRAWN, k) for k in keys[:3]] + [_event(AGENCY, "so-x")]
    records += [_event(WITHDRAWN, k) for k in keys[3:]]
    await consumer.handle_batch(records)
    assert consumer.runs == [["a", "b"], ["c"], ["d", "e"]]
    assert consumer.order == ["run", "run", "alone", "run"]  # the lone record waited for the run before it
    assert not consumer.overlapped
