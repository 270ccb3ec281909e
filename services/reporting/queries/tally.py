"""What a report's figures are: tasks per state, for all tasks and for the key tasks alone."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.reporting.domain import STATES, empty_tally


@dataclass
class Tally:
    """Tasks per state (``STATES`` order): all of them, and the key tasks alone."""

    every: list[int] = field(default_factory=empty_tally)
    key: list[int] = field(default_factory=empty_tally)

    def add(self, other: Tally) -> None:
        for i in range(len(STATES)):
            self.every[i] += other.every[i]
            self.key[i] += other.key[i]


Tallies = dict[str | None, Tally]


def merge(*parts: Tallies) -> Tallies:
    out: Tallies = {}
    for part in parts:
        for group, tally in part.items():
            out.setdefault(group, Tally()).add(tally)
    return out
