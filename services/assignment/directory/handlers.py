"""Changing the directory: one function per record kind, and the whole-document load.

Every real change is stored and published whole (AgencyChanged / PersonChanged / AgencyGroupChanged,
keyed by the id on the compacted dondoc.directory topic) in one transaction; writing what is already
stored changes nothing and publishes nothing, so loading the same document twice is harmless.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

from events.directory import AgencyChanged, AgencyGroupChanged, PersonChanged
from events.envelope import Actor
from services.assignment import names
from services.assignment.directory import adapters
from services.assignment.directory.model import AgencyRecord, DirectoryDocument, GroupRecord, PersonRecord
from services.assignment.errors import Rejected, conflict, not_found
from services.runtime.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Change:
    kind: str
    ident: str
    version: int | None  # None: nothing changed

    @property
    def changed(self) -> bool:
        return self.version is not None


def _keys(*texts: str) -> list[str]:
    return sorted(set().union(*(names.keys(t) for t in texts if t)))


async def _unique_names(uow: UnitOfWork, keys: list[str], label: str, **exclude: str) -> None:
    if owners := await adapters.name_owners(uow.conn, keys, **exclude):
        raise conflict(
            "name-taken",
            f"{label}: a name or alias already names {', '.join(owners)}",
            f"{label}: tên hoặc tên gọi khác đã dùng cho {', '.join(owners)}",
        )


async def set_agency(record: AgencyRecord, uow: UnitOfWork, actor: Actor, loading: Collection[str] = ()) -> Change:
    """``loading``: ids of agencies stored in the same transaction (a whole document), known by commit."""
    refs = {r for r in (record.parent_id, record.successor_id, *record.can_assign_to) if r}
    known = await adapters.agencies(uow.conn, refs)
    if missing := sorted(refs - known.keys() - set(loading)):
        raise Rejected(
            "unknown-agency", f"unknown agencies: {', '.join(missing)}", f"Không có trong danh bạ: {', '.join(missing)}"
        )
    if record.parent_id and record.parent_id in known:
        chain = (await adapters.chains(uow.conn, [record.parent_id]))[record.parent_id]
        if record.agency_id in chain:
            raise Rejected(
                "parent-cycle",
                f"{record.parent_id} is inside {record.agency_id}'s own subtree",
                f"{record.parent_id} thuộc chính {record.agency_id}: không thể làm cấp trên",
            )
    keys = _keys(record.name, record.short_name, *record.aliases)
    if record.active:
        await _unique_names(uow, keys, record.agency_id, agency_id=record.agency_id)
    version = await adapters.upsert_agency(uow.conn, record, keys, uow.clock.now())
    if version is not None:
        event = AgencyChanged(**record.model_dump(), version=version)
        await uow.emit(event, actor=actor, key=record.agency_id, id_parts=("agency", record.agency_id, version))
    return Change("agency", record.agency_id, version)


async def set_person(record: PersonRecord, uow: UnitOfWork, actor: Actor) -> Change:
    if not await adapters.agencies(uow.conn, [record.agency_id]):
        raise not_found("agency", "cơ quan", record.agency_id, "unknown-agency")
    if record.role == "head" and record.active:
        if head := await adapters.other_head(uow.conn, record.agency_id, record.person_id):
            raise conflict(
                "head-exists",
                f"{record.agency_id} already has a head ({head}); change that person first",
                f"{record.agency_id} đã có người đứng đầu ({head}); hãy đổi người đó trước",
            )
    version = await adapters.upsert_person(uow.conn, record, uow.clock.now())
    if version is not None:
        event = PersonChanged(**record.model_dump(), version=version)
        await uow.emit(event, actor=actor, key=record.person_id, id_parts=("person", record.person_id, version))
    return Change("person", record.person_id, version)


def anchors(record: GroupRecord) -> set[str]:
    """The agencies a group's rule hangs from."""
    rule = record.rule
    return {r for r in (rule.parent_id, rule.ancestor_id, rule.can_assign_to_of) if r} if rule else set()


async def set_group(record: GroupRecord, uow: UnitOfWork, actor: Actor) -> Change:
    refs = set(record.member_ids) | anchors(record)
    if missing := sorted(refs - (await adapters.agencies(uow.conn, refs)).keys()):
        raise Rejected(
            "unknown-agency", f"unknown agencies: {', '.join(missing)}", f"Không có trong danh bạ: {', '.join(missing)}"
        )
    keys = _keys(record.name, *record.aliases)
    await _unique_names(uow, keys, record.group_id, group_id=record.group_id)
    version = await adapters.upsert_group(uow.conn, record, keys, uow.clock.now())
    if version is not None:
        event = AgencyGroupChanged(**record.model_dump(), version=version)
        await uow.emit(event, actor=actor, key=record.group_id, id_parts=("group", record.group_id, version))
    return Change("group", record.group_id, version)


async def load_document(document: DirectoryDocument, uow: UnitOfWork, actor: Actor) -> Counter[str]:
    """Apply a whole directory; counts '<kind> changed' and '<kind> unchanged'."""
    try:
        agencies = document.parents_first()
    except ValueError as exc:
        raise Rejected("parent-cycle", str(exc), "Quan hệ cấp trên - cấp dưới bị vòng lặp") from exc
    ids = {a.agency_id for a in agencies}
    changes = [await set_agency(a, uow, actor, ids) for a in agencies]
    changes += [await set_group(g, uow, actor) for g in document.groups]
    # Demotions before promotions, so a head handing over inside one document is not a conflict.
    for person in sorted(document.people, key=lambda p: p.role == "head" and p.active):
        changes.append(await set_person(person, uow, actor))
    return Counter(f"{c.kind} {'changed' if c.changed else 'unchanged'}" for c in changes)
