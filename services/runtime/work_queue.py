"""One leased work queue over a PostgreSQL table: claim due rows, work them, settle each under its lease.

Durable timers (timers.py) and alert deliveries (services/alerts/deliveries.py) are both this queue;
their invariants (tests/integration/test_timers_durability.py, test_alerts_delivery_attempts.py) are
kept here once:

* A due row is claimed by one worker at a time: ``FOR UPDATE SKIP LOCKED`` in the claim, and a lease
  token with an expiry on the *database* clock (workers' clocks may disagree; the database's is one).
* A row is settled (done, retried later, parked) only while the settling worker's token is still on it,
  so a worker that stalled past its lease cannot overwrite what the worker that took over did.
* A crash mid-work leaves the row waiting with a lease that expires: it is worked again, never lost.
* When the queue counts attempts, an attempt is counted at the claim, not at the end, so a try cut
  short by a crash counts too; after the retry policy's limit the row is parked for a person, and a row
  whose every try ended with its worker (the work kills the process) is parked by ``park_abandoned``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from prometheus_client import Counter

from services.runtime.logs import get_logger
from services.runtime.retry import RetryPolicy

log = get_logger(__name__)

WORK_ITEMS = Counter(
    "dondoc_work_items_total",
    "Rows of a leased work queue by what happened to them (claimed, done, retried, parked)",
    ["queue", "scope", "outcome"],
)

LEASE_FREE = "(lease_expires_at IS NULL OR lease_expires_at < now())"
"""SQL: nobody holds the row, or its holder's lease has run out."""


@dataclass(frozen=True)
class QueueShape:
    """Which table is the queue and how its rows say where they are.

    ``due`` is an SQL condition (on the table aliased ``t``) that picks rows ready now; it takes the claim's
    arguments as ``{0}``, ``{1}``…. ``scope`` names a column that splits the queue between workers (one
    worker per alert channel); ``parked`` is the status of a row out of attempts (None: never parked)."""

    name: str
    table: str
    key: str
    waiting: str
    due: str
    order: str
    returning: str
    scope: str | None = None
    parked: str | None = None
    counts_attempts: bool = False


@dataclass(frozen=True)
class Claim:
    token: uuid.UUID
    rows: list[asyncpg.Record]


class WorkQueue:
    def __init__(
        self,
        shape: QueueShape,
        *,
        lease_s: float,
        batch_size: int,
        retry: RetryPolicy | None = None,
        scope: str | None = None,
        label: str | None = None,
    ) -> None:
        """``scope``: the value of the shape's scope column this worker takes; ``label``: what the metrics
        call this worker's part (default: the scope)."""
        if (shape.scope is None) != (scope is None):
            raise ValueError(f"queue {shape.name}: a scope value is needed exactly when the shape has a scope column")
        if shape.counts_attempts and (retry is None or shape.parked is None):
            raise ValueError(f"queue {shape.name}: counting attempts needs a retry policy and a parked status")
        self.shape, self.lease_s, self.batch_size, self.retry, self.scope = shape, lease_s, batch_size, retry, scope
        self._label = (shape.name, label or scope or "")

    def _scoped(self, first: int) -> tuple[str, list[Any]]:
        """(SQL condition, its arguments) restricting to this worker's scope; placeholders from ``$first``."""
        if self.shape.scope is None:
            return "true", []
        return f"{self.shape.scope} = ${first}", [self.scope]

    async def claim(self, conn: asyncpg.Connection, *due_args: Any) -> Claim:
        """Lease up to ``batch_size`` due rows to a fresh token; returns them with it."""
        s = self.shape
        scoped, scope_args = self._scoped(4)
        first_due = 4 + len(scope_args)
        due = s.due.format(*(f"${first_due + i}" for i in range(len(due_args))))
        count = ", attempts = attempts + 1" if s.counts_attempts else ""
        token = uuid.uuid4()
        rows = await conn.fetch(
            f"""UPDATE {s.table}
                SET lease_token = $1, lease_expires_at = now() + make_interval(secs => $2){count}
                WHERE {s.key} IN (
                    SELECT {s.key} FROM {s.table} t
                    WHERE status = '{s.waiting}' AND {scoped} AND ({due}) AND {LEASE_FREE}
                    ORDER BY {s.order} LIMIT $3 FOR UPDATE SKIP LOCKED)
                RETURNING {s.returning}""",
            token,
            self.lease_s,
            self.batch_size,
            *scope_args,
            *due_args,
        )
        if rows:
            WORK_ITEMS.labels(*self._label, "claimed").inc(len(rows))
        return Claim(token, list(rows))

    async def complete(
        self, conn: asyncpg.Connection, keys: Sequence[Any], token: uuid.UUID, done: str
    ) -> list[asyncpg.Record]:
        """Settle ``keys`` as done (``done``: the SQL SET list, e.g. ``status = 'fired'``) where the lease is
        still ``token``'s; returns the rows settled (key, and attempts if counted). Call it inside the
        transaction that does the work, so the work and its mark commit together, and ``count_done``
        once that transaction committed."""
        s = self.shape
        attempts = ", attempts" if s.counts_attempts else ""
        rows = await conn.fetch(
            f"""UPDATE {s.table} SET {done}, lease_token = NULL
                WHERE {s.key} = ANY($1) AND lease_token = $2 AND status = '{s.waiting}'
                RETURNING {s.key}{attempts}""",
            list(keys),
            token,
        )
        return list(rows)

    def count_done(self, n: int) -> None:
        if n:
            WORK_ITEMS.labels(*self._label, "done").inc(n)

    async def retry_later(
        self, conn: asyncpg.Connection, key: Any, token: uuid.UUID, *, attempts: int, error: str
    ) -> tuple[bool, float]:
        """Record a failed try (``attempts`` counted so far, ``error`` a status class): the row waits the
        policy's delay, or is parked once out of attempts. Returns (parked, delay in seconds)."""
        s, retry = self.shape, self.retry
        assert retry is not None and s.parked is not None, "retry_later needs a counting queue"
        parked = retry.exhausted(attempts)
        delay = retry.delay_s(attempts)
        await conn.execute(
            f"""UPDATE {s.table}
                SET attempts = $3, last_error = $4, lease_token = NULL, lease_expires_at = NULL,
                    status = CASE WHEN $5 THEN '{s.parked}' ELSE '{s.waiting}' END,
                    next_attempt_at = now() + make_interval(secs => $6)
                WHERE {s.key} = $1 AND lease_token = $2 AND status = '{s.waiting}'""",
            key,
            token,
            attempts,
            error,
            parked,
            delay,
        )
        WORK_ITEMS.labels(*self._label, "parked" if parked else "retried").inc()
        return parked, delay

    async def park_abandoned(self, conn: asyncpg.Connection) -> int:
        """Park the rows whose every attempt ended with its worker (the lease ran out each time): without
        this, work that kills the process would be claimed forever."""
        s, retry = self.shape, self.retry
        assert retry is not None and s.parked is not None and retry.max_attempts is not None
        scoped, scope_args = self._scoped(2)
        result = await conn.execute(
            f"""UPDATE {s.table} SET status = '{s.parked}', lease_token = NULL, lease_expires_at = NULL,
                    last_error = 'the worker stopped during each of its ' || attempts || ' attempts'
                WHERE status = '{s.waiting}' AND {scoped} AND attempts >= $1 AND lease_expires_at < now()""",
            retry.max_attempts,
            *scope_args,
        )
        parked = int(result.split()[-1])
        if parked:
            WORK_ITEMS.labels(*self._label, "parked").inc(parked)
        return parked


async def keep_working(
    round_: Callable[[], Awaitable[int]], *, full: int, idle: Callable[[], Awaitable[None]], what: str, **log_kv: Any
) -> None:
    """Run rounds for ever: straight on while a round was full (more is waiting), else ``idle`` first.
    A round that fails (the database went away) is logged and tried again after the idle wait."""
    while True:
        try:
            worked = await round_()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(f"{what} round failed", error=repr(exc), **log_kv)
            worked = 0
        if worked < full:
            await idle()
