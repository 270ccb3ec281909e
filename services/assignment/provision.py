"""Operating the assignment service from the server itself: the CLI, the demo and tests.

The CLI works on the service's own schema with the same handlers as HTTP (so the same rules and the
same outbox): whoever can reach the database is the installation's operator. The running service's
relay publishes what the CLI wrote as soon as it commits (it is woken by NOTIFY).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import asyncpg

from events.clock import Clock
from events.envelope import SYSTEM
from services.assignment.directory.handlers import load_document
from services.assignment.directory.model import DirectoryDocument
from services.assignment.tokens import IssuedToken, issue_token, revoke_token
from services.runtime import db
from services.runtime.auth import DEFAULT_TTL
from services.runtime.unit_of_work import UnitOfWork

SERVICE = "assignment"
MIGRATIONS = Path(__file__).parent / "migrations"
SEED_DIRECTORY = Path(__file__).parent / "seed" / "directory.json"
OPERATOR = SYSTEM
"""The actor of changes made at the server (CLI, demo), as the system's own events name it."""


@asynccontextmanager
async def assignment_db(url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the assignment schema, migrated (harmless when the service already did it). The command
    line finds the URL (``deploy.stack.database_url``): a service package never reaches into deploy."""
    pool = await db.create_pool(url, SERVICE, min_size=1, max_size=4)
    try:
        await db.migrate(pool, SERVICE, {"runtime": db.RUNTIME_MIGRATIONS, SERVICE: MIGRATIONS})
        yield pool
    finally:
        await pool.close()


@asynccontextmanager
async def unit_of_work(pool: asyncpg.Pool, clock: Clock) -> AsyncIterator[UnitOfWork]:
    async with pool.acquire() as conn, conn.transaction():
        yield UnitOfWork(conn, SERVICE, SERVICE, clock)


def read_directory(path: Path = SEED_DIRECTORY) -> DirectoryDocument:
    return DirectoryDocument.model_validate_json(path.read_text(encoding="utf-8"))


async def load_directory(pool: asyncpg.Pool, clock: Clock, path: Path = SEED_DIRECTORY) -> Counter[str]:
    """Load a directory file in one transaction; only what changed is stored and published."""
    document = read_directory(path)
    async with unit_of_work(pool, clock) as uow:
        return await load_document(document, uow, OPERATOR)


async def issue(
    pool: asyncpg.Pool, clock: Clock, agency_id: str, secret: str, label: str = "", ttl: timedelta = DEFAULT_TTL
) -> IssuedToken:
    async with pool.acquire() as conn:
        return await issue_token(conn, secret=secret, agency_id=agency_id, now=clock.now(), label=label, ttl=ttl)


async def revoke(pool: asyncpg.Pool, clock: Clock, token_id: str) -> bool:
    """Revoke a token as the installation's operator; the running service publishes TokenRevoked."""
    async with unit_of_work(pool, clock) as uow:
        return await revoke_token(uow, token_id, OPERATOR)


async def prepare(
    url: str, clock: Clock, secret: str, agency_ids: list[str], path: Path = SEED_DIRECTORY
) -> dict[str, IssuedToken]:
    """Load the (seed) directory and issue a token for each agency: a ready-to-use installation."""
    async with assignment_db(url) as pool:
        await load_directory(pool, clock, path)
        return {agency: await issue(pool, clock, agency, secret, label="prepared") for agency in agency_ids}


SEED_DANH_MUC = Path(__file__).parent / "seed" / "danh_muc_131.tsv"
"""The Danh mục of letter 6958/UBND-KSTT, byte for byte as tests/fixtures/danh_muc_131.tsv (the demo's)."""


async def directory_now(url: str) -> dict[str, list[dict[str, object]]] | None:
    """Agencies and people as the directory holds them now (the shape of a directory document), for what
    follows the directory outside the services: the identity provider's accounts, agencies' Kafka users.
    None when the database cannot be reached (the caller tries again later)."""
    try:
        conn = await asyncpg.connect(url, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return None
    try:
        agencies = await conn.fetch("SELECT agency_id, tracking_office, active FROM assignment.agencies")
        people = await conn.fetch(
            "SELECT person_id, agency_id, full_name, role, email, active, demo FROM assignment.people"
        )
    except asyncpg.PostgresError:
        return None
    finally:
        await conn.close()
    return {"agencies": [dict(r) for r in agencies], "people": [dict(r) for r in people]}
