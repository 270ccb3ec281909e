"""Shared fixtures. Integration tests get the real Kafka broker and PostgreSQL, started once per
session in a fresh state directory (no leftovers between runs); tests isolate themselves by
unique ids, never by order."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

T = TypeVar("T")

# The session's identity provider (a real Keycloak), for the tests of people signing in.
pytest_plugins = ["tests.identity_kit"]

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A free port outside the ephemeral range (deploy/_proc.py says why)."""
    from deploy._proc import free_port as below_ephemeral

    return below_ephemeral()


async def eventually(
    check: Callable[[], Awaitable[T]], *, timeout: float = 20.0, interval: float = 0.1, what: str = "condition"
) -> T:
    """Poll ``check`` until it returns a truthy value, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = await check()
        except AssertionError as exc:
            last = exc
        if last and not isinstance(last, AssertionError):
            return last  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")
        await asyncio.sleep(interval)


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class Infra:
    """The session's servers. ``kafka`` is the admin principal's settings: test scaffolding publishes and
    reads topics as an operator would; the services under test run as their own principals (``running``),
    so the broker enforces the ACL table on them as in production."""

    kafka_bootstrap: str
    database_url: str
    kafka: Any
    audit_database_url: str = ""  # the audit service's own role (it alone writes the audit schema)


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    """Real Kafka (KRaft, SASL + ACLs on, as always) and PostgreSQL for the whole session, on free ports."""
    from deploy import stack
    from deploy.isolated import isolated_infra

    # One installation per session: services refuse to start without a token secret.
    token_secret = os.environ.get("DONDOC_TOKEN_SECRET") or "test-" + uuid.uuid4().hex
    with isolated_infra(
        tmp_path_factory.mktemp("dondoc-home"), lambda: {"DONDOC_TOKEN_SECRET": token_secret}
    ) as endpoints:
        yield Infra(
            endpoints.kafka_bootstrap,
            endpoints.database_url,
            stack.kafka_admin(endpoints.kafka_bootstrap),
            endpoints.audit_database_url,
        )


@pytest.fixture(scope="session")
def settings(infra: Infra) -> Any:
    """Settings of the session; Kafka as the admin (scaffolding). ``running`` swaps in a service's own."""
    return infra.kafka.model_copy(
        update={
            "database_url": infra.database_url,
            "relay_poll_interval_s": 0.5,
            "timer_poll_interval_s": 0.1,
            "handler_retry_backoff_s": 0.05,
            "log_format": "console",
        }
    )


def as_service(name: str, settings: Any) -> Any:
    """``settings`` with the Kafka principal of service ``name`` (a test probe keeps the given one)."""
    from deploy.credentials import as_principal
    from events.kafka_access import service_principal
    from events.topics import SERVICES

    return as_principal(settings, service_principal(name)) if name in SERVICES else settings


@asynccontextmanager
async def running(definition: Any, settings: Any, clock: Any = None) -> AsyncIterator[Any]:
    """Run a service in this process (its lifespan: pool, migrations, relay, consumer) with an HTTP client."""
    from services.runtime.service import create_app

    app = create_app(definition, as_service(definition.name, settings), clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


@pytest.fixture
def run_service(settings: Any) -> Callable[..., Any]:
    def _run(definition: Any, clock: Any = None) -> Any:
        return running(definition, settings, clock)

    return _run
