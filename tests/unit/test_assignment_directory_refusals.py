"""The directory's command handlers (services/assignment/directory/handlers.py) and who may call them
(directory/admin.py), against in-memory fakes of the directory repository and outbox (tests/fakes/): each
refusal, with its status and code, stores nothing and emits nothing; a real change is stored and published
with its version, the same record again changes nothing. No broker or database;
tests/integration/test_directory_admin.py and test_authorization_matrix.py prove the same over HTTP."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from events.clock import VN_TZ
from events.envelope import Actor
from events.tasks import SourceDocument
from services.assignment.directory import admin
from services.assignment.directory.handlers import load_document, set_agency, set_group, set_person
from services.assignment.directory.model import (
    AgencyFields,
    AgencyRecord,
    DirectoryDocument,
    GroupFields,
    GroupRecord,
    PersonFields,
    PersonRecord,
)
from services.assignment.directory.reorganisation import AbolishedAgency, ReorganisationFields
from services.runtime.refusals import Refused
from services.runtime.unit_of_work import UnitOfWork
from tests.fakes import assignment as fake_assignment
from tests.fakes.runtime import InMemoryOutbox, fake_unit_of_work

NOW = datetime(2025, 7, 1, 9, 0, tzinfo=VN_TZ)
PROVINCE, POLICE, EDUCATION, FINANCE, SCHOOL = "ubnd-tinh", "ca-tinh", "so-gddt", "so-tc", "truong-a"
ACTOR = Actor(agency_id=PROVINCE)

World = tuple[fake_assignment.InMemoryDirectory, UnitOfWork, InMemoryOutbox]


def agency(agency_id: str, parent: str | None, name: str = "", **fields: Any) -> AgencyRecord:
    return AgencyRecord(
        agency_id=agency_id, name=name or f"Cơ quan {agency_id}", level="so-nganh", parent_id=parent, **fields
    )


def person(person_id: str, agency_id: str, role: str = "officer", **fields: Any) -> PersonRecord:
    return PersonRecord.model_validate(
        {"person_id": person_id, "agency_id": agency_id, "full_name": "Nguyễn Văn A", "role": role, **fields}
    )


def group(group_id: str, name: str, *members: str) -> GroupRecord:
    return GroupRecord(group_id=group_id, name=name, kind="related", member_ids=members)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    _tasks, directory = fake_assignment.install_for_commands(monkeypatch)
    directory.add(
        agency(PROVINCE, None, "Ủy ban nhân dân tỉnh", can_assign_to=(POLICE,)),
        agency(POLICE, None, "Công an tỉnh"),
        agency(EDUCATION, PROVINCE, "Sở Giáo dục và Đào tạo"),
        agency(FINANCE, PROVINCE, "Sở Tài chính"),
        agency(SCHOOL, EDUCATION, "Trường A", can_assign_to=(POLICE,)),
        person("hieu-truong", SCHOOL, "head"),
        group("cac-truong", "Các trường học", SCHOOL),
    )
    uow, outbox = fake_unit_of_work(monkeypatch, "assignment", NOW)
    return directory, uow, outbox


async def refused(work: Any) -> Refused:
    with pytest.raises(Refused) as caught:
        await work
    assert caught.value.message_en and caught.value.message_vi  # both languages, always
    return caught.value


# --- The handlers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [{"parent_id": "khong-co"}, {"successor_id": "khong-co", "active": False}, {"can_assign_to": ("khong-co",)}],
)
async def test_an_agency_naming_an_agency_the_directory_does_not_know_is_refused(
    world: World, fields: dict[str, Any]
) -> None:
    directory, uow, outbox = world
    record = agency("phong-moi", fields.pop("parent_id", EDUCATION), **fields)
    refusal = await refused(set_agency(record, uow, ACTOR))
    assert (refusal.status_code, refusal.code) == (422, "unknown-agency")
    assert "phong-moi" not in directory.agencies_ and outbox.events == {}


async def test_an_agency_cannot_move_under_its_own_subtree(world: World) -> None:
    directory, uow, outbox = world
    refusal = await refused(set_agency(agency(EDUCATION, SCHOOL, "Sở Giáo dục và Đào tạo"), uow, ACTOR))
    assert (refusal.status_code, refusal.code) == (422, "parent-cycle")
    assert directory.agencies_[EDUCATION].parent_id == PROVINCE and outbox.events == {}


async def test_two_active_bodies_never_share_a_name(world: World) -> None:
    directory, uow, outbox = world
    for work in (
        set_agency(agency("so-tc-2", PROVINCE, "Sở Tài chính"), uow, ACTOR),
        set_agency(agency("so-moi", PROVINCE, "Sở Mới", aliases=("Trường A",)), uow, ACTOR),
        set_group(group("nhom-tc", "Sở Tài chính"), uow, ACTOR),
    ):
        refusal = await refused(work)
        assert (refusal.status_code, refusal.code) == (409, "name-taken")
    assert {"so-tc-2", "so-moi"}.isdisjoint(directory.agencies_) and "nhom-tc" not in directory.groups
    assert outbox.events == {}


async def test_an_abolished_agency_keeps_its_name_without_taking_it(world: World) -> None:
    directory, uow, _outbox = world
    await set_agency(agency("so-tc-cu", PROVINCE, "Sở Tài chính", active=False, successor_id=FINANCE), uow, ACTOR)
    assert not directory.agencies_["so-tc-cu"].active


async def test_a_change_is_stored_and_published_with_its_version_and_the_same_record_again_is_not(
    world: World,
) -> None:
    directory, uow, outbox = world
    renamed = agency(SCHOOL, EDUCATION, "Trường Trung học A", can_assign_to=(POLICE,))
    first, again = await set_agency(renamed, uow, ACTOR), await set_agency(renamed, uow, ACTOR)
    assert (first.changed, first.version, again.changed) == (True, 2, False)
    [event] = outbox.events.values()
    assert (event.event_type, event.payload.model_dump()["version"]) == ("AgencyChanged", 2)
    assert directory.agencies_[SCHOOL].name == "Trường Trung học A"


async def test_a_person_belongs_to_an_agency_the_directory_knows(world: World) -> None:
    directory, uow, outbox = world
    refusal = await refused(set_person(person("cb-1", "khong-co"), uow, ACTOR))
    assert (refusal.status_code, refusal.code) == (404, "unknown-agency")
    assert "cb-1" not in directory.people and outbox.events == {}


async def test_an_agency_has_one_active_head(world: World) -> None:
    directory, uow, outbox = world
    refusal = await refused(set_person(person("hieu-truong-2", SCHOOL, "head"), uow, ACTOR))
    assert (refusal.status_code, refusal.code) == (409, "head-exists")
    await set_person(person("pho-hieu-truong", SCHOOL, "deputy"), uow, ACTOR)
    await set_person(person("hieu-truong-cu", SCHOOL, "head", active=False), uow, ACTOR)
    assert "hieu-truong-2" not in directory.people and len(outbox.events) == 2


async def test_a_head_hands_over_inside_one_document(world: World) -> None:
    directory, uow, _outbox = world
    document = DirectoryDocument(
        people=(person("hieu-truong-moi", SCHOOL, "head"), person("hieu-truong", SCHOOL, "head", active=False))
    )
    counts = await load_document(document, uow, ACTOR)
    assert counts["person changed"] == 2 and not directory.people["hieu-truong"].active


async def test_a_document_whose_parents_form_a_cycle_is_refused(world: World) -> None:
    directory, uow, outbox = world
    document = DirectoryDocument(agencies=(agency("x-1", "x-2", "X một"), agency("x-2", "x-1", "X hai")))
    refusal = await refused(load_document(document, uow, ACTOR))
    assert (refusal.status_code, refusal.code) == (422, "parent-cycle")
    assert {"x-1", "x-2"}.isdisjoint(directory.agencies_) and outbox.events == {}


async def test_a_group_names_only_agencies_the_directory_knows(world: World) -> None:
    directory, uow, outbox = world
    refusal = await refused(set_group(group("nhom-x", "Nhóm X", SCHOOL, "khong-co"), uow, ACTOR))
    assert (refusal.status_code, refusal.code) == (422, "unknown-agency")
    assert "nhom-x" not in directory.groups and outbox.events == {}


# --- Who may change what (admin.py) ---------------------------------------------------------------


def fields_of(record: AgencyRecord, **changes: Any) -> AgencyFields:
    return AgencyFields(**(record.model_dump(exclude={"agency_id"}) | changes))


@pytest.mark.parametrize(
    ("by", "agency_id", "changes", "code"),
    [
        (PROVINCE, PROVINCE, {}, "not-directory-admin"),  # never its own record, not even a root agency
        (PROVINCE, "tinh-moi", {"parent_id": None}, "root-agency-cli-only"),
        (EDUCATION, "phong-moi", {"parent_id": FINANCE}, "not-directory-admin"),  # outside its subtree
        (EDUCATION, FINANCE, {"parent_id": EDUCATION}, "not-directory-admin"),  # taken from elsewhere
        (EDUCATION, SCHOOL, {"parent_id": PROVINCE}, "not-directory-admin"),  # moved out of its subtree
        (EDUCATION, SCHOOL, {"active": False, "successor_id": FINANCE}, "not-directory-admin"),
        (EDUCATION, "phong-moi", {"parent_id": EDUCATION, "can_assign_to": (FINANCE,)}, "authority-exceeded"),
        (EDUCATION, "phong-moi", {"parent_id": EDUCATION, "can_assign_to": (POLICE,)}, "authority-exceeded"),
    ],
)
async def test_an_agency_administers_only_below_itself_and_grants_no_more_than_its_own_authority(
    world: World, by: str, agency_id: str, changes: dict[str, Any], code: str
) -> None:
    directory, uow, _outbox = world
    base = directory.agencies_.get(agency_id) or agency(agency_id, EDUCATION, "Phòng Mới")
    refusal = await refused(admin.agency_to_put(uow.conn, by, agency_id, fields_of(base, **changes)))
    assert (refusal.status_code, refusal.code) == (403, code)


async def test_an_admin_grants_what_it_may_assign_itself_and_keeps_what_was_granted_before(world: World) -> None:
    directory, uow, _outbox = world
    granted = await admin.agency_to_put(
        uow.conn, PROVINCE, "so-moi", fields_of(agency("so-moi", PROVINCE, "Sở Mới"), can_assign_to=(POLICE,))
    )
    kept = await admin.agency_to_put(
        uow.conn, EDUCATION, SCHOOL, fields_of(directory.agencies_[SCHOOL], name="Trường Trung học A")
    )
    assert (granted.can_assign_to, kept.can_assign_to) == ((POLICE,), (POLICE,))


async def test_a_person_is_changed_by_their_agency_or_one_above_before_and_after(world: World) -> None:
    _directory, uow, _outbox = world
    moving = PersonFields(agency_id=FINANCE, full_name="Nguyễn Văn A", role="officer")
    for by, person_id, fields in ((EDUCATION, "hieu-truong", moving), (FINANCE, "hieu-truong", moving)):
        refusal = await refused(admin.person_to_put(uow.conn, by, person_id, fields))
        assert (refusal.status_code, refusal.code) == (403, "not-directory-admin")
    assert (await admin.person_to_put(uow.conn, PROVINCE, "hieu-truong", moving)).agency_id == FINANCE


async def test_a_group_is_changed_by_an_agency_above_every_agency_it_names(world: World) -> None:
    _directory, uow, _outbox = world
    naming = GroupFields(name="Nhóm", kind="related", member_ids=(SCHOOL, FINANCE))
    none = GroupFields(name="Tất cả", kind="all")
    for by, fields in ((EDUCATION, naming), (EDUCATION, none)):
        refusal = await refused(admin.group_to_put(uow.conn, by, "nhom", fields))
        assert (refusal.status_code, refusal.code) == (403, "not-directory-admin")
    assert (await admin.group_to_put(uow.conn, PROVINCE, "nhom", none)).group_id == "nhom"


@pytest.mark.parametrize(
    ("by", "abolished", "successor"), [(EDUCATION, EDUCATION, FINANCE), (EDUCATION, SCHOOL, FINANCE)]
)
async def test_a_reorganisation_is_recorded_from_above_every_agency_it_names(
    world: World, by: str, abolished: str, successor: str
) -> None:
    _directory, uow, _outbox = world
    fields = ReorganisationFields(
        kind="merge",
        decision=SourceDocument(number="202/2025/QH15", issued_on=date(2025, 6, 12), issuer="Quốc hội"),
        effective_on=date(2025, 7, 1),
        agencies=(AbolishedAgency(agency_id=abolished, successor_id=successor),),
    )
    refusal = await refused(admin.may_reorganise(uow.conn, by, fields))
    assert (refusal.status_code, refusal.code) == (403, "not-directory-admin")
