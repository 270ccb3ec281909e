"""What a report asks for: which tasks (``Filters``) and how to break them down (``AgencyGroups``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

Grouping = Literal["none", "document", "agency"]


@dataclass(frozen=True)
class Filters:
    agency_id: str | None = None
    lead_only: bool = False
    document: str | None = None
    start: date | None = None  # assigned on or after
    end: date | None = None  # assigned on or before
    viewer: str | None = None  # the agency asking: sees the secret tasks it is involved in
    as_recorded: bool = False  # the recorded axis: what dondoc showed at the moment (migrations/004)

    @property
    def has_period(self) -> bool:
        return self.start is not None or self.end is not None


@dataclass(frozen=True)
class AgencyGroups:
    """The rows of a per-agency breakdown of ``parent``'s view (None: the whole tree): each child's
    subtree and, when ``own``, the tasks the parent leads itself."""

    parent: str | None
    children: tuple[str, ...]
    own: bool = True
    depths: dict[str, int] | None = field(default=None, compare=False)  # of the children, when known

    def __post_init__(self) -> None:
        if self.parent is None:
            object.__setattr__(self, "own", False)
