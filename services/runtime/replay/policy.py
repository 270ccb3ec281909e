"""What a service allows a replay to do. The runtime knows no service's tables: each service declares
its ``ReplayPolicy`` on its ``ServiceDefinition`` (``replay``), next to its composition root; a source
of truth, which no log can rebuild, declares ``replay_refusal`` instead: why, and what to do instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import asyncpg


class ReplayRefused(Exception):
    """The replay (or its apply) is refused; the message says why and what to do instead."""


@dataclass(frozen=True)
class TablePolicy:
    """How one table is compared. The predicates are SQL on the table aliased ``t``; ``live_rows`` may
    name the shadow schema as ``{shadow}`` and read the temp table ``replay_snapshot`` (topic, partition,
    start_offset, end_offset, compacted): the part of the log the replay read."""

    ignore: tuple[str, ...] = ()  # columns left out of the comparison, with the reason in ``why``
    rows: str = ""  # SQL predicate on both sides: rows that mean something (e.g. not all-zero counters)
    live_rows: str = ""  # SQL predicate on the live side only; {shadow} and the temp table replay_snapshot
    why: str = ""


@dataclass(frozen=True)
class ReplayPolicy:
    tables: Mapping[str, TablePolicy] = field(default_factory=dict)
    kept: tuple[str, ...] = ()  # the service's own tables that its input topics cannot rebuild
    apply_refusal: str = ""  # non-empty: --apply is refused with this message
    prepare: Callable[[asyncpg.Connection, str], Awaitable[None]] | None = None  # (shadow conn, live schema)
    note: str = ""
    feed_settings: Mapping[str, str] = field(default_factory=dict)
    """Server settings of the connections that feed the log to the handlers (not of ``prepare``'s): what a
    service's SQL reads to do a rebuild's work once at the end rather than with every batch."""
    indexes_after_load: tuple[str, ...] = ()
    """Indexes of the service's schema that neither a handler nor ``prepare`` reads: dropped before the feed
    and built after it (beside ``prepare``), as a bulk load does, instead of kept up row by row."""
    one_lane: bool = False
    """Feed the replay's batches to the service's batch handler as one run each, the partitions merged by
    send time (each one's order kept), instead of per partition in lanes side by side: for a handler
    whose runs may mix partitions (the live lanes already interleave them in any order), this writes
    each batch once and spends nothing on lanes waiting for each other's locks."""


class DeclaresReplay(Protocol):
    """What ``policy_of`` reads of a ServiceDefinition (definition.py), named here so that this module,
    which the definition's type refers to, imports nothing back."""

    @property
    def name(self) -> str: ...
    @property
    def replay(self) -> ReplayPolicy | None: ...
    @property
    def replay_refusal(self) -> str: ...


def policy_of(definition: DeclaresReplay) -> ReplayPolicy:
    """The policy the service declares; a refusal (or no policy at all) refuses the replay."""
    if definition.replay_refusal:
        raise ReplayRefused(definition.replay_refusal)
    if definition.replay is None:
        raise ReplayRefused(f"{definition.name} has no replay policy")
    return definition.replay
