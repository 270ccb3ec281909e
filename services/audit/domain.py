"""The audit chain: pure hashing, so verification needs nothing but the rows and the key.

Each row's link is an HMAC-SHA256, under a key PostgreSQL never holds (``DONDOC_AUDIT_KEY``), of the
previous link, where the event sat in the Kafka log (topic, partition, offset) and its exact bytes.
Someone who can write the audit schema can change, remove or reorder rows, but cannot make a link
that verifies: that needs the key. ``seq`` is not linked: the order of the chain is its links, and
``seq`` only numbers it (a renumbered row is found by its number, see verification.py).

Rows written before the chain was keyed (version 1) keep their unkeyed SHA-256 links; the first keyed
link covers their last hash, so rewriting them is found there.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from services.runtime.settings import MissingSecret

GENESIS = bytes(32)
LEGACY, KEYED = 1, 2
_DOMAIN = b"dondoc-audit-chain-v2\x00"


class MissingAuditKey(MissingSecret):
    """The audit service and `audit verify` need the chain key; PostgreSQL must not be the one holding it."""


def chain_key(secret: str) -> bytes:
    if len(secret) < 32:
        raise MissingAuditKey(
            "DONDOC_AUDIT_KEY is not set (or shorter than 32 characters): the audit chain is keyed with a secret "
            "the database does not hold. `dondoc up` makes one per installation (.dondoc/audit-key); in "
            "production set it from your secret store, the same for the audit service and `dondoc audit verify`."
        )
    return secret.encode()


@dataclass(frozen=True)
class ChainRow:
    seq: int
    event_id: str
    topic: str
    partition: int
    offset: int
    value: bytes
    prev_hash: bytes
    hash: bytes
    version: int = KEYED


def link(key: bytes, prev_hash: bytes, topic: str, partition: int, offset: int, value: bytes) -> bytes:
    # Every field length-prefixed or fixed-size, so no two different rows hash the same bytes.
    message = b"".join(
        (
            _DOMAIN,
            prev_hash,
            len(topic.encode()).to_bytes(4, "big"),
            topic.encode(),
            partition.to_bytes(4, "big", signed=True),
            offset.to_bytes(8, "big", signed=True),
            value,
        )
    )
    return hmac.new(key, message, hashlib.sha256).digest()


def legacy_link(prev_hash: bytes, seq: int, value: bytes) -> bytes:
    """The unkeyed link of rows recorded before the chain was keyed."""
    return hashlib.sha256(prev_hash + seq.to_bytes(8, "big") + value).digest()


def authentic(key: bytes, row: ChainRow) -> bool:
    """Whether the row's stored hash is the link of its own content and its own stored prev_hash."""
    if row.version == LEGACY:
        expected = legacy_link(row.prev_hash, row.seq, row.value)
    else:
        expected = link(key, row.prev_hash, row.topic, row.partition, row.offset, row.value)
    return hmac.compare_digest(expected, row.hash)
