"""The audit service keeps every event of every topic, in the order it consumed them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from events.envelope import Envelope
from services.audit import adapters
from services.audit.domain import chain_key
from services.runtime.consuming import ALL_EVENTS, BatchHandler
from services.runtime.settings import Settings
from services.runtime.unit_of_work import Handler, UnitOfWork


def handlers(settings: Settings) -> Mapping[str, Handler]:
    """The handlers, keyed with the installation's chain key; no key, no start (MissingAuditKey)."""
    key = chain_key(settings.audit_key)

    async def record(event: Envelope, uow: UnitOfWork) -> None:
        assert uow.position is not None
        await adapters.append(uow.conn, key, event, uow.position, uow.record_value)

    return {ALL_EVENTS: record}


def batch_handler(settings: Settings) -> BatchHandler:
    """Runs of events chained together: hashed here one after the other, inserted in one statement
    (adapters.append_many), the chain exactly what one by one makes. Across partitions, merged by send
    time as the single lane reads them; the directory's TokenRevoked and AgencyChanged, which carry
    their own handler (revocations), go alone."""
    key = chain_key(settings.audit_key)

    async def record_all(items: Sequence[tuple[Envelope, UnitOfWork]]) -> None:
        positions = []
        for event, uow in items:
            assert uow.position is not None
            positions.append((event, uow.position, uow.record_value))
        await adapters.append_many(items[0][1].conn, key, positions)

    return BatchHandler(frozenset({ALL_EVENTS}), record_all, across_partitions=True)
