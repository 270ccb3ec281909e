"""The agency tree of the reporting service, from ``dondoc.directory``, kept as a closure table.

Invariants (exercised through the subtree figures of tests/integration/test_report_summary.py and
tests/integration/test_report_access.py; no test breaks them one by one yet):
* ``agency_tree`` holds (ancestor, agency, depth) for every agency and each of its ancestors, itself
  at depth 0, so "the subtree of X" is one indexed lookup.
* The directory and the tasks travel on different topics, so either may arrive first: a lead not
  yet in the directory is a root of its own. When an agency is (re)attached under a parent, the
  tasks whose place in some subtree changes (led in the moved subtree, or delegated from a task led
  there) are taken out of the journal under the old tree and put back under the new one; ``depth``
  of the moved agencies follows, so the journal keeps the subtrees of the top two levels.
* A parent that would make a cycle is refused (the agency keeps its place) rather than looping.
"""

from __future__ import annotations

import asyncpg

from services.reporting import adapters
from services.runtime.logs import get_logger

log = get_logger(__name__)


async def upsert_agency(
    conn: asyncpg.Connection,
    agency_id: str,
    *,
    parent_id: str | None,
    name: str,
    short_name: str,
    level: str,
    version: int,
    successor_id: str | None = None,
) -> bool:
    """Store an agency's full state; an older version than the one held is ignored (returns False)."""
    # Before any row: a move of the tree rewrites the journal of the tasks it moves, so it waits for the
    # task batches writing now (they hold the lock shared from their first statement) and they for it.
    await conn.execute(adapters.LIVE_LOCK_ALONE)
    current = await conn.fetchrow("SELECT parent_id, version FROM agencies WHERE agency_id = $1 FOR UPDATE", agency_id)
    if current is not None and current["version"] >= version:
        return False
    old_parent = current["parent_id"] if current else None
    await conn.execute(
        """INSERT INTO agencies (agency_id, parent_id, name, short_name, level, successor_id, version, known)
           VALUES ($1, $2, $3, $4, $5, $6, $7, true)
           ON CONFLICT (agency_id) DO UPDATE SET name = $3, short_name = $4, level = $5, successor_id = $6,
               version = $7, known = true""",
        agency_id,
        old_parent,
        name,
        short_name or name,
        level,
        successor_id,
        version,
    )
    await conn.execute("INSERT INTO agency_tree VALUES ($1, $1, 0) ON CONFLICT DO NOTHING", agency_id)
    if parent_id != old_parent:
        await _reattach(conn, agency_id, old_parent, parent_id)
    return True


async def _reattach(conn: asyncpg.Connection, agency_id: str, old_parent: str | None, new_parent: str | None) -> None:
    subtree = [
        r["agency_id"] for r in await conn.fetch("SELECT agency_id FROM agency_tree WHERE ancestor_id = $1", agency_id)
    ]
    if new_parent is not None and new_parent in subtree:
        log.warning("directory parent would make a cycle; kept the old one", agency_id=agency_id, parent_id=new_parent)
        return
    # The tasks whose place in some subtree changes: led in the moved subtree, or delegated from a task
    # led there (a view that now holds, or no longer holds, their parent's lead counts them otherwise) —
    # at any moment of their history: a task a reorganisation moved away (transfers.py) still has rows
    # led there before the move, and its children rows delegated from there.
    moved = [
        r["task_id"]
        for r in await conn.fetch(
            """WITH moved_away AS (
                   SELECT task_id FROM transfers WHERE role = 'chu-tri' AND from_agency_id = ANY($1::text[]))
               SELECT task_id FROM tasks
               WHERE lead_agency_id = ANY($1::text[]) OR parent_lead_agency_id = ANY($1::text[])
                  OR task_id IN (SELECT task_id FROM moved_away) OR parent_task_id IN (SELECT task_id FROM moved_away)
               ORDER BY task_id""",
            subtree,
        )
    ]
    if moved:
        # Only the rows the tree decides: the whole tree's and the documents' would come back as they were.
        await adapters.journal(conn, moved, -1, tree_only=True)
    if new_parent is not None:
        await conn.execute(
            """INSERT INTO agencies (agency_id, name, short_name, known) VALUES ($1, $1, $1, false)
               ON CONFLICT (agency_id) DO NOTHING""",
            new_parent,
        )
        await conn.execute("INSERT INTO agency_tree VALUES ($1, $1, 0) ON CONFLICT DO NOTHING", new_parent)
    await conn.execute("UPDATE agencies SET parent_id = $2 WHERE agency_id = $1", agency_id, new_parent)
    # Cut the subtree from its old ancestors, then hang it under the new parent's ancestors.
    await conn.execute(
        """DELETE FROM agency_tree
           WHERE agency_id = ANY($1::text[]) AND NOT (ancestor_id = ANY($1::text[]))""",
        subtree,
    )
    if new_parent is not None:
        await conn.execute(
            """INSERT INTO agency_tree (ancestor_id, agency_id, depth)
               SELECT a.ancestor_id, d.agency_id, a.depth + d.depth + 1
               FROM agency_tree a CROSS JOIN agency_tree d
               WHERE a.agency_id = $1 AND d.ancestor_id = $2""",
            new_parent,
            agency_id,
        )
    await conn.execute(
        """UPDATE agencies a SET depth = (SELECT max(t.depth) FROM agency_tree t WHERE t.agency_id = a.agency_id)
           WHERE a.agency_id = ANY($1::text[])""",
        subtree,
    )
    if moved:
        await adapters.journal(conn, moved, +1, tree_only=True)


async def upsert_person(
    conn: asyncpg.Connection,
    person_id: str,
    *,
    agency_id: str,
    full_name: str,
    role: str,
    title: str,
    version: int,
) -> None:
    """A person's full state; one who left keeps their name (old tasks name them) but no role."""
    await conn.execute(
        """INSERT INTO people (person_id, agency_id, full_name, role, title, version)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (person_id) DO UPDATE
               SET agency_id = $2, full_name = $3, role = $4, title = $5, version = $6
           WHERE people.version < $6""",
        person_id,
        agency_id,
        full_name,
        role,
        title,
        version,
    )
