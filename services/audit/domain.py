"""The audit chain: pure hashing, so verification needs nothing but the rows."""

from __future__ import annotations

import hashlib

GENESIS = bytes(32)


def link(prev_hash: bytes, seq: int, value: bytes) -> bytes:
    return hashlib.sha256(prev_hash + seq.to_bytes(8, "big") + value).digest()


def first_break(rows: list[tuple[int, bytes, bytes, bytes]], start: bytes = GENESIS) -> int | None:
    """Rows of (seq, value, prev_hash, hash) in seq order; the seq of the first broken link, or None."""
    prev = start
    for seq, value, prev_hash, hash_ in rows:
        if prev_hash != prev or link(prev, seq, value) != hash_:
            return seq
        prev = hash_
    return None
