"""SQL of the audit service (schema ``audit``)."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from events.codec import encode_value
from events.envelope import Envelope
from services.audit.domain import link
from services.runtime.unit_of_work import Position


async def append(conn: asyncpg.Connection, event: Envelope, position: Position) -> int:
    head = await conn.fetchrow("SELECT seq, hash FROM chain_head FOR UPDATE")
    assert head is not None
    seq = head["seq"] + 1
    value = encode_value(event)
    hash_ = link(bytes(head["hash"]), seq, value)
    await conn.execute(
        """INSERT INTO events (seq, event_id, event_type, task_id, correlation_id, occurred_at, topic,
               partition, "offset", value, prev_hash, hash)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)""",
        seq, event.event_id, event.event_type, event.task_id, event.correlation_id, event.occurred_at,
        position.topic, position.partition, position.offset, value, bytes(head["hash"]), hash_,
    )
    await conn.execute("UPDATE chain_head SET seq = $1, hash = $2", seq, hash_)
    return seq


async def task_history(pool: asyncpg.Pool, task_id: str) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        # In the order things happened, not the order this service read them: events of one task travel on
        # several topics (task-events, alert-events), read in no set order across them. ``seq`` — the
        # chain's own order, which `audit verify` checks — breaks ties and stays in every row.
        """SELECT seq, topic, partition, "offset", value, hash FROM events WHERE task_id = $1
           ORDER BY occurred_at, seq""",
        task_id,
    )
    return [
        {"seq": r["seq"], "topic": r["topic"], "partition": r["partition"], "offset": r["offset"],
         "hash": bytes(r["hash"]).hex(), "event": json.loads(bytes(r["value"]))}
        for r in rows
    ]


async def chain_rows(conn: asyncpg.Connection, after_seq: int, limit: int) -> list[tuple[int, bytes, bytes, bytes]]:
    rows = await conn.fetch(
        "SELECT seq, value, prev_hash, hash FROM events WHERE seq > $1 ORDER BY seq LIMIT $2", after_seq, limit
    )
    return [(r["seq"], bytes(r["value"]), bytes(r["prev_hash"]), bytes(r["hash"])) for r in rows]
