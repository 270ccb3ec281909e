"""Cuts in a delegated task's history that none of its own events made: its parent moved to another lead.

A child's ``parent_lead`` is its parent's lead *at each moment* — the old agency before a reorganisation took
effect, the successor from then on — so the row that straddles a parent's transfer is cut in two there.
The child's own events and its parent's ``TaskTransferred`` travel in different partitions, and a replay
reads them in another interleaving than the live service did. So that the history comes out the same
either way, a cut is a pure function of the rows it is applied to, and is undone before the child's own
events are applied (``trailing_cuts``) and redone after (``follow``): the events always meet the history
as if no parent had moved, whatever was read first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

import asyncpg

from events.clock import VN_TZ

_COLUMNS = (
    "task_id, valid_from, valid_to, bucket, due, lead_agency_id, document, assigned_on, key_task, secret, involved, "
    "delegated, parent_lead"
)
# What must be equal on both sides of a boundary for it to be a parent's cut rather than a change of the
# task's own (its own transfer changes the lead or the coordinating agencies, so it is never undone here).
_SAME = ("bucket", "due", "lead_agency_id", "document", "assigned_on", "key_task", "secret", "involved", "delegated")


@dataclass(frozen=True)
class Move:
    at: datetime  # the start of the day the successor takes over, in the domain's time zone
    from_agency_id: str
    to_agency_id: str


@dataclass(frozen=True)
class TrailingCut:
    """The current row and the rows before it that only a parent's cuts separate, as one row again."""

    valid_from: datetime  # the first of them: the merged current row's key
    absorbed: tuple[datetime, ...]  # the keys of the others, to delete


def moment(day: object) -> datetime:
    return datetime.combine(day, time(0), tzinfo=VN_TZ)  # type: ignore[arg-type]


async def parent_moves(conn: asyncpg.Connection, task_ids: list[str]) -> dict[str, list[Move]]:
    """The lead transfers of these tasks' parents, in time order (decisions of one day by id)."""
    if not task_ids:
        return {}
    rows = await conn.fetch(
        """SELECT c.task_id, x.effective_on, x.from_agency_id, x.to_agency_id
           FROM tasks c JOIN transfers x ON x.task_id = c.parent_task_id AND x.role = 'chu-tri'
           WHERE c.task_id = ANY($1::text[]) ORDER BY c.task_id, x.effective_on, x.reorganisation_id""",
        sorted(task_ids),
    )
    moves: dict[str, list[Move]] = {}
    for r in rows:
        moves.setdefault(r["task_id"], []).append(
            Move(moment(r["effective_on"]), r["from_agency_id"], r["to_agency_id"])
        )
    return moves


async def trailing_cuts(conn: asyncpg.Connection, moves: dict[str, list[Move]]) -> dict[str, TrailingCut]:
    """For each task whose current row a parent's cut began, the run of rows back to the last boundary of
    its own: the task's next event is applied to that run as one row, as it would be had the parent's
    transfer not been read yet."""
    if not moves:
        return {}
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS}, recorded_from, recorded_to FROM task_history
            WHERE task_id = ANY($1::text[]) ORDER BY task_id, valid_from DESC""",
        sorted(moves),
    )
    by_task: dict[str, list[asyncpg.Record]] = {}
    for r in rows:
        by_task.setdefault(r["task_id"], []).append(r)
    cuts: dict[str, TrailingCut] = {}
    for task_id, history in by_task.items():
        moments = {m.at for m in moves[task_id]}
        run = [history[0]]
        for earlier in history[1:]:
            later = run[-1]
            if not (
                earlier["valid_to"] == later["valid_from"]
                and later["valid_from"] in moments
                and later["recorded_from"] is None
                and earlier["recorded_to"] is None
                and all(earlier[c] == later[c] for c in _SAME)
            ):
                break
            run.append(earlier)
        if len(run) > 1:
            cuts[task_id] = TrailingCut(run[-1]["valid_from"], tuple(r["valid_from"] for r in run[:-1]))
    return cuts


async def cut(conn: asyncpg.Connection, task_ids: list[str], at: datetime) -> None:
    """Cut the row that holds at ``at`` in two: before it, as it was; from it, for the caller to relabel. The row
    is closed first (one current row per task), then its second half is put back."""
    halves = await conn.fetch(
        f"SELECT {_COLUMNS} FROM task_history WHERE task_id = ANY($1::text[]) AND valid_from < $2 AND valid_to > $2",
        task_ids,
        at,
    )
    if not halves:
        return
    await conn.execute(
        "UPDATE task_history SET valid_to = $2 WHERE task_id = ANY($1::text[]) AND valid_from < $2 AND valid_to > $2",
        task_ids,
        at,
    )
    await conn.executemany(
        f"INSERT INTO task_history ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        [(h["task_id"], at, *list(h.values())[2:]) for h in halves],
    )


async def follow(conn: asyncpg.Connection, moves: dict[str, list[Move]]) -> None:
    """Each task's ``parent_lead``, row by row, is its parent's lead at that moment: cut at every move, the old
    agency before the first, each successor from its day on. The caller writes the journal."""
    for task_id, steps in sorted(moves.items()):
        since: datetime | None = None  # before the first move: from the task's first row
        for step in steps:
            await cut(conn, [task_id], step.at)
            await conn.execute(
                """UPDATE task_history SET parent_lead = $2
                   WHERE task_id = $1 AND ($3::timestamptz IS NULL OR valid_from >= $3) AND valid_from < $4""",
                task_id,
                step.from_agency_id,
                since,
                step.at,
            )
            since = step.at
        await conn.execute(
            "UPDATE task_history SET parent_lead = $2 WHERE task_id = $1 AND valid_from >= $3::timestamptz",
            task_id,
            steps[-1].to_agency_id,
            since,
        )
        await conn.execute(
            "UPDATE tasks SET parent_lead_agency_id = $2 WHERE task_id = $1", task_id, steps[-1].to_agency_id
        )
