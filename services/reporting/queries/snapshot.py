"""What the queries of one report (one snapshot) look up once: the day ``live`` is summed up to, and
whether anything changed later on a moment's own day (for "now", normally nothing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import asyncpg

from services.reporting.queries.sql import day_of, next_midnight


@dataclass
class Memo:
    """What the queries of one report (one snapshot) look up once: live_day, and whether anything
    changed later on a moment's day."""

    until: date | None = None
    looked_up: bool = False
    later: dict[datetime, bool] = field(default_factory=dict)


_LATER = """EXISTS (SELECT 1 FROM task_history WHERE valid_from > $1 AND valid_from < $2)
            OR EXISTS (SELECT 1 FROM task_history WHERE valid_to > $1 AND valid_to < $2 AND valid_to <> 'infinity')"""


async def live_day(conn: asyncpg.Connection, memo: Memo | None = None, at: datetime | None = None) -> date | None:
    """The day ``live`` is summed up to (None: not yet summed); with ``at``, also learns (in the memo,
    in the same round trip) whether anything changed later on its day."""
    if memo is not None and memo.looked_up:
        return memo.until
    if memo is None or at is None:
        until: date | None = await conn.fetchval("SELECT day FROM live_day")
    else:
        midnight = next_midnight(day_of(at))
        row = await conn.fetchrow(f"SELECT day, ({_LATER}) AS later FROM live_day", at, midnight)
        until = row["day"]
        memo.later[at] = bool(row["later"])
    if memo is not None:
        memo.until, memo.looked_up = until, True
    return until


async def changed_later(conn: asyncpg.Connection, at: datetime, memo: Memo | None = None) -> bool:
    """Whether any history row opened or closed after ``at`` on its own day (for "now": normally not)."""
    midnight = next_midnight(day_of(at))
    if at >= midnight - timedelta(microseconds=1):
        return False
    if memo is not None and at in memo.later:
        return memo.later[at]
    later = bool(await conn.fetchval(f"SELECT {_LATER}", at, midnight))
    if memo is not None:
        memo.later[at] = later
    return later
