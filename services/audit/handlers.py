"""The audit service keeps every event of every topic, in the order it consumed them."""

from __future__ import annotations

from events.envelope import Envelope
from services.audit import adapters
from services.runtime.consuming import ALL_EVENTS
from services.runtime.unit_of_work import UnitOfWork


async def record(event: Envelope, uow: UnitOfWork) -> None:
    assert uow.position is not None
    await adapters.append(uow.conn, event, uow.position)


EVENT_HANDLERS = {ALL_EVENTS: record}
