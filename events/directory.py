"""The directory of agencies and people, on the compacted ``dondoc.directory`` topic.

Compaction keeps only the last record of each key (agency, person or group id), so every event here
carries the *whole* current state of its entity, never a delta: a consumer that starts late still
rebuilds the full directory. Nothing is deleted (a tombstone would erase what old tasks refer to):
an abolished agency or a person who left stays, with ``active`` false. A token's revocation is a fact
that nothing supersedes (key ``token:<token_id>``): compaction keeps it, so a late consumer learns it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from events.envelope import EventPayload, WireModel
from events.limits import MEMBERS_MAX, Email, Id, IdList, Name, NameList
from events.topics import DIRECTORY

PersonRole = Literal["head", "deputy", "officer"]
"""người đứng đầu (receives alerts and escalations), cấp phó, cán bộ/chuyên viên."""

GroupKind = Literal["all", "related"]


class DirectoryEvent(EventPayload):
    topic = DIRECTORY


class AgencyChanged(DirectoryEvent):
    """An agency was created or changed; this is its full state (key: agency_id)."""

    event_type = "AgencyChanged"
    agency_id: Id
    name: Name
    short_name: Name = ""
    level: Id = Field(description="chinh-phu, bo-nganh, ubnd-tinh, so-nganh, ubnd-huyen, ubnd-xa, don-vi, van-phong")
    parent_id: Id | None
    aliases: NameList = ()
    tracking_office: bool = Field(False, description="Văn phòng that follows up tasks for its level")
    can_assign_to: IdList = Field(
        (), description="Agencies outside its subtree it may assign to (central agencies in the province)"
    )
    active: bool = True
    successor_id: Id | None = Field(None, description="Who takes over its tasks after a reorganisation")
    version: int = Field(ge=1, description="Increases with every change of this agency")


class PersonChanged(DirectoryEvent):
    """A person was created or changed; this is their full state (key: person_id)."""

    event_type = "PersonChanged"
    person_id: Id
    agency_id: Id
    full_name: Name
    role: PersonRole
    title: Name = ""
    email: Email | None = None
    active: bool = True
    demo: bool = Field(False, description="Invented person of the demo directory")
    version: int = Field(ge=1)


class GroupRule(WireModel):
    """How a group's members follow the tree: direct children (parent_id) or any descendants
    (ancestor_id) of a level, or the can_assign_to list of an agency."""

    level: Id | None = None
    parent_id: Id | None = None
    ancestor_id: Id | None = None
    can_assign_to_of: Id | None = None


class AgencyGroupChanged(DirectoryEvent):
    """A name documents use for a set of agencies ('Các sở, ban, ngành thuộc tỉnh'); key: group_id.

    kind 'all' means every member; 'related' ('… liên quan') only the relevant ones, chosen per task.
    """

    event_type = "AgencyGroupChanged"
    group_id: Id
    name: Name
    aliases: NameList = ()
    kind: GroupKind
    rule: GroupRule | None = None
    member_ids: tuple[Id, ...] = Field(
        (), max_length=MEMBERS_MAX, description="The members when it changed (the rule's result)"
    )
    version: int = Field(ge=1)


class TokenRevoked(DirectoryEvent):
    """An agency token, and the intake key of the same id, was revoked (key: ``token:<token_id>``).

    The assignment service issues and revokes tokens; every other service that checks a token or an
    intake signature by itself refuses this one as soon as it has read this event.
    """

    event_type = "TokenRevoked"
    token_id: Id
    agency_id: Id = Field(description="The agency the token was issued to")
    revoked_at: datetime
