"""SQL of the audit service (schema ``audit``)."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from events.codec import encode_value
from events.envelope import Envelope
from services.audit.domain import KEYED, ChainRow, link
from services.runtime.unit_of_work import Position


async def append(conn: asyncpg.Connection, key: bytes, event: Envelope, position: Position) -> int:
    head = await conn.fetchrow("SELECT seq, hash FROM chain_head FOR UPDATE")
    assert head is not None
    seq, prev = head["seq"] + 1, bytes(head["hash"])
    value = encode_value(event)
    hash_ = link(key, prev, position.topic, position.partition, position.offset, value)
    await conn.execute(
        """INSERT INTO events (seq, event_id, event_type, task_id, correlation_id, occurred_at, topic,
               partition, "offset", value, prev_hash, hash, version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)""",
        seq,
        event.event_id,
        event.event_type,
        event.task_id,
        event.correlation_id,
        event.occurred_at,
        position.topic,
        position.partition,
        position.offset,
        value,
        prev,
        hash_,
        KEYED,
    )
    await conn.execute("UPDATE chain_head SET seq = $1, hash = $2", seq, hash_)
    await conn.execute(
        """INSERT INTO chain_offsets (topic, partition, first_offset, next_offset)
           VALUES ($1, $2, $3::bigint, $3::bigint + 1)
           ON CONFLICT (topic, partition)
           DO UPDATE SET next_offset = GREATEST(chain_offsets.next_offset, $3::bigint + 1)""",
        position.topic,
        position.partition,
        position.offset,
    )
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
        {
            "seq": r["seq"],
            "topic": r["topic"],
            "partition": r["partition"],
            "offset": r["offset"],
            "hash": bytes(r["hash"]).hex(),
            "event": json.loads(bytes(r["value"])),
        }
        for r in rows
    ]


_ROW = 'SELECT seq, event_id::text, topic, partition, "offset", value, prev_hash, hash, version FROM events'


def _chain_row(r: asyncpg.Record) -> ChainRow:
    return ChainRow(
        r["seq"],
        r["event_id"],
        r["topic"],
        r["partition"],
        r["offset"],
        bytes(r["value"]),
        bytes(r["prev_hash"]),
        bytes(r["hash"]),
        r["version"],
    )


async def chain_rows(conn: asyncpg.Connection, after_seq: int, limit: int) -> list[ChainRow]:
    rows = await conn.fetch(f"{_ROW} WHERE seq > $1 ORDER BY seq LIMIT $2", after_seq, limit)
    return [_chain_row(r) for r in rows]


class TableIndex:
    """The lookups the walk makes at a break (verification.ChainIndex), answered by the table."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def row_with_hash(self, hash_: bytes) -> ChainRow | None:
        row = await self.conn.fetchrow(f"{_ROW} WHERE hash = $1 ORDER BY seq LIMIT 1", hash_)
        return None if row is None else _chain_row(row)

    async def rows_linking_to(self, hash_: bytes) -> list[ChainRow]:
        return [_chain_row(r) for r in await self.conn.fetch(f"{_ROW} WHERE prev_hash = $1 ORDER BY seq", hash_)]


async def chain_state(conn: asyncpg.Connection) -> tuple[int, bytes, dict[str, dict[int, tuple[int, int]]]]:
    """(head seq, head hash, (first, next) offset read per topic and partition), read together under the
    head's lock."""
    async with conn.transaction():
        head = await conn.fetchrow("SELECT seq, hash FROM chain_head FOR SHARE")
        assert head is not None
        offsets: dict[str, dict[int, tuple[int, int]]] = {}
        for r in await conn.fetch("SELECT topic, partition, first_offset, next_offset FROM chain_offsets"):
            offsets.setdefault(r["topic"], {})[r["partition"]] = (r["first_offset"], r["next_offset"])
    return head["seq"], bytes(head["hash"]), offsets
