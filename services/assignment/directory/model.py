"""The directory's records, as admins write them and as the seed file holds them. Pure, no I/O."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from events.directory import GroupKind, GroupRule, PersonRole
from events.envelope import Frozen
from events.limits import ID_MAX, MEMBERS_MAX, Email, Id, IdList, Name, NameList

LEVELS = ("chinh-phu", "bo-nganh", "ubnd-tinh", "so-nganh", "ubnd-huyen", "ubnd-xa", "don-vi", "van-phong")
_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
ID_PATTERN = _ID.pattern


def _check_id(value: str) -> str:
    if len(value) > ID_MAX or not _ID.match(value):
        raise ValueError(
            f"{value[:40]!r} is not an id: at most {ID_MAX} lowercase ascii letters, digits and single hyphens"
        )
    return value


DirectoryId = Annotated[str, AfterValidator(_check_id)]


class AgencyFields(Frozen):
    """An agency without its id (the body of PUT /v1/directory/agencies/{agency_id})."""

    name: Name = Field(min_length=1)
    short_name: Name = ""
    level: Id = Field(description=", ".join(LEVELS))
    parent_id: Id | None = None
    aliases: NameList = ()
    tracking_office: bool = False
    can_assign_to: IdList = ()
    active: bool = True
    successor_id: Id | None = None

    @field_validator("level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value not in LEVELS:
            raise ValueError(f"unknown level {value!r}; one of {', '.join(LEVELS)}")
        return value

    @field_validator("aliases", "can_assign_to")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(value))


class AgencyRecord(AgencyFields):
    agency_id: DirectoryId

    @model_validator(mode="after")
    def _not_own_parent(self) -> AgencyRecord:
        if self.parent_id == self.agency_id or self.successor_id == self.agency_id:
            raise ValueError("an agency cannot be its own parent or successor")
        return self


class PersonFields(Frozen):
    agency_id: Id
    full_name: Name = Field(min_length=1)
    role: PersonRole
    title: Name = ""
    email: Email | None = None
    active: bool = True
    demo: bool = False


class PersonRecord(PersonFields):
    person_id: DirectoryId


class GroupFields(Frozen):
    name: Name = Field(min_length=1)
    aliases: NameList = ()
    kind: GroupKind
    rule: GroupRule | None = Field(None, validation_alias=AliasChoices("rule", "expands_to"))
    member_ids: tuple[Id, ...] = Field((), max_length=MEMBERS_MAX, description="Members when there is no rule")


class GroupRecord(GroupFields):
    group_id: DirectoryId


class DirectoryDocument(BaseModel):
    """A whole directory, in the format of services/assignment/seed/directory.json."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    notes: tuple[str, ...] = ()
    agencies: tuple[AgencyRecord, ...] = ()
    groups: tuple[GroupRecord, ...] = ()
    people: tuple[PersonRecord, ...] = ()

    def parents_first(self) -> list[AgencyRecord]:
        """Agencies ordered so each comes after its parent (when the parent is in the document)."""
        by_id: dict[str, AgencyRecord] = {a.agency_id: a for a in self.agencies}
        placed: dict[str, None] = {}

        def place(agency: AgencyRecord, path: tuple[str, ...] = ()) -> None:
            if agency.agency_id in placed:
                return
            if agency.agency_id in path:
                raise ValueError(f"the parents of {agency.agency_id} form a cycle: {' → '.join(path)}")
            parent = by_id.get(agency.parent_id or "")
            if parent is not None:
                place(parent, (*path, agency.agency_id))
            placed[agency.agency_id] = None

        for agency in self.agencies:
            place(agency)
        return [by_id[i] for i in placed]
