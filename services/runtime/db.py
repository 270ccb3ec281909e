"""PostgreSQL: one pool per process, opened in the lifespan; one schema per service.

Migrations are plain numbered SQL files (``NNN_name.sql``) applied in order at start, each
in its own transaction, under an advisory lock so two replicas starting together don't race.
The runtime's own tables (outbox, inbox, timers, dead letters) are migrated into every
service schema first, under the component name ``runtime``.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import asyncpg

from services.runtime.logs import get_logger

log = get_logger(__name__)

RUNTIME_MIGRATIONS = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]*$")


def lock_key(*parts: str) -> int:
    """A stable advisory-lock key (signed 64-bit) from names."""
    return zlib.crc32("/".join(parts).encode()) - 2**31


async def create_pool(url: str, schema: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    if not _SCHEMA.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    # The search_path makes the service's SQL schema-free: the same statements run in any schema.
    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        server_settings={"search_path": f"{schema},public", "application_name": f"dondoc-{schema}"},
    )
    assert pool is not None
    return pool


def _migration_files(folder: Path) -> list[tuple[int, Path]]:
    files = []
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration {path} is not named NNN_lowercase_name.sql")
        files.append((int(match.group(1)), path))
    versions = [v for v, _ in files]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration numbers in {folder}")
    return files


async def migrate(pool: asyncpg.Pool, schema: str, folders: dict[str, Path]) -> list[str]:
    """Apply pending migrations of each component (in the given order); returns what was applied."""
    applied: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", lock_key("migrate", schema))
        try:
            # A service whose role owns only its schema (audit) may not create schemas: its schema is made
            # for it (deploy/postgres.py), and CREATE SCHEMA IF NOT EXISTS would still ask for the right.
            if not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await conn.execute(
                f"""CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations (
                    component text NOT NULL, version int NOT NULL, name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version))"""
            )
            for component, folder in folders.items():
                done = {
                    r["version"]
                    for r in await conn.fetch(
                        f'SELECT version FROM "{schema}".schema_migrations WHERE component = $1', component
                    )
                }
                for version, path in _migration_files(folder):
                    if version in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
                        await conn.execute(path.read_text(encoding="utf-8"))
                        await conn.execute(
                            f'INSERT INTO "{schema}".schema_migrations (component, version, name) VALUES ($1, $2, $3)',
                            component,
                            version,
                            path.name,
                        )
                    applied.append(f"{component}/{path.name}")
                    log.info("migration applied", schema=schema, component=component, migration=path.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", lock_key("migrate", schema))
    return applied
