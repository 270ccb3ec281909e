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
    app = await asyncpg.connect(settings.database_url, server_settings={"search_path": "audit"})
    try:
        await app.fetchval("SELECT count(*) FROM events")  # reading is allowed (replay's comparison)
        await app.execute("CREATE SCHEMA IF NOT EXISTS assignment")  # another service's, made by the app role
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app.execute("UPDATE chain_head SET seq = seq")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app.execute("DROP TABLE chain_offsets")
    finally:
        await app.close()
    audit = await asyncpg.connect(settings.database_url_of("audit"))
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await audit.execute("CREATE SCHEMA elsewhere")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await audit.execute("CREATE TABLE assignment.planted (x int)")
    finally:
        await audit.close()
