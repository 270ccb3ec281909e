"""The local PostgreSQL is run like a real deployment: no connection without a password, no service a
superuser, and the audit schema written by the audit service's own role alone (issue 12, items 6 and 10)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

pytestmark = pytest.mark.integration


async def test_a_connection_without_the_password_is_refused(infra: Any) -> None:
    port = urlsplit(infra.database_url).port
    for role in ("postgres", "dondoc", "dondoc_audit"):
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(f"postgresql://{role}:not-the-password@127.0.0.1:{port}/dondoc")


async def test_no_service_connects_as_a_superuser(settings: Any) -> None:
    for url in (settings.database_url, settings.database_url_of("audit")):
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") is False
        finally:
            await conn.close()
    assert settings.database_url_of("audit") != settings.database_url


async def test_only_the_audit_role_writes_the_audit_schema(settings: Any, run_service: Any) -> None:
    from services import registry

    async with run_service(registry.definition("audit")):
        pass  # migrated by its own role
    app = await asyncpg.connect(settings.database_url)
    try:
        await app.execute("CREATE SCHEMA IF NOT EXISTS assignment")  # another service's, made by the app role
    finally:
        await app.close()
    await _only_reads_audit(
        settings.database_url,
        "UPDATE audit.chain_head SET seq = seq",
        "DROP TABLE audit.chain_offsets",
        "INSERT INTO audit.events SELECT * FROM audit.events LIMIT 1",
    )
    await _only_reads_audit(
        settings.database_url_of("audit"), "CREATE SCHEMA elsewhere", "CREATE TABLE assignment.planted (x int)"
    )


async def _only_reads_audit(url: str, *refused: str) -> None:
    """Connected with ``url``, the audit log can be read and each of ``refused`` is refused."""
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM audit.events") >= 0
        for statement in refused:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
    finally:
        await conn.close()
