"""Deliveries to external channels (webhook, e-mail), worked from durable rows by one loop per channel.

Invariants (tests/integration/test_alerts_channels.py breaks each on purpose):
* A delivery row is written in the transaction that raised (or repeated) its alert: nothing to send
  is lost, and the consumer never waits for a channel.
* Each channel has its own worker: a failing or slow channel never delays another. Within a batch,
  sends run concurrently with a timeout each.
* The rows are a leased work queue (services/runtime/work_queue.py): claimed with FOR UPDATE SKIP LOCKED
  and a lease token (database clock); an outcome is written only if the token is still the worker's, so
  a stalled worker cannot overwrite the result of the one that took over. A crash mid-send leaves the
  row pending: the lease expires, it is sent again (at least once; receivers de-duplicate by delivery
  id / Message-ID).
* An attempt is counted when the row is claimed, not when the send ends: a send cut short by a crash
  counts too, so ``attempts`` (and AlertDelivered's) says how many times the receiver may have seen it.
* A failure is kept as a status class (``http-5xx``, ``timeout``, ``refused-target``…, channels/outcome.py),
  never as what the remote end answered.
* Failures back off by the one retry policy (services/runtime/retry.py) on the database clock; after
  ``max_attempts`` the row is failed and kept for inspection. AlertDelivered is emitted once, in the
  transaction marking the row delivered.
* An operator of the recipient's agency puts a failed row back to pending with its attempts reset
  (``retry_failed``, admin_routes.py); nothing else ever leaves 'failed' or 'delivered'.
* A resolution notice (``notice = 'resolved'``, to the webhook targets that had the alert) is not the
  alert: no AlertDelivered. It is claimed only once no delivery of its alert to that target is still
  pending, so a receiver never hears "over" before the alert itself.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from events.alerts import AlertDelivered
from events.envelope import SYSTEM, deterministic_id
from services.alerts import inapp
from services.alerts.channels.outcome import status_class
from services.alerts.config import AlertsConfig
from services.runtime.logs import bound, get_logger
from services.runtime.retry import RetryPolicy
from services.runtime.unit_of_work import UnitOfWork
from services.runtime.work_queue import QueueShape, WorkQueue, keep_working

log = get_logger(__name__)

NOTIFY_CHANNEL = "dondoc_alerts_deliveries"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One claimed delivery row, typed at the repository's edge: what a sender sends, and what its
    outcome is written against (a column renamed is a type error here, not a KeyError in a worker)."""

    delivery_id: uuid.UUID
    channel: str
    notice: str  # 'alert', or 'resolved' for a resolution notice (not the alert: no AlertDelivered)
    person_id: str
    target: str  # a webhook URL or an e-mail address
    body: Mapping[str, Any]
    attempts: int  # this try included: counted at the claim
    alert_id: uuid.UUID | None = None  # None for a digest (its alerts are in the body)
    task_id: str | None = None
    reminder: int = 0
    digest_day: date | None = None

    @classmethod
    def of(cls, row: asyncpg.Record) -> Delivery:
        return cls(**{name: row[name] for name in _COLUMNS}, body=json.loads(row["body"]))


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A delivery row to store (``enqueue_many``): which channel, to whom, where, and the JSON it sends."""

    channel: str
    person_id: str
    target: str
    body: dict[str, Any]  # the JSON sent (its delivery id is added when stored)
    alert_id: uuid.UUID | None = None
    task_id: str | None = None
    reminder: int = 0
    digest_day: date | None = None
    notice: str = "alert"  # or 'resolved': a resolution notice to a webhook target that had the alert


_COLUMNS = (
    *("delivery_id", "channel", "notice", "person_id", "target", "attempts"),
    *("alert_id", "task_id", "reminder", "digest_day"),
)

Sender = Callable[[Delivery], Awaitable[None]]
"""Sends one delivery; raises on failure (its status class is kept as the row's last error)."""

DELIVERIES = QueueShape(
    name="deliveries",
    table="deliveries",
    key="delivery_id",
    waiting="pending",
    # A resolution notice waits until no delivery of its alert to that target is still pending.
    due="""next_attempt_at <= now() AND (notice = 'alert' OR NOT EXISTS (
               SELECT 1 FROM deliveries a
               WHERE a.alert_id = t.alert_id AND a.channel = t.channel AND a.target = t.target
                 AND a.notice = 'alert' AND a.status = 'pending'))""",
    order="next_attempt_at",
    returning=", ".join((*_COLUMNS, "body")),
    scope="channel",
    parked="failed",
    counts_attempts=True,
)


def retry_policy(config: AlertsConfig) -> RetryPolicy:
    return RetryPolicy(config.delivery_backoff_s, config.delivery_backoff_max_s, config.delivery_max_attempts)


async def enqueue(
    conn: asyncpg.Connection,
    *,
    channel: str,
    person_id: str,
    target: str,
    body: dict[str, Any],
    alert_id: uuid.UUID | None = None,
    task_id: str | None = None,
    reminder: int = 0,
    digest_day: date | None = None,
    notice: str = "alert",
) -> bool:
    """Store one delivery row (``enqueue_many``); False when the same cause already stored it."""
    row = Outgoing(channel, person_id, target, body, alert_id, task_id, reminder, digest_day, notice)
    return bool(await enqueue_many(conn, [row]))


async def enqueue_many(conn: asyncpg.Connection, rows: Sequence[Outgoing]) -> int:
    """Delivery rows in their order, in one statement; returns how many were new. Their channels' workers are
    woken at commit."""
    if not rows:
        return 0
    ids = [_delivery_id(r) for r in rows]
    inserted = await conn.fetch(
        """INSERT INTO deliveries (delivery_id, alert_id, task_id, person_id, channel, reminder, digest_day,
               target, body, notice)
           SELECT delivery_id, alert_id, task_id, person_id, channel, reminder, digest_day, target, body::jsonb,
                  notice
           FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::int[], $7::date[],
                       $8::text[], $9::text[], $10::text[]) WITH ORDINALITY
               AS d (delivery_id, alert_id, task_id, person_id, channel, reminder, digest_day, target, body, notice, n)
           ORDER BY n ON CONFLICT DO NOTHING RETURNING channel""",
        ids,
        [r.alert_id for r in rows],
        [r.task_id for r in rows],
        [r.person_id for r in rows],
        [r.channel for r in rows],
        [r.reminder for r in rows],
        [r.digest_day for r in rows],
        [r.target for r in rows],
        [inapp.ENCODE({**r.body, "delivery_id": str(i)}) for r, i in zip(rows, ids, strict=True)],
        [r.notice for r in rows],
    )
    channels = sorted({r["channel"] for r in inserted})
    if channels:
        await conn.execute("SELECT pg_notify($1, c) FROM unnest($2::text[]) AS c", NOTIFY_CHANNEL, channels)
    return len(inserted)


def _delivery_id(row: Outgoing) -> uuid.UUID:
    # Deterministic per cause: a re-delivered cause inserts nothing. A notice other than the alert is
    # told once per target (a target that changed between the alert and its reminders hears it too).
    extra = () if row.notice == "alert" else (row.notice, row.target)
    return deterministic_id(
        "delivery", row.channel, row.alert_id or row.person_id, row.reminder, row.digest_day, *extra
    )


async def webhook_targets(conn: asyncpg.Connection, alert_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """The webhook URLs each alert (or a reminder of it) was sent to, or is being sent to."""
    rows = await conn.fetch(
        """SELECT DISTINCT alert_id, target FROM deliveries
           WHERE alert_id = ANY($1::uuid[]) AND channel = 'webhook' AND notice = 'alert'
           ORDER BY alert_id, target""",
        list(alert_ids),
    )
    targets: dict[uuid.UUID, list[str]] = {}
    for r in rows:
        targets.setdefault(r["alert_id"], []).append(r["target"])
    return targets


class DeliveryWorker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        channel: str,
        send: Sender,
        config: AlertsConfig,
        uow: Callable[[asyncpg.Connection], UnitOfWork],
    ) -> None:
        self._pool, self._channel, self._send, self._config, self._uow = pool, channel, send, config, uow
        self._wake = asyncio.Event()
        self._queue = WorkQueue(
            DELIVERIES,
            lease_s=config.delivery_lease_s,
            batch_size=config.delivery_batch_size,
            retry=retry_policy(config),
            scope=channel,
        )

    def wake(self, *_: Any) -> None:
        self._wake.set()

    async def run(self) -> None:
        async def idle() -> None:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self._config.delivery_poll_interval_s)
            except TimeoutError:
                pass

        await keep_working(
            self.work_once, full=self._config.delivery_batch_size, idle=idle, what="delivery", channel=self._channel
        )

    async def work_once(self) -> int:
        """Claim due rows of this channel and send them concurrently; returns how many were tried."""
        async with self._pool.acquire() as conn:
            await self._queue.park_abandoned(conn)
            claim = await self._queue.claim(conn)
        await asyncio.gather(*(self._deliver(Delivery.of(r), claim.token) for r in claim.rows))
        return len(claim.rows)

    async def _deliver(self, row: Delivery, token: uuid.UUID) -> None:
        with bound(task_id=row.task_id, delivery_id=str(row.delivery_id), channel=self._channel):
            try:
                # A sender that keeps its own deadline (e-mail's thread) is given a grace beyond it.
                timeout = self._config.delivery_timeout_s + getattr(self._send, "grace_s", 0.0)
                await asyncio.wait_for(self._send(row), timeout)
            except Exception as exc:
                await self._failed(row, token, status_class(exc))
            else:
                await self._delivered(row, token)

    async def _delivered(self, row: Delivery, token: uuid.UUID) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            settled = await self._queue.complete(
                conn, [row.delivery_id], token, "status = 'delivered', delivered_at = now()"
            )
            if not settled:
                return  # our lease expired and another worker owns the row now
            attempts = settled[0]["attempts"]
            uow = self._uow(conn)
            for alert_id, task_id in _alerts_of(row):
                await uow.emit(
                    AlertDelivered(
                        alert_id=alert_id,
                        channel=self._channel,
                        recipient_person_id=row.person_id,
                        reminder=row.reminder,
                        attempts=attempts,
                        digest_day=row.digest_day,
                    ),
                    actor=SYSTEM,
                    task_id=task_id,
                    id_parts=(row.delivery_id, alert_id),
                )
        self._queue.count_done(1)

    async def _failed(self, row: Delivery, token: uuid.UUID, error: str) -> None:
        attempts = row.attempts  # this one included: counted at the claim
        async with self._pool.acquire() as conn:
            final, delay = await self._queue.retry_later(conn, row.delivery_id, token, attempts=attempts, error=error)
        log_at = log.error if final else log.warning
        log_at(
            "delivery failed" + ("; giving up" if final else ", will retry"),
            error=error,
            attempts=attempts,
            retry_in_s=None if final else delay,
        )


def _alerts_of(row: Delivery) -> list[tuple[uuid.UUID, str | None]]:
    """(alert id, task id) of what the row delivered: one alert, or a digest's several; none for a
    resolution notice (it is not the alert)."""
    if row.notice != "alert":
        return []
    if row.alert_id is not None:
        return [(row.alert_id, row.task_id)]
    return [(uuid.UUID(a), t) for a, t in row.body.get("alerts", [])]
