"""Fakes of the runtime's ports: the outbox (services/runtime/outbox.py) and the idempotency keys
(services/runtime/idempotency.py), and a UnitOfWork that writes through them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest

from events.clock import ManualClock
from events.codec import to_record
from events.envelope import Envelope
from services.runtime import idempotency, unit_of_work
from services.runtime.limits import check_event_size
from services.runtime.outbox import _what
from services.runtime.unit_of_work import UnitOfWork


class InMemoryOutbox:
    """``outbox.enqueue`` / ``enqueue_many`` / ``holds_same_event`` on a dict: one event per id, oversized
    events refused."""

    def __init__(self) -> None:
        self.events: dict[uuid.UUID, Envelope] = {}

    async def enqueue(
        self,
        _conn: Any,
        envelope: Envelope,
        *,
        schema: str,
        key: str | None = None,
        topic: str | None = None,
        traceparent: str | None = None,
    ) -> bool:
        check_event_size(envelope.event_type, to_record(envelope, key).value)
        if envelope.event_id in self.events:
            return False
        self.events[envelope.event_id] = envelope
        return True

    async def enqueue_many(
        self, conn: Any, envelopes: Sequence[Envelope], *, schema: str, traceparents: Sequence[str | None] = ()
    ) -> set[uuid.UUID]:
        """The ids already held, as ``outbox.enqueue_many`` returns them; the rest stored in order."""
        return {e.event_id for e in envelopes if not await self.enqueue(conn, e, schema=schema)}

    async def holds_same_event(self, _conn: Any, envelope: Envelope) -> bool:
        stored = self.events.get(envelope.event_id)
        return stored is not None and _what(stored.model_dump(mode="json")) == _what(envelope.model_dump(mode="json"))

    def of_type(self, event_type: str) -> list[Envelope]:
        return [e for e in self.events.values() if e.event_type == event_type]


class InMemoryCommandKeys:
    """``idempotency.recall`` / ``remember`` on a dict, with the same 409 for a key reused on another body."""

    fingerprint = staticmethod(idempotency.fingerprint)
    KeyReused = idempotency.KeyReused

    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], tuple[str, Envelope]] = {}

    async def recall(self, _conn: Any, subject: str, key: str, digest: str) -> Envelope | None:
        if (held := self.keys.get((subject, key))) is None:
            return None
        if held[0] != digest:
            raise idempotency.KeyReused(key)
        return held[1]

    async def remember(self, _conn: Any, subject: str, key: str, digest: str, event: Envelope) -> None:
        if (subject, key) in self.keys:
            raise idempotency.KeyReused(key)
        self.keys[(subject, key)] = (digest, event)


def fake_unit_of_work(
    monkeypatch: pytest.MonkeyPatch, service: str, now: datetime
) -> tuple[UnitOfWork, InMemoryOutbox]:
    """A UnitOfWork with no connection whose events land in an in-memory outbox (the real ``emit``: ids,
    size limit, same-id rule). The repository fakes ignore ``uow.conn``."""
    outbox = InMemoryOutbox()
    monkeypatch.setattr(unit_of_work, "outbox", outbox)
    return UnitOfWork(conn=None, service=service, schema=service, clock=ManualClock(now)), outbox
