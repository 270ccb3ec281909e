"""Admin HTTP of the directory. Who may change what (the token's agency is the admin):

* an agency (creating, moving, renaming, abolishing it): an agency above it, both where it was and
  where it goes; an agency never edits its own record (its can_assign_to would grant itself power),
  and a root agency is created only from the CLI (``dondoc directory …``), which runs on the server;
* a person: their agency or one above it, before and after the change;
* a group: an agency above every agency the group names (the root agency for groups naming none).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Request

from events.envelope import Actor
from services.assignment.directory import adapters, handlers
from services.assignment.directory.handlers import Change
from services.assignment.directory.model import (
    AgencyFields,
    AgencyRecord,
    GroupFields,
    GroupRecord,
    PersonFields,
)
from services.assignment.directory.model import PersonRecord as Person
from services.assignment.errors import Rejected, forbidden, not_found
from services.assignment.tokens import ActingAgency
from services.runtime.service import runtime_of

router = APIRouter(prefix="/v1/directory", tags=["directory"])


async def _require_admin(request: Request, admin: str, over: Iterable[str | None]) -> None:
    """``admin`` is each target or one of its ancestors."""
    targets = list(dict.fromkeys(over))
    if None in targets:
        raise forbidden("root-agency-cli-only", "a root agency is created only with the CLI on the server",
                        "Cơ quan cấp cao nhất chỉ được tạo bằng dòng lệnh trên máy chủ").as_http()
    chains = await adapters.chains(runtime_of(request).pool, [t for t in targets if t])
    for target in targets:
        chain = chains.get(target or "", [])
        if admin not in chain:
            raise forbidden("not-directory-admin", f"{admin} does not administer {target}",
                            f"{admin} không quản lý {target} trong danh bạ").as_http()


async def _apply(request: Request, admin: str, work: Any, record: Any) -> dict[str, Any]:
    try:
        async with runtime_of(request).unit_of_work() as uow:
            change: Change = await work(record, uow, Actor(agency_id=admin))
    except Rejected as exc:
        raise exc.as_http() from exc
    return {"changed": change.changed, "version": change.version, "record": record.model_dump(mode="json")}


@router.put("/agencies/{agency_id}")
async def put_agency(agency_id: str, fields: AgencyFields, agency: ActingAgency,
                     request: Request) -> dict[str, Any]:
    """Create or change an agency; published as AgencyChanged on dondoc.directory."""
    if agency.agency_id == agency_id:
        raise forbidden("not-directory-admin", "an agency does not edit its own record; one above it does",
                        "Cơ quan không tự sửa thông tin của mình; cơ quan cấp trên thực hiện").as_http()
    record = AgencyRecord(agency_id=agency_id, **fields.model_dump())
    current = (await adapters.agencies(runtime_of(request).pool, [agency_id])).get(agency_id)
    # Administering its parent (where it was and where it goes) is administering it from above.
    parents = [record.parent_id, *([current.parent_id] if current else [])]
    await _require_admin(request, agency.agency_id, parents)
    return await _apply(request, agency.agency_id, handlers.set_agency, record)


@router.put("/people/{person_id}")
async def put_person(person_id: str, fields: PersonFields, agency: ActingAgency,
                     request: Request) -> dict[str, Any]:
    """Create or change a person (head, deputy, officer); published as PersonChanged."""
    record = Person(person_id=person_id, **fields.model_dump())
    current = await adapters.person(runtime_of(request).pool, person_id)
    agencies = [record.agency_id, *([current.agency_id] if current else [])]
    await _require_admin(request, agency.agency_id, agencies)
    return await _apply(request, agency.agency_id, handlers.set_person, record)


@router.put("/groups/{group_id}")
async def put_group(group_id: str, fields: GroupFields, agency: ActingAgency,
                    request: Request) -> dict[str, Any]:
    record = GroupRecord(group_id=group_id, **fields.model_dump())
    if named := [*record.member_ids, *sorted(handlers.anchors(record))]:
        await _require_admin(request, agency.agency_id, named)
    elif (await adapters.chains(runtime_of(request).pool, [agency.agency_id])).get(agency.agency_id, [])[1:]:
        raise forbidden("not-directory-admin", "a group naming no agency is changed by the root agency only",
                        "Nhóm không gắn với cơ quan nào chỉ do cơ quan cấp cao nhất quản lý").as_http()
    return await _apply(request, agency.agency_id, handlers.set_group, record)


async def _row(request: Request, table: str, key: str, ident: str, kind_en: str,
               kind_vi: str) -> dict[str, Any]:
    row = await adapters.view(runtime_of(request).pool, table, key, ident)
    if row is None:
        raise not_found(kind_en, kind_vi, ident, f"{kind_en}-not-found").as_http()
    return row


@router.get("/agencies/{agency_id}")
async def get_agency(agency_id: str, request: Request) -> dict[str, Any]:
    agency = await _row(request, "agencies", "agency_id", agency_id, "agency", "cơ quan")
    return {**agency, **await adapters.around(runtime_of(request).pool, agency_id)}


@router.get("/people/{person_id}")
async def get_person(person_id: str, request: Request) -> dict[str, Any]:
    return await _row(request, "people", "person_id", person_id, "person", "cán bộ")


@router.get("/groups/{group_id}")
async def get_group(group_id: str, request: Request) -> dict[str, Any]:
    return await _row(request, "agency_groups", "group_id", group_id, "group", "nhóm cơ quan")


@router.get("/match")
async def match(name: str, request: Request) -> dict[str, Any]:
    """How a cell of a task list reads against the directory (the importer's matching, for clients)."""
    directory = await adapters.load(runtime_of(request).pool)
    mentions = directory.names.mentions(name)
    return {"mentions": [{"text": m.text, "found": [{"kind": n.kind, "id": n.ident} for n in sorted(m.found)],
                          "suggestions": list(m.suggestions)} for m in mentions]}
