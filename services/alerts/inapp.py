"""The in-app channel: each person's stream of alert entries, written in the transaction that raised,
reminded, acknowledged or resolved the alert, so it can never be lost or written twice.

Invariant (the trap of tailing a serial id): for one person, seq order is commit order. Writers take
a per-person transaction lock before inserting, so a reader resuming after seq N (Last-Event-ID)
can never miss an entry with a lower seq that committed later. Locks are taken in person order, so
two writers never deadlock.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from services.runtime.db import lock_key

NOTIFY_CHANNEL = "dondoc_alerts_stream"

ENCODE = json.JSONEncoder(ensure_ascii=False, default=str).encode
"""An entry's JSON, as ``ENCODE(data)`` gives it, without building an
encoder for each entry (a bulk import writes tens of thousands)."""


async def lock_people(conn: asyncpg.Connection, person_ids: Iterable[str]) -> None:
    """One round trip for all of them; the sorted subquery makes every writer lock in the same order."""
    keys = sorted({lock_key("alerts-stream", person_id) for person_id in person_ids})
    if keys:
        await conn.execute(
            "SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT k FROM unnest($1::bigint[]) AS k ORDER BY k) AS s",
            keys,
        )


async def append(conn: asyncpg.Connection, person_id: str, kind: str, data: dict[str, Any]) -> int:
    """Add an entry to the person's stream; wakes their streams at commit. The caller has taken the
    person's lock (``lock_people``, all of a transaction's people at once, in order)."""
    seq = await conn.fetchval(
        """INSERT INTO stream (person_id, alert_id, kind, data) VALUES ($1, $2, $3, $4::jsonb)
           RETURNING seq, pg_notify($5, $1)""",
        person_id,
        data.get("alert_id"),
        kind,
        ENCODE(data),
        NOTIFY_CHANNEL,
    )
    return int(seq)


async def append_many(conn: asyncpg.Connection, entries: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
    """``append`` of each (person, kind, data), in their order, in one statement; the same locks are taken."""
    if entries:
        await conn.execute(
            """INSERT INTO stream (person_id, alert_id, kind, data)
               SELECT person_id, alert_id, kind, data::jsonb
               FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[]) WITH ORDINALITY
                   AS e (person_id, alert_id, kind, data, n)
               ORDER BY n
               RETURNING pg_notify($5, person_id)""",
            [person for person, _, _ in entries],
            [data.get("alert_id") for _, _, data in entries],
            [kind for _, kind, _ in entries],
            [ENCODE(data) for _, _, data in entries],
            NOTIFY_CHANNEL,
        )


@dataclass
class Entries:
    """The entries a transaction adds, written together at its end (``write``): every person locked at
    once, in order, just before the insert. A consumer's run then never waits for a person's lock
    while holding another (two runs sharing a head would deadlock), and holds them only for its tail."""

    rows: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def add(self, person_id: str, kind: str, data: dict[str, Any]) -> None:
        self.rows.append((person_id, kind, data))

    async def write(self, conn: asyncpg.Connection) -> None:
        """Lock the people and append the entries in their order; the buffer is emptied."""
        if self.rows:
            await lock_people(conn, [person for person, _, _ in self.rows])
            await append_many(conn, self.rows)
            self.rows = []


async def entries_after(
    conn: asyncpg.Connection | asyncpg.Pool, person_id: str, after: int, limit: int = 500
) -> list[tuple[int, str, str]]:
    """(seq, kind, JSON data) of the person's entries after ``after``, oldest first."""
    rows = await conn.fetch(
        "SELECT seq, kind, data FROM stream WHERE person_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        person_id,
        after,
        limit,
    )
    return [(int(r["seq"]), r["kind"], r["data"]) for r in rows]


async def entries_after_many(
    conn: asyncpg.Connection | asyncpg.Pool, cursors: Sequence[tuple[str, int]], limit: int = 500
) -> list[list[tuple[int, str, str]]]:
    """``entries_after`` of each (person, after), in one statement: for each cursor, in its order, that
    person's entries after it, oldest first, at most ``limit`` (what many streams woken together read)."""
    if not cursors:
        return []
    rows = await conn.fetch(
        """SELECT c.n, s.seq, s.kind, s.data
           FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS c (person_id, after, n)
           CROSS JOIN LATERAL (
               SELECT seq, kind, data FROM stream
               WHERE person_id = c.person_id AND seq > c.after ORDER BY seq LIMIT $3
           ) AS s
           ORDER BY c.n, s.seq""",
        [person_id for person_id, _ in cursors],
        [after for _, after in cursors],
        limit,
    )
    entries: list[list[tuple[int, str, str]]] = [[] for _ in cursors]
    for r in rows:
        entries[r["n"] - 1].append((int(r["seq"]), r["kind"], r["data"]))
    return entries
