"""Inbox: processed event ids, recorded in the same transaction as the effects.

Kafka delivers at least once (a rebalance or a crash before the offset commit re-delivers);
the inbox turns that into exactly-once effects: the second delivery finds its id and does nothing.
"""

from __future__ import annotations

import asyncpg

from events.envelope import Envelope


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
