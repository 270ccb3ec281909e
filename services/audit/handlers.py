"""The audit service keeps every event of every topic, in the order it consumed them."""

from __future__ import annotations

from collections.abc import Mapping

from events.envelope import Envelope
from services.audit import adapters
from services.audit.domain import chain_key
from services.runtime.consuming import ALL_EVENTS
from services.runtime.settings import Settings
from services.runtime.unit_of_work import Handler, UnitOfWork


def event_handlers(settings: Settings) -> Mapping[str, Handler]:
    """The handlers, keyed with the installation's chain key; no key, no start (MissingAuditKey)."""
    key = chain_key(settings.audit_key)

    async def record(event: Envelope, uow: UnitOfWork) -> None:
        assert uow.position is not None
        await adapters.append(uow.conn, key, event, uow.position)

    return {ALL_EVENTS: record}
