"""Clients' idempotency keys: the same key is the same command, or a conflict.

A command sent again with its key (a retry after a lost answer) answers the event the first one emitted
and changes nothing; the same key with a different body is refused (409 ``idempotency-conflict``), never
applied: its event would carry the first one's id, and the outbox and every inbox would drop it while the
state had changed. The caller serialises the commands of one subject (the progress service locks the
task row) before asking, so two concurrent twins cannot both run.
"""

from __future__ import annotations

import hashlib
import json

import asyncpg
from pydantic import BaseModel

from events.codec import decode, encode_value
from events.envelope import Envelope
from services.runtime.refusals import Refused


class KeyReused(Refused):
    def __init__(self, key: str) -> None:
        shown = key if len(key) <= 80 else key[:79] + "…"
        super().__init__(
            "idempotency-conflict",
            f"the idempotency key {shown!r} was already used for a different command; "
            "send the same body to retry it, or a new key for a new command",
            f"Khóa {shown!r} đã dùng cho một lệnh có nội dung khác; gửi lại đúng nội dung để thử lại, "
            "hoặc dùng khóa mới cho lệnh mới",
            409,
        )


def fingerprint(command_type: str, command: BaseModel) -> str:
    body = command.model_dump(mode="json", exclude={"idempotency_key"})
    text = json.dumps([command_type, body], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


async def recall(conn: asyncpg.Connection, subject: str, key: str, digest: str) -> Envelope | None:
    """The event the key already emitted for this very command; None if the key is new. Raises KeyReused."""
    row = await conn.fetchrow(
        "SELECT fingerprint, event FROM command_keys WHERE subject = $1 AND key = $2", subject, key
    )
    if row is None:
        return None
    if row["fingerprint"] != digest:
        raise KeyReused(key)
    return decode(row["event"].encode())


async def remember(conn: asyncpg.Connection, subject: str, key: str, digest: str, event: Envelope) -> None:
    inserted = await conn.fetchval(
        """INSERT INTO command_keys (subject, key, fingerprint, event) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING RETURNING true""",
        subject,
        key,
        digest,
        encode_value(event).decode(),
    )
    if not inserted:  # a twin committed first although the caller should have serialised them
        raise KeyReused(key)
