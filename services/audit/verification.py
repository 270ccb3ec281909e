"""Walking the audit chain and naming the first row that differs, with what was done to it.

Pure: the rows come in ``seq`` order, and what the walk needs to classify a break (which row has a given
hash, which rows link to one, which events the Kafka log holds) is asked of a ``ChainIndex``.

How a break is classified, the walk having accepted links 1..n ending in hash ``prev``:

* the row is authentic (its hash is the keyed link of its own content and prev_hash) but links elsewhere:
  - to a row that is in the table → **reordered** (a genuine row moved);
  - to a row that is not → **deleted** (what it linked to was removed);
* the row is not authentic:
  - its event is not in the Kafka log, or the chain goes on from ``prev`` without it → **inserted**;
  - otherwise → **modified** (content, position, hash or version changed in place);
* an intact link numbered other than n+1 → **modified** (its ``seq`` was changed);
* the table ends before a signed checkpoint's count, the head, or the log's events → **truncated**;
* ``chain_head`` differs from where the intact chain ends → **forged-head**;
* a record of the checkpoint topic whose signature does not verify → **forged-checkpoint** (evidence.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from services.audit.domain import GENESIS, KEYED, LEGACY, ChainRow, authentic

KINDS = ("modified", "deleted", "inserted", "reordered", "truncated", "forged-head", "forged-checkpoint")


@dataclass(frozen=True)
class Finding:
    kind: str
    seq: int | None  # the row named (for deleted/truncated: the number the first missing row had)
    detail: str


class ChainIndex(Protocol):
    async def row_with_hash(self, hash_: bytes) -> ChainRow | None: ...

    async def rows_linking_to(self, hash_: bytes) -> list[ChainRow]: ...


class ChainWalk:
    """Feed it the table's rows in ``seq`` order; the first finding stops the walk."""

    def __init__(
        self,
        key: bytes,
        index: ChainIndex,
        *,
        checkpoints: Mapping[int, bytes] | None = None,
        logged_events: set[str] | None = None,
    ) -> None:
        self.key, self.index = key, index
        self.checkpoints = dict(checkpoints or {})  # count -> head hash, from signed checkpoints
        self.logged_events = logged_events  # event ids in the Kafka log (None: log not read)
        self.prev, self.count, self.keyed_seen = GENESIS, 0, False

    async def feed(self, rows: Iterable[ChainRow]) -> Finding | None:
        for row in rows:
            finding = await self._step(row)
            if finding is not None:
                return finding
        return None

    async def _step(self, row: ChainRow) -> Finding | None:
        n = self.count + 1
        # Once keyed, always keyed: a later unkeyed row would be a forgery anyone could compute.
        valid = authentic(self.key, row) and not (row.version == LEGACY and self.keyed_seen)
        if not valid:
            return await self._not_authentic(row, n)
        if row.prev_hash != self.prev:
            return await self._misplaced(row, n)
        if row.seq != n:
            return Finding("modified", row.seq, f"row #{row.seq} is link {n} of the chain: its number was changed")
        expected = self.checkpoints.get(n)
        if expected is not None and expected != row.hash:
            return Finding(
                "modified",
                row.seq,
                f"the chain up to #{n} does not end in the hash a signed checkpoint "
                "recorded: rows up to it were rewritten",
            )
        self.prev, self.count = row.hash, n
        self.keyed_seen = self.keyed_seen or row.version == KEYED
        return None

    async def _misplaced(self, row: ChainRow, n: int) -> Finding:
        predecessor = None if row.prev_hash == GENESIS else await self.index.row_with_hash(row.prev_hash)
        if predecessor is not None or row.prev_hash == GENESIS:
            after = "the start of the chain" if predecessor is None else f"row #{predecessor.seq}"
            return Finding(
                "reordered",
                row.seq,
                f"row #{row.seq} (event {row.event_id}) is genuine but belongs "
                f"right after {after}, not after link {n - 1}",
            )
        return Finding(
            "deleted",
            n,
            f"row(s) from #{n} on were deleted: row #{row.seq} (event {row.event_id}) "
            f"links to a row that is no longer in the table",
        )

    async def _not_authentic(self, row: ChainRow, n: int) -> Finding:
        if self.logged_events is not None and row.event_id not in self.logged_events:
            return Finding(
                "inserted",
                row.seq,
                f"row #{row.seq} (event {row.event_id}) is no event of the Kafka "
                "log and its link does not verify: it was inserted",
            )
        continuing = [r for r in await self.index.rows_linking_to(self.prev) if r.seq != row.seq]
        if continuing and continuing[0].seq > row.seq and authentic(self.key, continuing[0]):
            return Finding(
                "inserted",
                row.seq,
                f"row #{row.seq} (event {row.event_id}) does not verify and the "
                f"chain goes on without it at row #{continuing[0].seq}",
            )
        return Finding(
            "modified",
            row.seq,
            f"row #{row.seq} (event {row.event_id}) was changed: its link does not "
            "verify against its content, position and predecessor",
        )

    def end(self, *, head: tuple[int, bytes] | None, checkpoint_count: int) -> Finding | None:
        """After the last row: the signed checkpoints and ``chain_head`` against where the chain ended."""
        if checkpoint_count > self.count:
            return Finding(
                "truncated",
                self.count + 1,
                f"the chain ends at #{self.count}, but a signed checkpoint "
                f"counted {checkpoint_count} events: rows from "
                f"#{self.count + 1} on were removed",
            )
        if head is not None:
            seq, hash_ = head
            if seq > self.count:
                return Finding(
                    "truncated",
                    self.count + 1,
                    f"the chain ends at #{self.count}, but chain_head "
                    f"remembers #{seq}: rows from #{self.count + 1} on "
                    "were removed",
                )
            if seq != self.count or hash_ != self.prev:
                return Finding(
                    "forged-head",
                    seq,
                    f"chain_head (#{seq}) is not where the intact chain ends (#{self.count}): it was changed",
                )
        return None
