"""The directory in memory: the tree, group membership and the name index. Pure, no I/O.

Loaded whole where a whole view is needed (the importer matches every name of a file); request
handlers ask the database for the few rows they need instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from services.assignment.directory.model import AgencyRecord, DirectoryDocument, GroupRecord, PersonRecord
from services.assignment.names import Named, NameIndex


@dataclass(frozen=True)
class Directory:
    agencies: Mapping[str, AgencyRecord]
    groups: Mapping[str, GroupRecord] = field(default_factory=dict)
    people: Mapping[str, PersonRecord] = field(default_factory=dict)

    @classmethod
    def of(cls, document: DirectoryDocument) -> Directory:
        return cls(
            {a.agency_id: a for a in document.agencies},
            {g.group_id: g for g in document.groups},
            {p.person_id: p for p in document.people},
        )

    @cached_property
    def _children(self) -> Mapping[str | None, list[str]]:
        children: dict[str | None, list[str]] = defaultdict(list)
        for agency in self.agencies.values():
            children[agency.parent_id].append(agency.agency_id)
        return children

    def chain(self, agency_id: str) -> list[str]:
        """The agency, its parent, … up to the root (a broken or cyclic link ends the chain)."""
        chain: list[str] = []
        current: str | None = agency_id
        while current is not None and current in self.agencies and current not in chain:
            chain.append(current)
            current = self.agencies[current].parent_id
        return chain

    def descendants(self, agency_id: str) -> Iterator[str]:
        for child in self._children.get(agency_id, []):
            yield child
            yield from self.descendants(child)

    def members(self, group_id: str) -> tuple[str, ...]:
        """The active agencies a group names today: its rule applied to this directory, else its list."""
        group = self.groups[group_id]
        rule = group.rule
        if rule is None or not (rule.can_assign_to_of or rule.parent_id or rule.ancestor_id):
            ids: list[str] = list(group.member_ids)
        elif rule.can_assign_to_of:
            anchor = self.agencies.get(rule.can_assign_to_of)
            ids = list(anchor.can_assign_to) if anchor else []
        elif rule.parent_id:
            ids = list(self._children.get(rule.parent_id, []))
        else:
            ids = list(self.descendants(rule.ancestor_id or ""))
        if rule is not None and rule.level is not None:
            ids = [i for i in ids if i in self.agencies and self.agencies[i].level == rule.level]
        return tuple(i for i in ids if i in self.agencies and self.agencies[i].active)

    @cached_property
    def names(self) -> NameIndex:
        """Active agencies and every group, by name, short name and aliases."""
        entries: list[tuple[str, Named]] = []
        for agency in self.agencies.values():
            if agency.active:
                named = Named("agency", agency.agency_id)
                entries += [(n, named) for n in (agency.name, agency.short_name, *agency.aliases) if n]
        for group in self.groups.values():
            named = Named("group", group.group_id)
            entries += [(n, named) for n in (group.name, *group.aliases)]
        return NameIndex.of(entries)
