"""Transactional outbox: an event is stored in the same transaction as the change it reports.

Invariants (tested in tests/integration/test_outbox.py):
* an event exists in the outbox iff its transaction committed (no dual write);
* the relay publishes every committed row at least once, in id order per service;
* re-publishing after a crash is harmless: the event id is deterministic and every consumer's
  inbox drops the duplicate.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

import asyncpg
from pydantic_core import to_json

from events.codec import KafkaRecord, to_record
from events.envelope import Envelope
from services.runtime import tracing
from services.runtime.limits import check_event_size


def notify_channel(schema: str) -> str:
    return f"dondoc_outbox_{schema}"


async def enqueue(
    conn: asyncpg.Connection,
    envelope: Envelope,
    *,
    schema: str,
    key: str | None = None,
    topic: str | None = None,
    traceparent: str | None = None,
) -> bool:
    """Store the event for publication (on its payload's topic, or ``topic``); returns False when the same
    event id is already stored (a retried command), which callers treat as success.

    An event whose encoding is over events.limits.EVENT_MAX_BYTES raises EventTooLarge before anything is
    stored: Kafka would refuse it, and a row the relay cannot publish would hold back every later one."""
    # The trace it belongs to: the given one, the request's or consumed record's, else a new one (a timer, the
    # CLI): every event carries a traceparent (runtime/tracing.py).
    record = to_record(envelope, key, traceparent or tracing.current() or tracing.child_of(None))
    check_event_size(envelope.event_type, record.value)
    # The NOTIFY (delivered at commit only) wakes the relay without polling; sent from RETURNING, it
    # costs no round trip of its own and goes out only when a row was inserted.
    inserted = await conn.fetchrow(
        """INSERT INTO outbox (event_id, topic, key, value, headers)
           VALUES ($1, $2, $3, $4, $5::jsonb)
           ON CONFLICT (event_id) DO NOTHING RETURNING true, pg_notify($6, '')""",
        envelope.event_id,
        topic or record.topic,
        record.key.decode() if record.key is not None else None,
        record.value,
        _headers_json(record),
        notify_channel(schema),
    )
    return inserted is not None


async def enqueue_many(
    conn: asyncpg.Connection,
    envelopes: Sequence[Envelope],
    *,
    schema: str,
    traceparents: Sequence[str | None] = (),
) -> set[uuid.UUID]:
    """``enqueue`` for many events (each on its payload's topic, its default key) in one statement, stored in
    their order; returns the ids already stored before (which callers check as ``enqueue``'s False). Each
    joins its own cause's trace (``traceparents``, one per envelope), else the current one, else a new one."""
    if not envelopes:
        return set()
    fallback = tracing.current() or tracing.child_of(None)
    traces = list(traceparents) or [None] * len(envelopes)
    records = [to_record(e, None, t or fallback) for e, t in zip(envelopes, traces, strict=True)]
    for envelope, record in zip(envelopes, records, strict=True):
        check_event_size(envelope.event_type, record.value)
    rows = await conn.fetch(
        """INSERT INTO outbox (event_id, topic, key, value, headers)
           SELECT event_id, topic, key, value, headers::jsonb
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bytea[], $5::text[])
               WITH ORDINALITY AS g (event_id, topic, key, value, headers, n)
           ORDER BY n
           ON CONFLICT (event_id) DO NOTHING RETURNING event_id, pg_notify($6, '')""",
        [e.event_id for e in envelopes],
        [r.topic for r in records],
        [r.key.decode() if r.key is not None else None for r in records],
        [r.value for r in records],
        [_headers_json(r) for r in records],
        notify_channel(schema),
    )
    stored = {r["event_id"] for r in rows}
    return {e.event_id for e in envelopes} - stored


def _headers_json(record: KafkaRecord) -> str:
    """The record's headers as the jsonb the relay reads back: [[name, text], …] in their order. Written by
    pydantic's JSON writer, twice as fast as json.dumps for the few header pairs of every emitted event."""
    return to_json([[k, v.decode()] for k, v in record.headers]).decode()


async def holds_same_event(conn: asyncpg.Connection, envelope: Envelope) -> bool:
    """Whether the outbox row of ``envelope.event_id`` tells the same thing (payload, task, actor): the
    same cause handled again (a redelivered record, a retried command), not another event under its id."""
    stored = await conn.fetchval("SELECT value FROM outbox WHERE event_id = $1", envelope.event_id)
    if stored is None:
        return False
    return _what(json.loads(bytes(stored))) == _what(envelope.model_dump(mode="json"))


def _what(value: dict[str, object]) -> tuple[object, ...]:
    return value.get("event_type"), value.get("task_id"), value.get("actor"), value.get("payload")
