"""What `dondoc replay reporting` compares and keeps (DESIGN §5). Reporting is a projection of the task
and directory events: its own handlers rebuild it in a shadow schema, and every table they fill is
compared, all columns (every time column comes from the events, none from the wall clock)."""

from __future__ import annotations

import asyncpg

from services.reporting.domain import STATES
from services.runtime.replay.policy import ReplayPolicy, TablePolicy


async def roll_live_like_the_service(shadow: asyncpg.Connection, live_schema: str) -> None:
    """``live`` is the journal summed up to ``live_day``, which the service moves with the clock: the
    shadow's is moved to the live one's day, so both answer the same 'today'."""
    if not await shadow.fetchval("SELECT to_regclass($1) IS NOT NULL", f'"{live_schema}".live_day'):
        return  # no live service yet (a first rebuild, `dondoc bench replay`): no day to follow
    day = await shadow.fetchval(f'SELECT day FROM "{live_schema}".live_day')
    if day is not None:
        await shadow.execute("SELECT live_roll($1)", day)


_NOT_ALL_ZERO = TablePolicy(
    rows=" OR ".join(f"{c} <> 0" for c in STATES),
    why="a counter row that went back to zero counts nothing; whether it exists depends on the order "
    "directory and task events were read in",
)

REPLAY_POLICY = ReplayPolicy(
    tables={"journal": _NOT_ALL_ZERO, "live": _NOT_ALL_ZERO},
    kept=("published_reports",),
    prepare=roll_live_like_the_service,
    one_lane=True,
    note="published_reports (the monthly reports this service itself published) is not in its input "
    "topics: not compared, kept as it is. Every time column comes from the events, none from the "
    "wall clock, so all other columns are compared.",
)
