"""Consumed directory events (``dondoc.directory``): the agency tree and who heads each agency."""

from __future__ import annotations

from events.directory import AgencyChanged, PersonChanged
from events.envelope import Envelope
from services.reporting import directory_store
from services.runtime.unit_of_work import Handler, UnitOfWork


async def on_agency_changed(event: Envelope, uow: UnitOfWork) -> None:
    assert isinstance(event.payload, AgencyChanged)
    agency = event.payload
    await directory_store.upsert_agency(
        uow.conn,
        agency.agency_id,
        parent_id=agency.parent_id,
        name=agency.name,
        short_name=agency.short_name,
        level=agency.level,
        version=agency.version,
        successor_id=agency.successor_id,
    )


async def on_person_changed(event: Envelope, uow: UnitOfWork) -> None:
    assert isinstance(event.payload, PersonChanged)
    person = event.payload
    await directory_store.upsert_person(
        uow.conn,
        person.person_id,
        agency_id=person.agency_id,
        full_name=person.full_name,
        role=person.role if person.active else "",
        title=person.title,
        version=person.version,
    )


DIRECTORY_HANDLERS: dict[str, Handler] = {
    "AgencyChanged": on_agency_changed,
    "PersonChanged": on_person_changed,
}
