"""Putting a rebuilt projection in place (--apply). Only when the service is down (its /readyz does not
answer and its consumer group has no member), in one transaction with a copy of the old rows in a backup
schema; the inbox is replaced with the shadow's (it records which events the tables hold) and the
group's offsets are set to the replay's end offsets before that transaction commits, so the restarted
service goes on exactly after what the tables contain.

The group then never reads the events between its old offsets and those end offsets, so what the runtime
records from them goes over too, in the same transaction (tests/integration/test_replay.py): the
shadow's ``revoked_tokens`` are added to the live ones (a revocation is never taken back, not even by
going back to the backup), and the live ``inactive_agencies`` are made the shadow's (the directory's
state at the end offsets: the replay read all of it). Otherwise a token revoked while the service was
down would work in it for good."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from aiokafka.errors import CommitFailedError

from events.topics import DIRECTORY
from services.runtime import db
from services.runtime.definition import ServiceDefinition
from services.runtime.logs import get_logger
from services.runtime.replay import catalog
from services.runtime.replay.log import Position
from services.runtime.replay.offsets import group_offsets, set_group_offsets
from services.runtime.replay.policy import ReplayRefused
from services.runtime.replay.rebuilding import Rebuilt, projection_tables
from services.runtime.replay.running import running_signs
from services.runtime.settings import Settings

log = get_logger(__name__)

# What the runtime records from the directory (runtime/revocations.py): carried over by an apply.
_REVOCATION_TABLES = ("revoked_tokens", "inactive_agencies")


@dataclass(frozen=True)
class Applied:
    backup_schema: str
    tables: list[str]
    offsets: dict[Position, int]  # the group's committed offsets now: the replay's end offsets
    previous_offsets: dict[Position, int]  # before (also kept in the backup schema, table group_offsets)
    dead_letters_copied: int
    revoked_tokens_added: int = 0  # revocations the replay read and the live service had not


async def apply(
    rebuilt: Rebuilt,
    definition: ServiceDefinition,
    settings: Settings,
    *,
    service_url: str | None = None,
    now: datetime | None = None,
) -> Applied:
    """Replace the live projection tables (and inbox) by the shadow's and move the group to the end offsets."""
    policy = rebuilt.policy
    if policy.apply_refusal:
        raise ReplayRefused(policy.apply_refusal)
    signs = await running_signs(definition, settings, service_url)
    if signs:
        raise ReplayRefused(
            f"{rebuilt.service} is running ({'; '.join(signs)}). Stop every instance of it, "
            "then run the replay with --apply again."
        )
    live, shadow = rebuilt.live_schema, rebuilt.shadow_schema
    backup = f"{live}_backup_{(now or datetime.now(UTC)):%Y%m%d_%H%M%S}"
    previous = await group_offsets(settings, rebuilt.group)
    conn = await asyncpg.connect(settings.database_url)
    try:
        # No other replay of the service may replace the shadow meanwhile.
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", db.lock_key("replay", rebuilt.service)):
            raise ReplayRefused(f"another replay of {rebuilt.service} is running (it holds the replay lock)")
        async with conn.transaction():
            await _same_migrations(conn, live, shadow)
            tables = [*projection_tables(await catalog.tables(conn, shadow), rebuilt, policy), "inbox"]
            qualified = ", ".join(f'"{live}"."{t}"' for t in tables)
            revocation_tables = _REVOCATION_TABLES if DIRECTORY in rebuilt.topics else ()
            locked = ", ".join([qualified, *(f'"{live}"."{t}"' for t in revocation_tables)])
            # Waits for (then holds off) anyone still reading or writing these tables.
            await conn.execute(f"LOCK TABLE {locked} IN ACCESS EXCLUSIVE MODE")
            await conn.execute(f'CREATE SCHEMA "{backup}"')
            for t in tables:
                await conn.execute(f'CREATE TABLE "{backup}"."{t}" AS TABLE "{live}"."{t}"')
            await conn.execute(
                f'CREATE TABLE "{backup}".group_offsets (topic text, partition int, committed_offset bigint)'
            )
            await conn.executemany(
                f'INSERT INTO "{backup}".group_offsets VALUES ($1, $2, $3)',
                [(t, p, o) for (t, p), o in sorted(previous.items())],
            )
            await conn.execute(f"TRUNCATE {qualified}")
            for t in tables:
                columns = ", ".join(f'"{c}"' for c, _ in await catalog.columns(conn, live, t))
                await conn.execute(
                    f'INSERT INTO "{live}"."{t}" ({columns}) OVERRIDING SYSTEM VALUE '
                    f'SELECT {columns} FROM "{shadow}"."{t}"'
                )
                await _catch_up_sequences(conn, live, t)
            copied = await conn.fetchval(
                f"""WITH copied AS (
                        INSERT INTO "{live}".dead_letters (topic, partition, "offset", key, value, error, attempts)
                        SELECT topic, partition, "offset", key, value, error, attempts FROM "{shadow}".dead_letters
                        ON CONFLICT DO NOTHING RETURNING 1)
                    SELECT count(*) FROM copied"""
            )
            revoked = await _carry_revocations(conn, live, shadow) if revocation_tables else 0
            # Inside the transaction: if the offsets cannot be set (the group came alive), nothing changes.
            try:
                await set_group_offsets(settings, rebuilt.group, rebuilt.ends)
            except CommitFailedError as exc:
                raise ReplayRefused(
                    f"the consumer group {rebuilt.group} got a member while applying (the service "
                    "started?); nothing was changed. Stop it and run the replay with --apply "
                    "again."
                ) from exc
        await conn.execute(f'DROP SCHEMA IF EXISTS "{shadow}" CASCADE')  # its rows are live now
    finally:
        await conn.close()
    log.info(
        "replay applied",
        service=rebuilt.service,
        backup_schema=backup,
        tables=tables,
        dead_letters_copied=copied,
        revoked_tokens_added=revoked,
    )
    return Applied(backup, tables, dict(rebuilt.ends), previous, copied, revoked)


async def _carry_revocations(conn: asyncpg.Connection, live: str, shadow: str) -> int:
    """The shadow's revoked tokens added to the live ones; the live inactive agencies made the shadow's.
    Returns how many revocations the live service did not know."""
    added = await conn.fetchval(
        f"""WITH added AS (
                INSERT INTO "{live}".revoked_tokens (token_id, agency_id, revoked_at)
                SELECT token_id, agency_id, revoked_at FROM "{shadow}".revoked_tokens
                ON CONFLICT (token_id) DO NOTHING RETURNING 1)
            SELECT count(*) FROM added"""
    )
    await conn.execute(
        f"""DELETE FROM "{live}".inactive_agencies l
            WHERE NOT EXISTS (SELECT 1 FROM "{shadow}".inactive_agencies s WHERE s.agency_id = l.agency_id)"""
    )
    await conn.execute(
        f"""INSERT INTO "{live}".inactive_agencies (agency_id)
            SELECT agency_id FROM "{shadow}".inactive_agencies ON CONFLICT (agency_id) DO NOTHING"""
    )
    return int(added)


async def _same_migrations(conn: asyncpg.Connection, live: str, shadow: str) -> None:
    for schema in (live, shadow):
        if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f'"{schema}".schema_migrations'):
            raise ReplayRefused(f"schema {schema} does not exist (or was never migrated): nothing to apply to or from")
    query = 'SELECT component, version FROM "{}".schema_migrations ORDER BY 1, 2'
    live_done = [tuple(r) for r in await conn.fetch(query.format(live))]
    shadow_done = [tuple(r) for r in await conn.fetch(query.format(shadow))]
    if live_done != shadow_done:
        raise ReplayRefused(
            f"the live schema {live} is not migrated like the rebuilt one (live: {live_done}, "
            f"rebuilt: {shadow_done}); start the service once with this version so it migrates, "
            "stop it, and replay again"
        )


async def _catch_up_sequences(conn: asyncpg.Connection, schema: str, table: str) -> None:
    """Rows copied with their ids leave a serial's sequence behind: move it past the highest id."""
    for column, _ in await catalog.columns(conn, schema, table):
        sequence = await conn.fetchval("SELECT pg_get_serial_sequence($1, $2)", f'"{schema}"."{table}"', column)
        if sequence:
            await conn.execute(
                f'SELECT setval($1, coalesce((SELECT max("{column}") FROM "{schema}"."{table}"), 0) + 1, false)',
                sequence,
            )
