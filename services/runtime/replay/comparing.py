"""Comparing the live schema with the shadow: table by table with ``EXCEPT ALL`` both ways, in one
snapshot, over the projection's tables (not the runtime's, not those the policy keeps), leaving out the
columns and rows the service's policy names; and whether the live inbox holds the same events."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from events.topics import is_compacted
from services.runtime.replay import catalog
from services.runtime.replay.policy import TablePolicy
from services.runtime.replay.rebuilding import Rebuilt, projection_tables
from services.runtime.settings import Settings


@dataclass(frozen=True)
class TableComparison:
    table: str
    live_rows: int | None  # None: the live schema has no such table
    rebuilt_rows: int
    missing: int  # rows the rebuilt table has and the live one lacks
    extra: int  # rows the live table has and the rebuilt one does not
    ignored: tuple[str, ...] = ()
    problem: str = ""  # the tables cannot be compared row by row (structure differs)
    samples: list[tuple[str, str]] = field(default_factory=list)  # ("missing" | "extra", row as JSON)

    @property
    def identical(self) -> bool:
        return not self.problem and self.live_rows is not None and self.missing == 0 and self.extra == 0


@dataclass(frozen=True)
class Comparison:
    tables: list[TableComparison]
    live_only_events: int  # handled by the live service, not by the replay (read after its end, or lost)
    unhandled_by_live: int  # handled by the replay, not (yet) by the live service
    note: str

    @property
    def identical(self) -> bool:
        return all(t.identical for t in self.tables)


_NOT_COMPARABLE = {"json", "xml", "point", "line", "lseg", "box", "path", "polygon", "circle"}


async def compare(rebuilt: Rebuilt, settings: Settings, *, samples: int = 3) -> Comparison:
    """The live schema against the shadow, table by table, in one snapshot of both."""
    policy = rebuilt.policy
    live, shadow = rebuilt.live_schema, rebuilt.shadow_schema
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(
            "CREATE TEMP TABLE replay_snapshot (topic text, partition int, start_offset bigint, "
            "end_offset bigint, compacted boolean)"
        )
        await conn.executemany(
            "INSERT INTO replay_snapshot VALUES ($1, $2, $3, $4, $5)",
            [(t, p, rebuilt.starts[(t, p)], end, is_compacted(t)) for (t, p), end in rebuilt.ends.items()],
        )
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            live_tables = set(await catalog.tables(conn, live))
            results = [
                await _compare_table(
                    conn, live, shadow, table, policy.tables.get(table, TablePolicy()), table in live_tables, samples
                )
                for table in projection_tables(await catalog.tables(conn, shadow), rebuilt, policy)
            ]
            live_only = unhandled = 0
            if "inbox" in live_tables:
                live_only = await conn.fetchval(
                    f'SELECT count(*) FROM "{live}".inbox l WHERE NOT EXISTS '
                    f'(SELECT 1 FROM "{shadow}".inbox r WHERE r.event_id = l.event_id)'
                )
                unhandled = await conn.fetchval(
                    f'SELECT count(*) FROM "{shadow}".inbox r WHERE NOT EXISTS '
                    f'(SELECT 1 FROM "{live}".inbox l WHERE l.event_id = r.event_id)'
                )
    finally:
        await conn.close()
    return Comparison(results, live_only, unhandled, policy.note)


async def _compare_table(
    conn: asyncpg.Connection, live: str, shadow: str, table: str, policy: TablePolicy, in_live: bool, samples: int
) -> TableComparison:
    shadow_columns = [c for c in await catalog.columns(conn, shadow, table) if c[0] not in policy.ignore]
    rows = f"WHERE ({policy.rows})" if policy.rows else ""
    rebuilt_rows = await conn.fetchval(f'SELECT count(*) FROM "{shadow}"."{table}" t {rows}')
    if not in_live:
        return TableComparison(
            table, None, rebuilt_rows, rebuilt_rows, 0, policy.ignore, problem="the live schema has no such table"
        )
    live_where = " AND ".join(f"({p})" for p in (policy.rows, policy.live_rows.format(shadow=shadow)) if p)
    live_filter = f"WHERE {live_where}" if live_where else ""
    live_rows = await conn.fetchval(f'SELECT count(*) FROM "{live}"."{table}" t {live_filter}')
    live_columns = [c for c in await catalog.columns(conn, live, table) if c[0] not in policy.ignore]
    if sorted(live_columns) != sorted(shadow_columns):
        return TableComparison(
            table,
            live_rows,
            rebuilt_rows,
            0,
            0,
            policy.ignore,
            problem="its columns differ from the rebuilt table's (migrations differ)",
        )
    select = ", ".join(f'"{c}"::text' if kind in _NOT_COMPARABLE else f'"{c}"' for c, kind in shadow_columns)
    rebuilt_q = f'SELECT {select} FROM "{shadow}"."{table}" t {rows}'
    live_q = f'SELECT {select} FROM "{live}"."{table}" t {live_filter}'
    missing_q, extra_q = f"{rebuilt_q} EXCEPT ALL {live_q}", f"{live_q} EXCEPT ALL {rebuilt_q}"
    missing = await conn.fetchval(f"SELECT count(*) FROM ({missing_q}) d")
    extra = await conn.fetchval(f"SELECT count(*) FROM ({extra_q}) d")
    shown: list[tuple[str, str]] = []
    for kind, query, count in (("missing", missing_q, missing), ("extra", extra_q, extra)):
        if count and samples:
            rows_q = f"SELECT row_to_json(d)::text FROM ({query}) d LIMIT {samples}"
            shown += [(kind, r[0]) for r in await conn.fetch(rows_q)]
    return TableComparison(table, live_rows, rebuilt_rows, missing, extra, policy.ignore, samples=shown)
