"""Deliveries as an agency's operator sees them: the ones to its own people, failed or still trying, and
the retry of a failed one (SQL of schema ``alerts``; the HTTP side is admin_routes.py).

Whose delivery it is: the agency of the alert's recipient (``alerts.recipient_agency_id``, which is also
the agency whose webhook it is), or for a digest (no single alert) the person's agency in the directory.
Only that agency sees it and may retry it; one with no known agency is nobody's (403 to everyone).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from typing import Any

import asyncpg

from services.alerts.deliveries import NOTIFY_CHANNEL
from services.runtime.refusals import conflict, forbidden, not_found

_OF = """FROM deliveries d LEFT JOIN alerts a ON a.alert_id = d.alert_id
         LEFT JOIN people p ON p.person_id = d.person_id"""
_OWNER = "coalesce(a.recipient_agency_id, p.agency_id)"
_SHOWN = """d.delivery_id, d.channel, d.notice, d.status, d.attempts, d.last_error, d.next_attempt_at,
            d.created_at, d.delivered_at, d.alert_id, d.task_id, d.person_id, d.target, d.reminder, d.digest_day,
            a.resolved_at AS alert_resolved_at"""


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """A delivery as its agency's operator sees it: where it goes, how it went, and whether its alert is over."""

    delivery_id: uuid.UUID
    channel: str
    notice: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    alert_id: uuid.UUID | None
    task_id: str | None
    person_id: str
    target: str
    reminder: int
    digest_day: date | None
    alert_resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class Retried(DeliveryView):
    """A delivery after an operator's retry: ``retried`` False when it was already waiting for its worker."""

    retried: bool


_FIELDS = tuple(f.name for f in fields(DeliveryView))


def _shown(r: asyncpg.Record) -> dict[str, Any]:  # by name: a column renamed fails here
    return {name: r[name] for name in _FIELDS}


async def of_agency(
    conn: asyncpg.Connection | asyncpg.Pool, agency_id: str, statuses: Sequence[str], limit: int
) -> list[DeliveryView]:
    """The agency's deliveries in these statuses, newest first."""
    rows = await conn.fetch(
        f"""SELECT {_SHOWN} {_OF} WHERE {_OWNER} = $1 AND d.status = ANY($2)
            ORDER BY d.created_at DESC, d.delivery_id LIMIT $3""",
        agency_id,
        list(statuses),
        limit,
    )
    return [DeliveryView(**_shown(r)) for r in rows]


async def retry_failed(conn: asyncpg.Connection, delivery_id: uuid.UUID, agency_id: str) -> Retried:
    """Put a failed delivery back to pending, due now, attempts reset. Idempotent: a row already pending
    is left as it is. Run in a transaction (the row is locked while decided)."""
    row = await conn.fetchrow(
        f"SELECT {_SHOWN}, {_OWNER} AS owner {_OF} WHERE d.delivery_id = $1 FOR UPDATE OF d", delivery_id
    )
    if row is None:
        raise not_found("delivery", "lần gửi", str(delivery_id), "delivery-not-found")
    if row["owner"] != agency_id:
        raise forbidden(
            "not-your-delivery",
            f"delivery {delivery_id} is to a person of another agency; only that agency retries it",
            f"Lần gửi {delivery_id} là của cơ quan khác; chỉ cơ quan của người nhận được gửi lại",
        )
    if row["status"] == "delivered":
        raise conflict(
            "already-delivered",
            f"delivery {delivery_id} was delivered at {row['delivered_at']}; it is not sent again",
            f"Lần gửi {delivery_id} đã gửi thành công lúc {row['delivered_at']}; không gửi lại",
        )
    if row["status"] == "pending":  # already waiting for its worker: nothing to change
        return Retried(**_shown(row), retried=False)
    if row["notice"] == "alert" and row["alert_resolved_at"] is not None:
        # It asks nothing any more, and its target may have been told it is over: an alert arriving after
        # that would reopen it there.
        raise conflict(
            "alert-resolved",
            f"the alert of delivery {delivery_id} was resolved at {row['alert_resolved_at']}; it is not sent again",
            f"Cảnh báo của lần gửi {delivery_id} đã kết thúc lúc {row['alert_resolved_at']}; không gửi lại",
        )
    due = await conn.fetchval(
        """UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(),
               lease_token = NULL, lease_expires_at = NULL
           WHERE delivery_id = $1 AND status = 'failed' RETURNING next_attempt_at""",
        delivery_id,
    )
    await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, row["channel"])
    shown = Retried(**_shown(row), retried=True)
    return replace(shown, status="pending", attempts=0, next_attempt_at=due)
