"""What `dondoc replay reporting` compares and keeps (DESIGN §5). Reporting is a projection of the task
and directory events: its own handlers rebuild it in a shadow schema, and every table they fill is
compared, all columns (every time column comes from the events, none from the wall clock)."""

from __future__ import annotations

import asyncpg

from services.reporting.domain import STATES
from services.runtime.replay.policy import ReplayPolicy, TablePolicy

JOURNAL_CHUNK = 20_000
"""Tasks summed into the journal per statement after the feed: the history rows of a chunk go to
journal_add as one array, so memory stays that of a chunk whatever the size of the log."""

DEFERRED_INDEXES = (
    # Read by reports only. A handler finds tasks by id and by parent (tasks_pkey, tasks_parent), history
    # rows by task (task_history_pkey, task_history_current); a move of the tree scans the tasks anyway
    # (an OR over a column with no index).
    "tasks_document",
    "tasks_lead",
    "tasks_open_due",
    "tasks_open_lead",
    "tasks_withdrawn",
    "tasks_withdrawn_lead",
    "tasks_secret",
    "tasks_extra_leads",
    "task_history_opened",
    "task_history_closed",
    "task_history_open_due",
    "task_history_lead",
    "task_history_document",
    "task_history_assigned",
    "task_history_secret",
    "task_history_recorded_late",
    "task_history_recorded_after",
    "live_documents_ranked",
)


async def journal_from_history(shadow: asyncpg.Connection) -> None:
    """The journal and live the feed deferred (migrations/006): every task's history rows summed once, in
    chunks of tasks, under the final agency tree — what every batch's take-out and put-back leaves."""
    await shadow.execute("SET LOCAL dondoc.journal_deferred = 'off'")
    ids = [r["task_id"] for r in await shadow.fetch("SELECT DISTINCT task_id FROM task_history ORDER BY task_id")]
    for start in range(0, len(ids), JOURNAL_CHUNK):
        chunk = ids[start : start + JOURNAL_CHUNK]
        await shadow.execute(
            """SELECT journal_add(array(SELECT h FROM task_history h WHERE h.task_id BETWEEN $1 AND $2), '{}')""",
            chunk[0],
            chunk[-1],
        )


async def finish_like_the_service(shadow: asyncpg.Connection, live_schema: str) -> None:
    await journal_from_history(shadow)
    await roll_live_like_the_service(shadow, live_schema)


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
    prepare=finish_like_the_service,
    feed_settings={"dondoc.journal_deferred": "on"},
    indexes_after_load=DEFERRED_INDEXES,
    one_lane=True,
    note="published_reports (the monthly reports this service itself published) is not in its input "
    "topics: not compared, kept as it is. Every time column comes from the events, none from the "
    "wall clock, so all other columns are compared.",
)
