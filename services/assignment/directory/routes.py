"""Admin HTTP of the directory. Who may change what is directory/admin.py; a person's e-mail address is
shown only to their agency or one above it, never publicly."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel

from events.envelope import Actor
from events.roles import Action
from services.assignment.directory import adapters, admin, handlers, reorganise
from services.assignment.directory.handlers import Change
from services.assignment.directory.model import (
    AgencyFields,
    AgencyRecord,
    DirectoryId,
    GroupFields,
    GroupRecord,
    PersonFields,
    PersonRecord,
)
from services.assignment.directory.reorganisation import ReorganisationFields
from services.assignment.directory.views import (
    AgencyView,
    Changed,
    Found,
    GroupView,
    Matches,
    Mention,
    PersonView,
    PublicPersonView,
    ReorganisationView,
)
from services.assignment.errors import not_found
from services.assignment.tokens import ActingAgency, ReadingAgency
from services.runtime.auth import needs
from services.runtime.service import runtime_of
from services.runtime.unit_of_work import UnitOfWork

router = APIRouter(prefix="/v1/directory", tags=["directory"])
R = TypeVar("R", bound=BaseModel)


async def _apply(
    request: Request, by: str, work: Callable[[R, UnitOfWork, Actor], Awaitable[Change]], record: R
) -> Changed[R]:
    async with runtime_of(request).unit_of_work() as uow:
        change = await work(record, uow, Actor(agency_id=by))
    return Changed[R](changed=change.changed, version=change.version, record=record)


@router.put("/agencies/{agency_id}", dependencies=[needs(Action.ADMINISTER_DIRECTORY)])
async def put_agency(
    agency_id: str, fields: AgencyFields, agency: ActingAgency, request: Request
) -> Changed[AgencyRecord]:
    """Create or change an agency; published as AgencyChanged on dondoc.directory."""
    record = await admin.agency_to_put(runtime_of(request).pool, agency.agency_id, agency_id, fields)
    return await _apply(request, agency.agency_id, handlers.set_agency, record)


@router.put("/people/{person_id}", dependencies=[needs(Action.ADMINISTER_DIRECTORY)])
async def put_person(
    person_id: str, fields: PersonFields, agency: ActingAgency, request: Request
) -> Changed[PersonRecord]:
    """Create or change a person (head, deputy, officer); published as PersonChanged."""
    record = await admin.person_to_put(runtime_of(request).pool, agency.agency_id, person_id, fields)
    return await _apply(request, agency.agency_id, handlers.set_person, record)


@router.put("/groups/{group_id}", dependencies=[needs(Action.ADMINISTER_DIRECTORY)])
async def put_group(group_id: str, fields: GroupFields, agency: ActingAgency, request: Request) -> Changed[GroupRecord]:
    record = await admin.group_to_put(runtime_of(request).pool, agency.agency_id, group_id, fields)
    return await _apply(request, agency.agency_id, handlers.set_group, record)


@router.put("/reorganisations/{reorganisation_id}", dependencies=[needs(Action.ADMINISTER_DIRECTORY)])
async def put_reorganisation(
    reorganisation_id: DirectoryId, fields: ReorganisationFields, agency: ActingAgency, request: Request
) -> ReorganisationView:
    """Apply a reorganisation decision (merge, split, abolish): the abolished agencies name their successor
    and every open task of theirs moves there (TaskTransferred)."""
    await admin.may_reorganise(runtime_of(request).pool, agency.agency_id, fields)
    async with runtime_of(request).unit_of_work() as uow:
        applied = await reorganise.reorganise(reorganisation_id, fields, uow, Actor(agency_id=agency.agency_id))
    return applied.view(agency.agency_id)


@router.get("/agencies/{agency_id}")
async def get_agency(agency_id: str, request: Request) -> AgencyView:
    if (found := await adapters.agency_view(runtime_of(request).pool, agency_id)) is None:
        raise not_found("agency", "cơ quan", agency_id, "agency-not-found")
    return found


@router.get("/people/{person_id}")
async def get_person(person_id: str, request: Request, agency: ReadingAgency) -> PersonView | PublicPersonView:
    """A person as the directory knows them; their e-mail address only to a token of their agency or one
    above it (an address is where alerts about tasks go: not for the public)."""
    pool = runtime_of(request).pool
    if (person := await adapters.person_view(pool, person_id)) is None:
        raise not_found("person", "cán bộ", person_id, "person-not-found")
    chain = (await adapters.chains(pool, [person.agency_id])).get(person.agency_id, [])
    return person if agency is not None and agency.agency_id in chain else person.public()


@router.get("/groups/{group_id}")
async def get_group(group_id: str, request: Request) -> GroupView:
    if (found := await adapters.group_view(runtime_of(request).pool, group_id)) is None:
        raise not_found("group", "nhóm cơ quan", group_id, "group-not-found")
    return found


@router.get("/match")
async def match(name: str, request: Request) -> Matches:
    """How a cell of a task list reads against the directory (the importer's matching, for clients)."""
    directory = await adapters.load(runtime_of(request).pool)
    return Matches(
        mentions=tuple(
            Mention(
                text=m.text,
                found=tuple(Found(kind=n.kind, id=n.ident) for n in sorted(m.found)),
                suggestions=tuple(m.suggestions),
            )
            for m in directory.names.mentions(name)
        )
    )
