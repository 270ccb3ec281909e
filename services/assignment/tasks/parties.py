"""Who may be given a task by whom: checked against the directory for every assignment and delegation.

* Every agency named exists and is active (an abolished one names its successor).
* The assigner has authority over the lead and every coordinating agency: they are in its subtree,
  or on its can_assign_to list (UBND tỉnh → the central agencies located in the province).
* The officer in charge is an active person of the lead agency or of one of its units.
* Coordinating groups ('… liên quan') are groups the directory knows.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from services.assignment.directory import adapters as directory
from services.assignment.errors import Rejected, forbidden
from services.assignment.tasks.rules import may_assign


async def check(
    conn: asyncpg.Connection,
    *,
    assigner: str,
    lead: str,
    coordinating: Sequence[str] = (),
    officer: str | None = None,
    groups: Sequence[str] = (),
) -> None:
    targets = [lead, *coordinating]
    known = await directory.agencies(conn, {assigner, *targets})
    missing = [a for a in (assigner, *targets) if a not in known]
    if missing:
        raise Rejected(
            "unknown-agency",
            f"not in the directory: {', '.join(missing)}",
            f"Không có trong danh bạ cơ quan: {', '.join(missing)}",
        )
    if inactive := [a for a in (assigner, *targets) if not known[a].active]:
        successors = ", ".join(f"{a} → {known[a].successor_id or '?'}" for a in inactive)
        raise Rejected(
            "agency-inactive",
            f"no longer active (successor): {successors}",
            f"Cơ quan không còn hoạt động (cơ quan kế thừa): {successors}",
        )
    chains = await directory.chains(conn, targets)
    edges = known[assigner].can_assign_to
    outside = [t for t in targets if not may_assign(assigner, chains[t], edges)]
    if outside:
        names = ", ".join(f"{known[t].name} ({t})" for t in outside)
        raise forbidden(
            "out-of-authority",
            f"{assigner} may assign only to agencies under it or on its can_assign_to list, not to {names}",
            f"{known[assigner].name} không có thẩm quyền giao nhiệm vụ cho {names} "
            "(không phải cơ quan cấp dưới, không thuộc danh sách được giao)",
        )
    if missing_groups := sorted(set(groups) - await directory.group_ids(conn, groups)):
        raise Rejected(
            "unknown-group",
            f"unknown groups: {', '.join(missing_groups)}",
            f"Không có nhóm cơ quan: {', '.join(missing_groups)}",
        )
    if officer is not None:
        await _check_officer(conn, officer, lead, known[lead].name)


async def _check_officer(conn: asyncpg.Connection, officer: str, lead: str, lead_name: str) -> None:
    person = await directory.person(conn, officer)
    if person is None or not person.active:
        raise Rejected(
            "unknown-person",
            f"no active person {officer!r} in the directory",
            f"Không có cán bộ {officer!r} trong danh bạ",
        )
    if lead not in (await directory.chains(conn, [person.agency_id])).get(person.agency_id, []):
        raise Rejected(
            "officer-not-in-lead-agency",
            f"{officer} works at {person.agency_id}, which is not {lead} nor one of its units",
            f"Cán bộ {person.full_name} không thuộc cơ quan chủ trì {lead_name} hay đơn vị trực thuộc",
        )
