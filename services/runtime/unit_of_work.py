"""The unit of work handed to every handler: one transaction, and a way to emit events into it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from events.clock import Clock
from events.envelope import Actor, Envelope, EventPayload, deterministic_id, new_envelope
from services.runtime import outbox


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

    async def emit(
        self,
        payload: EventPayload,
        *,
        actor: Actor,
        task_id: str | None = None,
        key: str | None = None,
        id_parts: tuple[object, ...] = (),
    ) -> Envelope:
        """Write ``payload`` to the outbox, inside this transaction.

        The event id is derived from the cause (the consumed event, or the parts that identify a
        command, such as a client's idempotency key), so doing the same work twice yields the same
        event id, and the outbox and every inbox keep only one.
        """
        if self.cause is None and not id_parts:
            raise ValueError("an event with no cause needs id_parts that identify the command")
        origin: tuple[object, ...] = (self.cause.event_id,) if self.cause else (self.service,)
        event_id = deterministic_id(*origin, payload.event_type, task_id, *id_parts)
        envelope = new_envelope(
            payload,
            event_id=event_id,
            occurred_at=self.clock.now(),
            producer=self.service,
            actor=actor,
            task_id=task_id,
            cause=self.cause,
        )
        await outbox.enqueue(self.conn, envelope, schema=self.schema, key=key)
        return envelope


Handler = Callable[[Envelope, UnitOfWork], Awaitable[None]]
