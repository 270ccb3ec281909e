"""The ledger of intake commands received, shared by every service that reads ``dondoc.intake``.

Invariant: one row per (agency, command id), written in the transaction of the command's effects
(or of its rejection). The same command at the same Kafka position again is a redelivery: nothing
happens again. The same command id at another position is a replay: refused. A command refused for
its agency or key (inactive, revoked) is not recorded, so it may come again signed with a live key;
``first_read_at`` lets a service recognise a redelivery before it judges those.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.runtime.unit_of_work import Position


@dataclass(frozen=True)
class Receipt:
    first: bool
    first_read_at: Position

    def is_redelivery_of(self, here: Position) -> bool:
        return not self.first and self.first_read_at == here


async def receive(
    conn: asyncpg.Connection, *, agency_id: str, command_id: str, command_type: str, at: Position, received_at: datetime
) -> Receipt:
    row = await conn.fetchrow(
        """INSERT INTO intake_commands (agency_id, command_id, command_type, topic, partition, "offset",
               outcome, received_at) VALUES ($1, $2, $3, $4, $5, $6, 'accepted', $7)
           ON CONFLICT (agency_id, command_id) DO UPDATE SET agency_id = EXCLUDED.agency_id
           -- xmax = 0 only on a fresh insert: tells a first receipt from one seen before, in one statement
           RETURNING topic, partition, "offset", (xmax = 0) AS first""",
        agency_id,
        command_id,
        command_type,
        at.topic,
        at.partition,
        at.offset,
        received_at,
    )
    assert row is not None
    return Receipt(bool(row["first"]), Position(row["topic"], row["partition"], row["offset"]))


async def first_read_at(conn: asyncpg.Connection, *, agency_id: str, command_id: str) -> Position | None:
    """Where the command was first read, if it was: a redelivery is recognised before anything is judged."""
    row = await conn.fetchrow(
        'SELECT topic, partition, "offset" FROM intake_commands WHERE agency_id = $1 AND command_id = $2',
        agency_id,
        command_id,
    )
    return Position(row["topic"], row["partition"], row["offset"]) if row else None


async def mark_rejected(conn: asyncpg.Connection, *, agency_id: str, command_id: str, code: str) -> None:
    await conn.execute(
        "UPDATE intake_commands SET outcome = 'rejected', code = $3 WHERE agency_id = $1 AND command_id = $2",
        agency_id,
        command_id,
        code,
    )
