"""The unit of work handed to every handler: one transaction, and a way to emit events into it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from events.clock import Clock
from events.envelope import Actor, Envelope, EventPayload, deterministic_id, new_envelope
from services.runtime import outbox, people


@dataclass(frozen=True)
class Position:
    """Where a consumed event sits in the Kafka log."""

    topic: str
    partition: int
    offset: int


@dataclass
class UnitOfWork:
    conn: asyncpg.Connection
    service: str
    schema: str
    clock: Clock
    cause: Envelope | None = None
    position: Position | None = None
    # The trace what this unit emits joins; None: the current one (runtime/tracing.py).
    traceparent: str | None = None
    # The consumed record's value as the log holds it (the audit chain links these bytes); None: no record.
    record_value: bytes | None = None

    async def emit(
        self,
        payload: EventPayload,
        *,
        actor: Actor,
        task_id: str | None = None,
        key: str | None = None,
        id_parts: tuple[object, ...] = (),
        effective_at: datetime | None = None,
    ) -> Envelope:
        """Write ``payload`` to the outbox, inside this transaction.

        The event id is derived from the cause (the consumed event, or the parts that identify a
        command, such as a client's idempotency key), so doing the same work twice yields the same
        event id, and the outbox and every inbox keep only one. An event that is not stored raises
        (NotEnqueued when another event holds its id, EventTooLarge over events.limits.EVENT_MAX_BYTES): it
        is never dropped silently. ``effective_at``: when the fact took effect, if not now (events/effective.py).
        """
        envelope = self.envelope(payload, actor=actor, task_id=task_id, id_parts=id_parts, effective_at=effective_at)
        if not await outbox.enqueue(self.conn, envelope, schema=self.schema, key=key, traceparent=self.traceparent):
            # The outbox already holds this event id. The same event again is the same cause handled
            # twice (a redelivered record's rejection): nothing is lost. Another event under that id
            # would commit a change whose event every inbox drops: refuse it.
            if not await outbox.holds_same_event(self.conn, envelope):
                raise NotEnqueued(envelope)
        return envelope

    def envelope(
        self,
        payload: EventPayload,
        *,
        actor: Actor,
        task_id: str | None = None,
        id_parts: tuple[object, ...] = (),
        effective_at: datetime | None = None,
    ) -> Envelope:
        """The envelope ``emit`` would store, its id derived from the cause and ``id_parts``."""
        if self.cause is None and not id_parts:
            raise ValueError("an event with no cause needs id_parts that identify the command")
        actor = _with_person(actor)
        origin: tuple[object, ...] = (self.cause.event_id,) if self.cause else (self.service,)
        event_id = deterministic_id(*origin, payload.event_type, task_id, *id_parts)
        return new_envelope(
            payload,
            event_id=event_id,
            occurred_at=self.clock.now(),
            producer=self.service,
            actor=actor,
            task_id=task_id,
            cause=self.cause,
            effective_at=effective_at,
        )


class NotEnqueued(RuntimeError):
    """An emitted event was not stored: its event id is already in the outbox with another content. The
    transaction must not commit as if it had been."""

    def __init__(self, envelope: Envelope) -> None:
        super().__init__(
            f"event {envelope.event_id} ({envelope.event_type}) is already in the outbox with another content"
        )
        self.envelope = envelope


async def emit_all(
    conn: asyncpg.Connection, schema: str, envelopes: Sequence[Envelope], *, traceparents: Sequence[str | None] = ()
) -> None:
    """Store envelopes built by ``UnitOfWork.envelope`` (of one transaction, ``conn``) in one statement,
    in their order, with ``emit``'s guarantee: an id already held by another event raises NotEnqueued.
    ``traceparents``: each envelope's cause's trace (its unit of work's), as ``emit`` would give it."""
    held = await outbox.enqueue_many(conn, envelopes, schema=schema, traceparents=traceparents)
    for envelope in envelopes:
        if envelope.event_id in held and not await outbox.holds_same_event(conn, envelope):
            raise NotEnqueued(envelope)


Handler = Callable[[Envelope, UnitOfWork], Awaitable[None]]


def _with_person(actor: Actor) -> Actor:
    """A person signed in acts for their agency: what a request of theirs causes for that agency names
    them (the source documents' "cá thể hóa trách nhiệm"). Set once, by the auth dependency, for the
    request; a consumer or timer has no acting person."""
    person = people.acting_person.get()
    if person is None or actor.person_id is not None or person.agency_id != actor.agency_id:
        return actor
    return actor.model_copy(update={"person_id": person.person_id})
