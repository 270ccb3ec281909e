"""`dondoc audit verify`: the audit table held to the key, to the signed checkpoints and to the Kafka log.

1. The checkpoints are read from ``dondoc.audit-checkpoints``; one that does not verify is itself tampering.
2. The audited topics are read from the start (no consumer group). Every event in the part of the log
   the checkpoints say the chain read (first to next offset of each partition) must be in the table; the
   ids of the whole log tell a forged row from a changed one.
3. The table is walked in ``seq`` order (verification.ChainWalk), then its end is held to the checkpoints
   and to ``chain_head``.

What it cannot see: rows removed from the very end after the last checkpoint, with ``chain_head`` forged
to match — bounded by ``audit_checkpoint_every`` / ``audit_checkpoint_interval_s``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from events.codec import DecodeError, decode
from events.topics import AUDIT_CHECKPOINTS
from services.audit import adapters, checkpoints
from services.audit.verification import ChainWalk, Finding
from services.runtime.replay.log import LogReader
from services.runtime.settings import Settings

_BATCH = 5000
CHAIN = "audit"  # the audit service's schema, whose chain is verified (its checkpoints: "<database>/audit")


@dataclass(frozen=True)
class Report:
    checked: int  # rows of the table that verified
    checkpoints: int  # signed checkpoints read
    checkpointed: int  # the largest count a signed checkpoint vouches for
    logged: int  # events of the Kafka log the table was held to
    finding: Finding | None


@dataclass
class _Log:
    ids: set[str]  # every event id of the log read
    vouched: dict[str, tuple[str, int, int]]  # event id -> position, for events the audit service vouched for


async def verify(
    key: bytes,
    database: str | asyncpg.Connection,
    kafka: Settings | None,
    topics: tuple[str, ...],
    *,
    on_rows: Callable[[int], None] | None = None,
) -> Report:
    """``database``: a URL, or a connection whose search_path finds the audit tables (left open).
    ``kafka`` (the reader's Kafka settings) None: the table and ``chain_head`` alone (no checkpoints, no log)."""
    if not isinstance(database, str):
        return await _verify(key, database, kafka, topics, on_rows)
    conn = await asyncpg.connect(database, server_settings={"search_path": CHAIN})
    try:
        return await _verify(key, conn, kafka, topics, on_rows)
    finally:
        await conn.close()


async def _verify(
    key: bytes,
    conn: asyncpg.Connection,
    kafka: Settings | None,
    topics: tuple[str, ...],
    on_rows: Callable[[int], None] | None,
) -> Report:
    heads: dict[int, bytes] = {}
    log = _Log(set(), {})
    if kafka is not None:
        chain = checkpoints.chain_id(await conn.fetchval("SELECT current_database()"), CHAIN)
        found = await _checkpoints(key, kafka, chain)
        if isinstance(found, Finding):
            return Report(0, 0, 0, 0, found)
        ranges: dict[tuple[str, int], tuple[int, int]] = {}
        for cp in found:
            heads[cp.count] = cp.head
            for topic, partitions in cp.offsets.items():
                for partition, (first, next_) in partitions.items():
                    low, high = ranges.get((topic, partition), (first, next_))
                    ranges[(topic, partition)] = (min(low, first), max(high, next_))
        log = await _read_log(kafka, topics, ranges)

    walk = ChainWalk(
        key, adapters.TableIndex(conn), checkpoints=heads, logged_events=log.ids if kafka is not None else None
    )
    recorded: dict[tuple[str, int], int] = {}  # furthest offset recorded per partition
    ids: set[str] = set()
    after = 0
    while rows := await adapters.chain_rows(conn, after, _BATCH):
        finding = await walk.feed(rows)
        if finding is not None:
            return Report(walk.count, len(heads), max(heads, default=0), len(log.vouched), finding)
        for row in rows:
            ids.add(row.event_id)
            place = (row.topic, row.partition)
            recorded[place] = max(row.offset, recorded.get(place, -1))
        after = rows[-1].seq
        if on_rows is not None:
            on_rows(len(rows))
    head = await conn.fetchrow("SELECT seq, hash FROM chain_head")
    finding = walk.end(
        head=None if head is None else (head["seq"], bytes(head["hash"])), checkpoint_count=max(heads, default=0)
    )
    finding = finding or _missing(log, ids, recorded, walk.count)
    return Report(walk.count, len(heads), max(heads, default=0), len(log.vouched), finding)


async def _checkpoints(key: bytes, kafka: Settings, chain: str) -> list[checkpoints.Checkpoint] | Finding:
    """The checkpoints of this chain; one claiming it (or claiming nothing) that does not verify is a finding.
    Other chains (another database or schema on the same Kafka) are not this verification's business."""
    found = []
    async with LogReader(kafka, [AUDIT_CHECKPOINTS], client_id="dondoc-audit-verify") as reader:
        async for batch in reader.batches(1000):
            for record in batch:
                if checkpoints.chain_of(record.value) not in (chain, None):
                    continue
                try:
                    found.append(checkpoints.decode(key, record.value))
                except checkpoints.ForgedCheckpoint as exc:
                    return Finding(
                        "forged-checkpoint",
                        None,
                        f"checkpoint at offset {record.offset} of {AUDIT_CHECKPOINTS} cannot be trusted: {exc}",
                    )
    return found


async def _read_log(kafka: Settings, topics: tuple[str, ...], ranges: dict[tuple[str, int], tuple[int, int]]) -> _Log:
    log = _Log(set(), {})
    async with LogReader(kafka, topics, client_id="dondoc-audit-verify") as reader:
        async for batch in reader.batches(5000):
            for record in batch:
                try:
                    event_id = str(decode(record.value).event_id)
                except DecodeError:
                    continue  # never an event: the audit service dead-letters it, the chain has no row for it
                log.ids.add(event_id)
                first, next_ = ranges.get((record.topic, record.partition), (0, 0))
                if first <= record.offset < next_:
                    log.vouched.setdefault(event_id, (record.topic, record.partition, record.offset))
    return log


def _missing(log: _Log, ids: set[str], recorded: dict[tuple[str, int], int], count: int) -> Finding | None:
    """An event the audit service vouched for that the table does not hold: deleted, or truncated when
    nothing after it in its partition is recorded either."""
    missing = sorted((pos, event_id) for event_id, pos in log.vouched.items() if event_id not in ids)
    if not missing:
        return None
    (topic, partition, offset), event_id = missing[0]
    where = f"event {event_id} ({topic}[{partition}] offset {offset})"
    if recorded.get((topic, partition), -1) > offset:
        return Finding(
            "deleted",
            None,
            f"{where} was recorded by the audit service but its row is gone "
            f"({len(missing)} event(s) of the log missing in all)",
        )
    return Finding(
        "truncated",
        count + 1,
        f"the chain ends at #{count}, but the audit service had recorded "
        f"{where} and {len(missing) - 1} more: rows from #{count + 1} on "
        "were removed",
    )
