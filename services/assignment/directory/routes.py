"""Admin HTTP of the directory. Who may change what (the token's agency is the admin):

* an agency (creating, moving, renaming, abolishing it): an agency above it, both where it was and
  where it goes, so an admin edits only its own subtree (a successor, too, is in it); an agency never
  edits its own record (its can_assign_to would grant itself power), and a root agency is created only
  from the CLI (``dondoc directory …``), which runs on the server. What it newly grants in
  ``can_assign_to`` never exceeds its own authority (runtime/access.py ``beyond_authority``);
* a person's e-mail address is shown only to their agency or one above it, never publicly;
* a person: their agency or one above it, before and after the change;
* a group: an agency above every agency the group names (the root agency for groups naming none).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Request

from events.envelope import Actor
from events.roles import Action
from services.assignment.directory import adapters, handlers, reorganise
from services.assignment.directory.handlers import Change
from services.assignment.directory.model import (
    AgencyFields,
    AgencyRecord,
    DirectoryId,
    GroupFields,
    GroupRecord,
    PersonFields,
)
from services.assignment.directory.model import PersonRecord as Person
from services.assignment.directory.reorganisation import ReorganisationFields, successors
from services.assignment.errors import forbidden, not_found
from services.assignment.tokens import ActingAgency, ReadingAgency
from services.runtime.access import beyond_authority
from services.runtime.auth import needs
from services.runtime.service import runtime_of

router = APIRouter(prefix="/v1/directory", tags=["directory"])


async def _require_admin(request: Request, admin: str, over: Iterable[str | None]) -> None:
    """``admin`` is each target or one of its ancestors."""
    targets = list(dict.fromkeys(over))
    if None in targets:
        raise forbidden(
            "root-agency-cli-only",
            "a root agency is created only with the CLI on the server",
            "Cơ quan cấp cao nhất chỉ được tạo bằng dòng lệnh trên máy chủ",
        )
    chains = await adapters.chains(runtime_of(request).pool, [t for t in targets if t])
    for target in targets:
        chain = chains.get(target or "", [])
        if admin not in chain:
            raise forbidden(
                "not-directory-admin",
                f"{admin} does not administer {target}",
                f"{admin} không quản lý {target} trong danh bạ",
            )


async def _require_authority(request: Request, admin: str, granted: Iterable[str]) -> None:
    """What ``admin`` newly grants in a can_assign_to is within what it may assign to itself."""
    new = list(granted)
    if not new:
        return
    pool = runtime_of(request).pool
    own = (await adapters.agencies(pool, [admin])).get(admin)
    beyond = beyond_authority(admin, own.can_assign_to if own else (), new, await adapters.chains(pool, new))
    if beyond:
        raise forbidden(
            "authority-exceeded",
            f"{admin} cannot grant authority to assign to {', '.join(beyond)}: it may not assign "
            "there itself (only to its subtree and its own can_assign_to)",
            f"{admin} không thể trao quyền giao nhiệm vụ cho {', '.join(beyond)} vì chính mình "
            "không có quyền đó (chỉ cấp dưới và danh sách can_assign_to của mình)",
        )


async def _apply(request: Request, admin: str, work: Any, record: Any) -> dict[str, Any]:
    async with runtime_of(request).unit_of_work() as uow:
        change: Change = await work(record, uow, Actor(agency_id=admin))
    return {"changed": change.changed, "version": change.version, "record": record.model_dump(mode="json")}


@router.put("/agencies/{agency_id}", dependencies=[needs(Action.ADMINISTER_DIRECTORY)])
async def put_agency(agency_id: str, fields: AgencyFields, agency: ActingAgency, request: Request) -> dict[str, Any]:
    """Create or change an agency; published as AgencyChanged on dondoc.directory."""
    if agency.agency_id == agency_id:
        raise forbidden(
            "not-directory-admin",
            "an agency does not edit its own record; one above it does",
            "Cơ quan không tự sửa thông tin của mình; cơ quan cấp trên thực hiện",
        )
    record = AgencyRecord(agency_id=agency_id, **fields.model_dump())
    current = (await adapters.agencies(runtime_of(request).pool, [agency_id])).get(agency_id)
    # Administering its parent (where it was and where it goes) is administering it from above.
    parents = [record.parent_id, *([current.parent_id] if current else [])]
    await _require_admin(request, agency.agency_id, parents)
    if record.successor_id:  # its open tasks move there: the successor is in the admin's subtree too
        await _require_admin(request, agency.agency_id, [record.successor_id])
    already = set(current.can_assign_to) if current else set()
    await _require_authority(request, agency.agency_id, [a for a in record.can_assign_to if a not in already])
    return await _apply(request, agency.agency_id, handlers.set_agency, record)


@router.put("/people/{person_id}", dependencies=[needs(Action.ADMINISTER_DIRECTORY)])
async def put_person(person_id: str, fields: PersonFields, agency: ActingAgency, request: Request) -> dict[str, Any]:
    """Create or change a person (head, deputy, officer); published as PersonChanged."""
    record = Person(person_id=person_id, **fields.model_dump())
    current = await adapters.person(runtime_of(request).pool, person_id)
    agencies = [record.agency_id, *([current.agency_id] if current else [])]
    await _require_admin(request, agency.agency_id, agencies)
    return await _apply(request, agency.agency_id, handlers.set_person, record)


@router.put("/groups/{group_id}", dependencies=[needs(Action.ADMINISTER_DIRECTORY)])
async def put_group(group_id: str, fields: GroupFields, agency: ActingAgency, request: Request) -> dict[str, Any]:
    record = GroupRecord(group_id=group_id, **fields.model_dump())
    if named := [*record.member_ids, *sorted(handlers.anchors(record))]:
        await _require_admin(request, agency.agency_id, named)
    elif (await adapters.chains(runtime_of(request).pool, [agency.agency_id])).get(agency.agency_id, [])[1:]:
        raise forbidden(
            "not-directory-admin",
            "a group naming no agency is changed by the root agency only",
            "Nhóm không gắn với cơ quan nào chỉ do cơ quan cấp cao nhất quản lý",
        )
    return await _apply(request, agency.agency_id, handlers.set_group, record)


async def _row(request: Request, table: str, key: str, ident: str, kind_en: str, kind_vi: str) -> dict[str, Any]:
    row = await adapters.view(runtime_of(request).pool, table, key, ident)
    if row is None:
        raise not_found(kind_en, kind_vi, ident, f"{kind_en}-not-found")
    return row


@router.put("/reorganisations/{reorganisation_id}", dependencies=[needs(Action.ADMINISTER_DIRECTORY)])
async def put_reorganisation(
    reorganisation_id: DirectoryId, fields: ReorganisationFields, agency: ActingAgency, request: Request
) -> dict[str, Any]:
    """Apply a reorganisation decision (merge, split, abolish): the abolished agencies name their successor
    and every open task of theirs moves there (TaskTransferred). The admin administers every agency the
    decision names, from above: an agency never abolishes itself."""
    abolished = [a.agency_id for a in fields.agencies]
    if agency.agency_id in abolished:
        raise forbidden(
            "not-directory-admin",
            "an agency does not abolish itself; one above it records the decision",
            "Cơ quan không tự giải thể; cơ quan cấp trên ghi nhận quyết định sắp xếp",
        )
    await _require_admin(request, agency.agency_id, [*abolished, *(s for a in fields.agencies for s in successors(a))])
    async with runtime_of(request).unit_of_work() as uow:
        applied = await reorganise.reorganise(reorganisation_id, fields, uow, Actor(agency_id=agency.agency_id))
    return applied.view(agency.agency_id)


@router.get("/agencies/{agency_id}")
async def get_agency(agency_id: str, request: Request) -> dict[str, Any]:
    agency = await _row(request, "agencies", "agency_id", agency_id, "agency", "cơ quan")
    return {**agency, **await adapters.around(runtime_of(request).pool, agency_id)}


@router.get("/people/{person_id}")
async def get_person(person_id: str, request: Request, agency: ReadingAgency) -> dict[str, Any]:
    """A person as the directory knows them; their e-mail address only to a token of their agency or one
    above it (an address is where alerts about tasks go: not for the public)."""
    person = await _row(request, "people", "person_id", person_id, "person", "cán bộ")
    chain = (await adapters.chains(runtime_of(request).pool, [person["agency_id"]])).get(person["agency_id"], [])
    if agency is None or agency.agency_id not in chain:
        person.pop("email", None)
    return person


@router.get("/groups/{group_id}")
async def get_group(group_id: str, request: Request) -> dict[str, Any]:
    return await _row(request, "agency_groups", "group_id", group_id, "group", "nhóm cơ quan")


@router.get("/match")
async def match(name: str, request: Request) -> dict[str, Any]:
    """How a cell of a task list reads against the directory (the importer's matching, for clients)."""
    directory = await adapters.load(runtime_of(request).pool)
    mentions = directory.names.mentions(name)
    return {
        "mentions": [
            {
                "text": m.text,
                "found": [{"kind": n.kind, "id": n.ident} for n in sorted(m.found)],
                "suggestions": list(m.suggestions),
            }
            for m in mentions
        ]
    }
