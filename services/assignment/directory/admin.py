"""Who may change what in the directory (the token's agency is the admin):

* an agency (creating, moving, renaming, abolishing it): an agency above it, both where it was and
  where it goes, so an admin edits only its own subtree (a successor, too, is in it); an agency never
  edits its own record (its can_assign_to would grant itself power), and a root agency is created only
  from the CLI (``dondoc directory …``), which runs on the server. What it newly grants in
  ``can_assign_to`` never exceeds its own authority (runtime/access.py ``beyond_authority``);
* a person: their agency or one above it, before and after the change;
* a group: an agency above every agency the group names (the root agency for groups naming none);
* a reorganisation: an agency above every agency the decision abolishes and every successor it names.

Each check reads the few rows it needs through ``adapters``, and returns the record to store.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.assignment.directory import adapters
from services.assignment.directory.adapters import Conn
from services.assignment.directory.handlers import anchors
from services.assignment.directory.model import (
    AgencyFields,
    AgencyRecord,
    GroupFields,
    GroupRecord,
    PersonFields,
    PersonRecord,
)
from services.assignment.directory.reorganisation import ReorganisationFields, successors
from services.assignment.errors import forbidden
from services.runtime.access import beyond_authority


async def require_admin(conn: Conn, admin: str, over: Iterable[str | None]) -> None:
    """``admin`` is each target or one of its ancestors."""
    targets = list(dict.fromkeys(over))
    if None in targets:
        raise forbidden(
            "root-agency-cli-only",
            "a root agency is created only with the CLI on the server",
            "Cơ quan cấp cao nhất chỉ được tạo bằng dòng lệnh trên máy chủ",
        )
    chains = await adapters.chains(conn, [t for t in targets if t])
    for target in targets:
        chain = chains.get(target or "", [])
        if admin not in chain:
            raise forbidden(
                "not-directory-admin",
                f"{admin} does not administer {target}",
                f"{admin} không quản lý {target} trong danh bạ",
            )


async def require_authority(conn: Conn, admin: str, granted: Iterable[str]) -> None:
    """What ``admin`` newly grants in a can_assign_to is within what it may assign to itself."""
    new = list(granted)
    if not new:
        return
    own = (await adapters.agencies(conn, [admin])).get(admin)
    beyond = beyond_authority(admin, own.can_assign_to if own else (), new, await adapters.chains(conn, new))
    if beyond:
        raise forbidden(
            "authority-exceeded",
            f"{admin} cannot grant authority to assign to {', '.join(beyond)}: it may not assign "
            "there itself (only to its subtree and its own can_assign_to)",
            f"{admin} không thể trao quyền giao nhiệm vụ cho {', '.join(beyond)} vì chính mình "
            "không có quyền đó (chỉ cấp dưới và danh sách can_assign_to của mình)",
        )


async def agency_to_put(conn: Conn, admin: str, agency_id: str, fields: AgencyFields) -> AgencyRecord:
    if admin == agency_id:
        raise forbidden(
            "not-directory-admin",
            "an agency does not edit its own record; one above it does",
            "Cơ quan không tự sửa thông tin của mình; cơ quan cấp trên thực hiện",
        )
    record = AgencyRecord(agency_id=agency_id, **fields.model_dump())
    current = (await adapters.agencies(conn, [agency_id])).get(agency_id)
    # Administering its parent (where it was and where it goes) is administering it from above.
    await require_admin(conn, admin, [record.parent_id, *([current.parent_id] if current else [])])
    if record.successor_id:  # its open tasks move there: the successor is in the admin's subtree too
        await require_admin(conn, admin, [record.successor_id])
    already = set(current.can_assign_to) if current else set()
    await require_authority(conn, admin, [a for a in record.can_assign_to if a not in already])
    return record


async def person_to_put(conn: Conn, admin: str, person_id: str, fields: PersonFields) -> PersonRecord:
    record = PersonRecord(person_id=person_id, **fields.model_dump())
    current = await adapters.person(conn, person_id)
    await require_admin(conn, admin, [record.agency_id, *([current.agency_id] if current else [])])
    return record


async def group_to_put(conn: Conn, admin: str, group_id: str, fields: GroupFields) -> GroupRecord:
    record = GroupRecord(group_id=group_id, **fields.model_dump())
    if named := [*record.member_ids, *sorted(anchors(record))]:
        await require_admin(conn, admin, named)
    elif (await adapters.chains(conn, [admin])).get(admin, [])[1:]:
        raise forbidden(
            "not-directory-admin",
            "a group naming no agency is changed by the root agency only",
            "Nhóm không gắn với cơ quan nào chỉ do cơ quan cấp cao nhất quản lý",
        )
    return record


async def may_reorganise(conn: Conn, admin: str, fields: ReorganisationFields) -> None:
    """The admin administers every agency the decision names, from above: an agency never abolishes itself."""
    abolished = [a.agency_id for a in fields.agencies]
    if admin in abolished:
        raise forbidden(
            "not-directory-admin",
            "an agency does not abolish itself; one above it records the decision",
            "Cơ quan không tự giải thể; cơ quan cấp trên ghi nhận quyết định sắp xếp",
        )
    await require_admin(conn, admin, [*abolished, *(s for a in fields.agencies for s in successors(a))])
