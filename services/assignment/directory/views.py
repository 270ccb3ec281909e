"""What the directory's admin API answers: typed read models of its rows, so a renamed column is a type
error and not a silently missing key. The JSON is what the routes always answered."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from services.assignment.directory.model import AgencyRecord, GroupRecord, PersonRecord

R = TypeVar("R", bound=BaseModel)


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class Changed(_View, Generic[R]):
    """A PUT's answer: whether it changed anything, the record's version after it, the record as stored."""

    changed: bool
    version: int | None
    record: R


class PersonBrief(_View):
    person_id: str
    full_name: str
    role: str
    title: str


class AgencyBrief(_View):
    agency_id: str
    name: str


class AgencyView(AgencyRecord):
    """An agency's row (but its sort key and name keys), with its active people and the agencies right
    under it, in directory order."""

    version: int
    updated_at: datetime
    people: tuple[PersonBrief, ...] = ()
    children: tuple[AgencyBrief, ...] = ()


class PublicPersonView(_View):
    """A person as anyone may read them: without their e-mail address (where alerts go)."""

    person_id: str
    agency_id: str
    full_name: str
    role: str
    title: str
    active: bool
    demo: bool
    version: int
    updated_at: datetime


class PersonView(PublicPersonView):
    """A person as their agency and the agencies above it read them."""

    email: str | None

    @classmethod
    def of(cls, record: PersonRecord, version: int, updated_at: datetime) -> PersonView:
        return cls(**record.model_dump(), version=version, updated_at=updated_at)

    def public(self) -> PublicPersonView:
        return PublicPersonView(**self.model_dump(exclude={"email"}))


class GroupView(GroupRecord):
    version: int
    updated_at: datetime


class Found(_View):
    kind: str
    id: str


class Mention(_View):
    text: str
    found: tuple[Found, ...]
    suggestions: tuple[str, ...]


class Matches(_View):
    """How a cell of a task list reads against the directory."""

    mentions: tuple[Mention, ...] = Field(default=())


class ReorganisationView(_View):
    reorganisation_id: str
    changed: bool
    moved: int
    moved_task_ids: list[str]
    undecided_task_ids: list[str]
    undecided: int
    transfers: int
