"""Durable timers (rows in PostgreSQL), fired in the same transaction as the events they cause.

Invariants (tests/integration/test_timers_durability.py breaks each on purpose):
* ``schedule`` is idempotent: one live timer per (kind, subject, dedup key) by a partial unique index.
* A due timer is claimed by one worker at a time (the leased work queue, work_queue.py: FOR UPDATE
  SKIP LOCKED + a lease token on the database clock); two replicas never fire it twice.
* Firing marks the row fired *and* writes the outbox event in one transaction, guarded by the lease
  token: a worker whose lease expired (it stalled) cannot fire a timer another worker now holds.
  A crash before commit leaves the row scheduled, and its lease expires: it fires later, never lost.
* "Due" is decided by the injectable domain clock, so tests move time instead of sleeping.
* A timer carries the trace of its cause: the traceparent current when it was scheduled (migration 010),
  continued by the span its firing runs in (runtime/tracing.py).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from events.clock import Clock
from events.envelope import deterministic_id
from services.runtime import metrics, tracing
from services.runtime.logs import bound, get_logger
from services.runtime.unit_of_work import UnitOfWork
from services.runtime.work_queue import LEASE_FREE, QueueShape, WorkQueue, keep_working

log = get_logger(__name__)


@dataclass(frozen=True)
class Timer:
    timer_id: uuid.UUID
    kind: str
    subject_id: str
    dedup_key: str
    fire_at: datetime
    data: dict[str, Any]
    traceparent: str | None = None  # of what scheduled it; its firing continues that trace


TimerHandler = Callable[[Timer, UnitOfWork], Awaitable[None]]
BatchTimerHandler = Callable[[Sequence[Timer], UnitOfWork], Awaitable[None]]
"""Fires many timers of one kind in one transaction with what ``TimerHandler`` does to each, in a few
statements instead of a few per timer: when a hundred deadlines pass while a bulk import drains, each round
trip waits its turn behind the import's, and those waits, not the work, made the last alert seconds late.
Each event it emits joins its own timer's trace (``traces``)."""

# A timer is not retried on a schedule of its own: a failed firing rolls back and the row's lease runs
# out, so it is tried again one lease later, for as long as it takes (a deadline is never given up on).
TIMERS = QueueShape(
    name="timers",
    table="timers",
    key="timer_id",
    waiting="scheduled",
    due="fire_at <= {0}",  # the domain clock's now, so tests move time instead of sleeping
    order="fire_at",
    returning="timer_id, kind, subject_id, dedup_key, fire_at, data, traceparent",
)
FIRED = "status = 'fired', fired_at = now()"

# One encoder for every timer's data: json.dumps(..., default=str) builds a new one per call, which was most
# of scheduling a bulk import's timers.
_to_json = json.JSONEncoder(default=str).encode


async def schedule(
    conn: asyncpg.Connection,
    *,
    kind: str,
    subject_id: str,
    dedup_key: str,
    fire_at: datetime,
    data: Mapping[str, Any] | None = None,
    traceparent: str | None = None,
) -> bool:
    """Schedule (or keep) a timer; returns False if an identical live timer already exists. ``traceparent``:
    the trace its firing continues (default: the current one)."""
    timer_id = deterministic_id("timer", kind, subject_id, dedup_key, fire_at.isoformat())
    inserted = await conn.fetchval(
        """INSERT INTO timers (timer_id, kind, subject_id, dedup_key, fire_at, data, traceparent)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) ON CONFLICT DO NOTHING RETURNING true""",
        timer_id,
        kind,
        subject_id,
        dedup_key,
        fire_at,
        _to_json(dict(data or {})),
        traceparent or tracing.current(),
    )
    return bool(inserted)


@dataclass(frozen=True)
class PlannedTimer:
    """A timer to schedule: ``schedule``'s keyword arguments, for ``schedule_many``."""

    kind: str
    subject_id: str
    dedup_key: str
    fire_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)
    traceparent: str | None = None  # the cause's trace (None: the one current when scheduled)


async def schedule_many(conn: asyncpg.Connection, timers: Sequence[PlannedTimer]) -> None:
    """``schedule`` for many timers in one statement."""
    if not timers:
        return
    ids = [deterministic_id("timer", t.kind, t.subject_id, t.dedup_key, t.fire_at.isoformat()) for t in timers]
    await conn.execute(
        """INSERT INTO timers (timer_id, kind, subject_id, dedup_key, fire_at, data, traceparent)
           SELECT timer_id, kind, subject_id, dedup_key, fire_at, data::jsonb, traceparent
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[])
               WITH ORDINALITY AS t (timer_id, kind, subject_id, dedup_key, fire_at, data, traceparent, n)
           ORDER BY n ON CONFLICT DO NOTHING""",
        ids,
        [t.kind for t in timers],
        [t.subject_id for t in timers],
        [t.dedup_key for t in timers],
        [t.fire_at for t in timers],
        [_to_json(dict(t.data)) for t in timers],
        [t.traceparent or tracing.current() for t in timers],
    )


# A timer worker marks the timers it fires, then its handler locks their subject (e.g. the task). A caller
# that holds the subject and cancels its timers would wait for those marked rows: two transactions each
# waiting for the other. ``skip_firing`` leaves rows being fired alone instead, keeping one lock order,
# subject first; only for handlers that re-check their subject when they get it (a plan moved on, a task
# closed), so a timer fired as it was cancelled does nothing.
_CANCEL = """UPDATE timers SET status = 'cancelled'
             WHERE subject_id = ANY($1::text[]) AND status = 'scheduled' AND ($2::text[] IS NULL OR kind = ANY($2))"""
_CANCEL_SKIPPING_FIRING = """UPDATE timers SET status = 'cancelled' WHERE timer_id IN (
                                 SELECT timer_id FROM timers
                                 WHERE subject_id = ANY($1::text[]) AND status = 'scheduled'
                                   AND ($2::text[] IS NULL OR kind = ANY($2))
                                 FOR UPDATE SKIP LOCKED)"""


async def cancel_many(
    conn: asyncpg.Connection,
    subject_ids: Sequence[str],
    kinds: tuple[str, ...] | None = None,
    *,
    skip_firing: bool = False,
) -> int:
    """``cancel`` for many subjects in one statement; returns how many were cancelled."""
    if not subject_ids:
        return 0
    sql = _CANCEL_SKIPPING_FIRING if skip_firing else _CANCEL
    result = await conn.execute(sql, list(subject_ids), list(kinds) if kinds else None)
    return int(result.split()[-1])


async def cancel(
    conn: asyncpg.Connection, subject_id: str, kinds: tuple[str, ...] | None = None, *, skip_firing: bool = False
) -> int:
    return await cancel_many(conn, [subject_id], kinds, skip_firing=skip_firing)


class TimerWorker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        clock: Clock,
        handlers: Mapping[str, TimerHandler],
        *,
        service: str,
        schema: str,
        poll_interval_s: float = 0.5,
        lease_s: float = 30.0,
        batch_size: int = 100,
        fire_together: bool = True,
        batch_handlers: Mapping[str, BatchTimerHandler] | None = None,
    ) -> None:
        self._pool, self._clock, self._handlers = pool, clock, handlers
        self._batch_handlers = batch_handlers or {}
        self._fire_together_first = fire_together
        self._service, self._schema = service, schema
        self._poll_interval_s, self._batch_size = poll_interval_s, batch_size
        self._queue = WorkQueue(TIMERS, lease_s=lease_s, batch_size=batch_size, label=service)

    async def run(self) -> None:
        async def idle() -> None:
            await asyncio.sleep(await self._idle_s())

        await keep_working(self.fire_due, full=self._batch_size, idle=idle, what="timer")

    async def _idle_s(self) -> float:
        """Sleep until the next timer is due (on the domain clock), at most one poll interval: a
        deadline passing is noticed within milliseconds, not a whole interval later."""
        try:
            next_at = await self._pool.fetchval(
                f"SELECT min(fire_at) FROM timers WHERE status = 'scheduled' AND {LEASE_FREE}"
            )
        except Exception:
            return self._poll_interval_s
        if next_at is None:
            return self._poll_interval_s
        wait: float = (next_at - self._clock.now()).total_seconds()
        return min(max(wait, 0.001), self._poll_interval_s)

    async def fire_due(self) -> int:
        """Claim the due timers and fire them; returns how many fired.

        Together first: one transaction for the claimed batch, because when a hundred deadlines pass at
        one midnight the round trips, not the work, are what make the last one late. If any handler
        fails, that transaction rolls back whole and each timer is fired in its own, so one bad timer
        never holds back the others. Only for handlers that lock nothing but their subject's rows
        (``fire_together``): handlers that take other locks, one call at a time (alerts locks people),
        would take them across timers in no set order and deadlock with the consumer."""
        claimed = await self._claim()
        if not claimed:
            return 0
        try:
            if self._fire_together_first:
                return await self._fire_together(claimed)
        except Exception as exc:
            log.warning("firing the batch together failed; firing one by one", error=repr(exc), timers=len(claimed))
        fired = 0
        for timer, token in claimed:
            if await self._fire(timer, token):
                fired += 1
        return fired

    async def _fire_together(self, claimed: list[tuple[Timer, uuid.UUID]]) -> int:
        known = [(t, token) for t, token in claimed if t.kind in self._handlers]
        if len(known) < len(claimed):
            raise LookupError("no handler for a claimed timer's kind")  # the one-by-one path logs which
        async with self._pool.acquire() as conn, conn.transaction():
            ours = {
                r["timer_id"]
                for r in await self._queue.complete(conn, [t.timer_id for t, _ in known], known[0][1], FIRED)
            }
            uow = UnitOfWork(conn, self._service, self._schema, self._clock)
            fired = [t for t, _ in known if t.timer_id in ours]  # the rest: cancelled, or no longer our lease
            for wave in _waves(fired):
                for kind, timers in _by_kind(wave):
                    if many := self._batch_handlers.get(kind):
                        with bound(timer_kind=kind, timers=len(timers)):
                            await many(timers, uow)
                        continue
                    for timer in timers:
                        with bound(task_id=timer.subject_id, timer_kind=timer.kind), _span(timer):
                            await self._handlers[timer.kind](timer, uow)
        for timer in fired:
            metrics.TIMERS_FIRED.labels(self._service, timer.kind).inc()
        self._queue.count_done(len(fired))
        return len(fired)

    async def _claim(self) -> list[tuple[Timer, uuid.UUID]]:
        async with self._pool.acquire() as conn:
            claim = await self._queue.claim(conn, self._clock.now())
        token, rows = claim.token, claim.rows
        timers = [
            Timer(
                r["timer_id"],
                r["kind"],
                r["subject_id"],
                r["dedup_key"],
                r["fire_at"],
                json.loads(r["data"]),
                r["traceparent"],
            )
            for r in rows
        ]
        # By subject, then time: a subject's timers fire in order, and batches fired together lock the
        # subjects' rows in one order, so two of them never deadlock.
        return [(t, token) for t in sorted(timers, key=lambda t: (t.subject_id, t.fire_at))]

    async def _fire(self, timer: Timer, token: uuid.UUID) -> bool:
        handler = self._handlers.get(timer.kind)
        with bound(task_id=timer.subject_id, timer_kind=timer.kind):
            if handler is None:
                log.error("no handler for timer kind; left scheduled", kind=timer.kind)
                return False
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    if not await self._queue.complete(conn, [timer.timer_id], token, FIRED):
                        return False  # cancelled meanwhile, or our lease expired and another worker has it
                    with _span(timer):
                        await handler(timer, UnitOfWork(conn, self._service, self._schema, self._clock))
            except Exception as exc:
                # The transaction rolled back: the timer is still scheduled and fires again after its lease.
                log.error("timer handler failed; will retry after the lease", error=repr(exc))
                return False
            metrics.TIMERS_FIRED.labels(self._service, timer.kind).inc()
            self._queue.count_done(1)
            return True


def _waves(timers: Sequence[Timer]) -> list[list[Timer]]:
    """The n-th timer of each subject in wave n: a subject's timers fire in their order even when each
    wave's timers of one kind fire together."""
    waves: list[list[Timer]] = []
    seen: dict[str, int] = {}
    for timer in timers:
        n = seen[timer.subject_id] = seen.get(timer.subject_id, -1) + 1
        if n == len(waves):
            waves.append([])
        waves[n].append(timer)
    return waves


def _by_kind(timers: Sequence[Timer]) -> list[tuple[str, list[Timer]]]:
    groups: dict[str, list[Timer]] = {}
    for timer in timers:
        groups.setdefault(timer.kind, []).append(timer)
    return list(groups.items())


def traces(timers: Sequence[Timer]) -> list[str]:
    """For a batch handler: each timer's firing span (continuing what scheduled it), one per timer, as the
    one-by-one path runs each handler in; the events it emits for a timer join that trace."""
    out: list[str] = []
    for timer in timers:
        with _span(timer) as traceparent:
            out.append(traceparent)
    return out


def _span(timer: Timer) -> AbstractContextManager[str]:
    """The firing's span, continuing the trace of what scheduled the timer (a new trace if nothing did)."""
    return tracing.span(f"timer {timer.kind}", timer.traceparent, **{"dondoc.timer.kind": timer.kind})
