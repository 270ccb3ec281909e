"""The directory's records and tree (services/assignment/directory), on the seed directory."""

from __future__ import annotations

from functools import cache

import pytest
from pydantic import ValidationError

from services.assignment.directory.model import AgencyRecord, DirectoryDocument
from services.assignment.directory.tree import Directory
from services.assignment.provision import read_directory


@cache
def directory() -> Directory:
    return Directory.of(read_directory())


def test_the_seed_directory_loads_as_records() -> None:
    document = read_directory()
    assert (len(document.agencies), len(document.groups), len(document.people)) == (105, 15, 162)


@pytest.mark.parametrize("group_id", [g.group_id for g in read_directory().groups])
def test_group_rules_give_the_members_the_seed_lists(group_id: str) -> None:
    assert directory().members(group_id) == directory().groups[group_id].member_ids


def test_a_group_rule_follows_the_directory_as_it_grows() -> None:
    document = read_directory()
    new_so = AgencyRecord(agency_id="bd-sqh", name="Sở Quy hoạch", level="so-nganh", parent_id="ubnd-bd")
    grown = Directory.of(document.model_copy(update={"agencies": (*document.agencies, new_so)}))
    assert "bd-sqh" in grown.members("g-bd-so-nganh")


def test_an_inactive_agency_is_no_member_and_no_name() -> None:
    document = read_directory()
    agencies = tuple(
        a.model_copy(update={"active": False}) if a.agency_id == "bd-sdl" else a for a in document.agencies
    )
    shrunk = Directory.of(document.model_copy(update={"agencies": agencies}))
    assert "bd-sdl" not in shrunk.members("g-bd-so-nganh")
    assert not shrunk.names.lookup("Sở Du lịch")


def test_the_chain_goes_up_to_the_root() -> None:
    assert directory().chain("bd-thpt-bd-ke-toan") == [
        "bd-thpt-bd-ke-toan",
        "bd-thpt-bd-to-van-phong",
        "bd-thpt-binh-duong",
        "bd-sgddt",
        "ubnd-bd",
        "cp",
    ]


def test_a_document_orders_parents_first_and_refuses_cycles() -> None:
    a = AgencyRecord(agency_id="a", name="A", level="don-vi", parent_id="b")
    b = AgencyRecord(agency_id="b", name="B", level="don-vi", parent_id=None)
    assert [x.agency_id for x in DirectoryDocument(agencies=(a, b)).parents_first()] == ["b", "a"]
    loop = AgencyRecord(agency_id="b", name="B", level="don-vi", parent_id="a")
    with pytest.raises(ValueError, match="cycle"):
        DirectoryDocument(agencies=(a, loop)).parents_first()


def test_ids_levels_and_own_parent_are_checked() -> None:
    for bad in ({"agency_id": "Bad Id"}, {"level": "tinh"}, {"parent_id": "x"}):
        with pytest.raises(ValidationError):
            AgencyRecord.model_validate({"agency_id": "x", "name": "X", "level": "don-vi", **bad})
