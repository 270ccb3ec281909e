"""Signed checkpoints of the audit chain on Kafka (``dondoc.audit-checkpoints``), outside the database.

A checkpoint says: the chain had ``count`` links ending in ``head``, and had read ``offsets`` (first and
next offset of each partition). It is signed with the chain key and written to a topic only the audit service may write
(Kafka ACLs), so someone who can write PostgreSQL can neither remove what it vouches for (truncating the
table, forging ``chain_head``) nor forge one. `audit verify` holds the table to every checkpoint.

Published straight through the producer, not the outbox: the outbox lives in the audit schema, the very
thing an insider could edit, and gains nothing here — each checkpoint covers the whole chain up to its
head, so one that fails to go out is superseded by the next (retried at the next tick) and none can be
"lost" in a way that hides anything the following one does not cover.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from events.topics import AUDIT_CHECKPOINTS
from services.audit import adapters
from services.audit.domain import chain_key
from services.runtime.consuming import INFRA_ERRORS
from services.runtime.logs import get_logger

if TYPE_CHECKING:
    from services.runtime.definition import Runtime

log = get_logger(__name__)

_TICK_S = 1.0  # how often the head is looked at; a checkpoint goes out only when due


class ForgedCheckpoint(ValueError):
    """A record of the checkpoint topic whose signature does not verify with the chain key."""


@dataclass(frozen=True)
class Checkpoint:
    chain: str  # whose chain it vouches for: "<database>/<schema>" (one Kafka may serve several)
    count: int
    head: bytes
    offsets: dict[str, dict[int, tuple[int, int]]]  # topic -> partition -> (first, next) offset read
    at: datetime


def _body(cp: Checkpoint) -> bytes:
    return json.dumps(
        {
            "chain": cp.chain,
            "count": cp.count,
            "head": cp.head.hex(),
            "at": cp.at.isoformat(),
            "offsets": {t: {str(p): list(o) for p, o in sorted(ps.items())} for t, ps in sorted(cp.offsets.items())},
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


def _mac(key: bytes, body: bytes) -> str:
    return hmac.new(key, b"dondoc-audit-checkpoint-v1\x00" + body, hashlib.sha256).hexdigest()


def encode(key: bytes, cp: Checkpoint) -> bytes:
    body = _body(cp)
    return json.dumps({"checkpoint": json.loads(body), "mac": _mac(key, body)}, separators=(",", ":")).encode()


def chain_of(value: bytes | None) -> str | None:
    """The chain a record claims to vouch for, before trusting anything in it; None if it says none."""
    try:
        chain = json.loads(value or b"")["checkpoint"]["chain"]
    except (ValueError, KeyError, TypeError):
        return None
    return chain if isinstance(chain, str) else None


def chain_id(database: str, schema: str) -> str:
    return f"{database}/{schema}"


def decode(key: bytes, value: bytes | None) -> Checkpoint:
    """The checkpoint of a record, or ForgedCheckpoint saying why it cannot be trusted."""
    try:
        raw = json.loads(value or b"")
        fields, mac = raw["checkpoint"], raw["mac"]
        cp = Checkpoint(
            chain=str(fields["chain"]),
            count=int(fields["count"]),
            head=bytes.fromhex(fields["head"]),
            offsets={t: {int(p): (int(o[0]), int(o[1])) for p, o in ps.items()} for t, ps in fields["offsets"].items()},
            at=datetime.fromisoformat(fields["at"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ForgedCheckpoint(f"not a checkpoint: {exc}") from exc
    if not isinstance(mac, str) or not hmac.compare_digest(_mac(key, _body(cp)), mac):
        raise ForgedCheckpoint("its signature does not verify with the chain key")
    return cp


async def publish_checkpoints(rt: Runtime) -> None:
    """Background task of the audit service: a checkpoint every ``audit_checkpoint_every`` events, and at
    least every ``audit_checkpoint_interval_s`` while the chain grows."""
    key = chain_key(rt.settings.audit_key)
    every, interval = rt.settings.audit_checkpoint_every, rt.settings.audit_checkpoint_interval_s
    loop = asyncio.get_running_loop()
    published, published_at = -1, loop.time()
    async with rt.pool.acquire() as conn:
        chain = chain_id(await conn.fetchval("SELECT current_database()"), rt.definition.schema)
    while True:
        try:
            async with rt.pool.acquire() as conn:
                count, head, offsets = await adapters.chain_state(conn)
        except INFRA_ERRORS as exc:
            # PostgreSQL restarting (issue 17's drill found this loop dead after one): the next tick reads again.
            log.warning("audit chain state unreadable; retrying", error=repr(exc))
            await asyncio.sleep(min(_TICK_S, interval))
            continue
        due = count != published and (
            count - published >= every or loop.time() - published_at >= interval or published < 0
        )
        if due:
            cp = Checkpoint(chain, count, head, offsets, rt.clock.now())
            try:
                await rt.producer.send_and_wait(AUDIT_CHECKPOINTS, encode(key, cp), key=cp.chain.encode())
            except Exception:
                # Kafka away: the next tick tries again with a checkpoint covering at least as much.
                log.warning("audit checkpoint not published; retrying", count=count, exc_info=True)
            else:
                published, published_at = count, loop.time()
                log.info("audit checkpoint published", count=count)
        await asyncio.sleep(min(_TICK_S, interval))
