"""Consumed directory events: who heads which agency, which offices track it, how to reach a person."""

from __future__ import annotations

from events.directory import AgencyChanged, PersonChanged
from events.envelope import Envelope
from services.alerts import directory_store
from services.runtime.unit_of_work import Handler, UnitOfWork


async def on_agency_changed(event: Envelope, uow: UnitOfWork) -> None:
    assert isinstance(event.payload, AgencyChanged)
    await directory_store.upsert_agency(uow.conn, event.payload)


async def on_person_changed(event: Envelope, uow: UnitOfWork) -> None:
    assert isinstance(event.payload, PersonChanged)
    await directory_store.upsert_person(uow.conn, event.payload)


HANDLERS: dict[str, Handler] = {"AgencyChanged": on_agency_changed, "PersonChanged": on_person_changed}
