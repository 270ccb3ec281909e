"""SQL of the audit service (schema ``audit``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from events.codec import encode_value
from events.envelope import Envelope
from services.audit.domain import KEYED, ChainRow, link
from services.runtime.unit_of_work import Position


async def append(
    conn: asyncpg.Connection, key: bytes, event: Envelope, position: Position, value: bytes | None = None
) -> int:
    return await append_many(conn, key, [(event, position, value)])


async def append_many(
    conn: asyncpg.Connection, key: bytes, events: Sequence[tuple[Envelope, Position, bytes | None]]
) -> int:
    """Chain the events in their order: each link hashed here from the one before (the head, locked, for the
    first), the rows inserted in one statement, the head and the offsets read moved once. Returns the last seq.

    Each event's bytes are the record's as the log holds them, when given: what the relay published is the
    event encoded once (runtime/outbox.py), which encoding the decoded event again gave byte for byte
    (tests/unit/test_codec.py), at a sixth of this service's time."""
    head = await conn.fetchrow("SELECT seq, hash FROM chain_head FOR UPDATE")
    assert head is not None
    seq, hash_ = int(head["seq"]), bytes(head["hash"])
    rows: list[tuple[Any, ...]] = []
    read: dict[tuple[str, int], tuple[int, int]] = {}  # (topic, partition) -> (first, last) offset
    for event, position, given in events:
        value = given if given is not None else encode_value(event)
        prev, seq = hash_, seq + 1
        hash_ = link(key, prev, position.topic, position.partition, position.offset, value)
        rows.append((seq, event, position, value, prev, hash_))
        place = (position.topic, position.partition)
        first, last = read.get(place, (position.offset, position.offset))
        read[place] = (min(first, position.offset), max(last, position.offset))
    await conn.execute(
        """INSERT INTO events (seq, event_id, event_type, task_id, correlation_id, occurred_at, topic,
               partition, "offset", value, prev_hash, hash, version)
           SELECT seq, event_id, event_type, task_id, correlation_id, occurred_at, topic, partition, "offset",
                  value, prev_hash, hash, $13
           FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::timestamptz[], $7::text[],
                       $8::int[], $9::bigint[], $10::bytea[], $11::bytea[], $12::bytea[])
               AS e (seq, event_id, event_type, task_id, correlation_id, occurred_at, topic, partition, "offset",
                     value, prev_hash, hash)
           ORDER BY seq""",
        [r[0] for r in rows],
        [r[1].event_id for r in rows],
        [r[1].event_type for r in rows],
        [r[1].task_id for r in rows],
        [r[1].correlation_id for r in rows],
        [r[1].occurred_at for r in rows],
        [r[2].topic for r in rows],
        [r[2].partition for r in rows],
        [r[2].offset for r in rows],
        [r[3] for r in rows],
        [r[4] for r in rows],
        [r[5] for r in rows],
        KEYED,
    )
    await conn.execute("UPDATE chain_head SET seq = $1, hash = $2", seq, hash_)
    await conn.execute(
        """INSERT INTO chain_offsets (topic, partition, first_offset, next_offset)
           SELECT topic, partition, first, last + 1 FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[])
               AS r (topic, partition, first, last)
           ON CONFLICT (topic, partition)
           DO UPDATE SET next_offset = GREATEST(chain_offsets.next_offset, EXCLUDED.next_offset)""",
        [topic for topic, _ in read],
        [partition for _, partition in read],
        [first for first, _ in read.values()],
        [last for _, last in read.values()],
    )
    return seq


@dataclass(frozen=True)
class HistoryEntry:
    """One recorded event of a task's history. ``event`` is the JSON as recorded, deliberately not parsed
    into its model: the history shows what was recorded, even an event no model reads any more."""

    seq: int
    topic: str
    partition: int
    offset: int
    hash: str
    event: Mapping[str, object]

    @property
    def event_id(self) -> object:
        return self.event.get("event_id")

    @property
    def causation_id(self) -> object:
        return self.event.get("causation_id")


async def task_history(pool: asyncpg.Pool, task_id: str) -> list[HistoryEntry]:
    rows = await pool.fetch(
        # In the order things happened, not the order this service read them: events of one task travel on
        # several topics (task-events, alert-events), read in no set order across them. ``seq`` — the
        # chain's own order, which `audit verify` checks — breaks ties and stays in every row.
        """SELECT seq, topic, partition, "offset", value, hash FROM events WHERE task_id = $1
           ORDER BY occurred_at, seq""",
        task_id,
    )
    return causes_first(
        [
            HistoryEntry(
                seq=r["seq"],
                topic=r["topic"],
                partition=r["partition"],
                offset=r["offset"],
                hash=bytes(r["hash"]).hex(),
                event=json.loads(bytes(r["value"])),
            )
            for r in rows
        ]
    )


def causes_first(entries: list[HistoryEntry]) -> list[HistoryEntry]:
    """The entries in their order, except that an event never comes before the event that caused it: two
    services' clocks may give an effect the same (or an earlier) time as its cause, and the topics they
    travel on are read in no set order."""
    present = {e.event_id for e in entries}
    placed: set[object] = set()
    waiting: dict[object, list[HistoryEntry]] = {}
    ordered: list[HistoryEntry] = []

    def place(entry: HistoryEntry) -> None:
        ordered.append(entry)
        placed.add(entry.event_id)
        for follower in waiting.pop(entry.event_id, []):
            place(follower)

    for entry in entries:
        cause = entry.causation_id
        if cause in present and cause not in placed and cause != entry.event_id:
            waiting.setdefault(cause, []).append(entry)
        else:
            place(entry)
    for followers in waiting.values():  # a cycle cannot happen (ids are derived from causes); never drop one
        ordered.extend(f for f in followers if f.event_id not in placed)
    return ordered


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
