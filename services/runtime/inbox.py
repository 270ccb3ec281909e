"""Inbox: processed event ids, recorded in the same transaction as the effects.

Kafka delivers at least once (a rebalance or a crash before the offset commit re-delivers);
the inbox turns that into exactly-once effects: the second delivery finds its id and does nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from events.envelope import Envelope


@dataclass(frozen=True)
class Claim:
    envelope: Envelope
    topic: str
    partition: int
    offset: int


async def claim(conn: asyncpg.Connection, envelope: Envelope, *, topic: str, partition: int, offset: int) -> bool:
    """True if this event is new (and is now recorded as processed, pending commit)."""
    inserted = await conn.fetchval(
        """INSERT INTO inbox (event_id, event_type, topic, partition, "offset")
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING RETURNING true""",
        envelope.event_id,
        envelope.event_type,
        topic,
        partition,
        offset,
    )
    return bool(inserted)


async def claim_many(conn: asyncpg.Connection, claims: Sequence[Claim]) -> set[uuid.UUID]:
    """The ids of these events that are new (now recorded as processed, pending commit), in one statement.

    ``claims`` holds each event id once; rows go in id order, so two transactions claiming overlapping
    sets wait for each other in one order.
    """
    if not claims:
        return set()
    ordered = sorted(claims, key=lambda c: c.envelope.event_id)
    rows = await conn.fetch(
        """INSERT INTO inbox (event_id, event_type, topic, partition, "offset")
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::bigint[])
           ON CONFLICT (event_id) DO NOTHING RETURNING event_id""",
        [c.envelope.event_id for c in ordered],
        [c.envelope.event_type for c in ordered],
        [c.topic for c in ordered],
        [c.partition for c in ordered],
        [c.offset for c in ordered],
    )
    return {r["event_id"] for r in rows}
