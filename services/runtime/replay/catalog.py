"""The tables and columns of a schema, as PostgreSQL's catalog lists them."""

from __future__ import annotations

import asyncpg


async def tables(conn: asyncpg.Connection, schema: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' "
        "ORDER BY table_name",
        schema,
    )
    return [r["table_name"] for r in rows]


async def columns(conn: asyncpg.Connection, schema: str, table: str) -> list[tuple[str, str]]:
    """(name, data type) of the columns one can write, in order."""
    rows = await conn.fetch(
        """SELECT column_name, data_type FROM information_schema.columns
           WHERE table_schema = $1 AND table_name = $2 AND is_generated = 'NEVER' ORDER BY ordinal_position""",
        schema,
        table,
    )
    return [(r["column_name"], r["data_type"]) for r in rows]
