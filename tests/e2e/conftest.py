"""End-to-end harness: the services as real processes (`dondoc service NAME`), on the session's
real Kafka and a fresh PostgreSQL database, killed and restarted at will."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from deploy.credentials import service_env
from events.clock import SystemClock
from services.assignment import provision
from tests.conftest import REPO, free_port
from tests.e2e.browser import browser  # noqa: F401  (the headless Chromium fixture of the dashboard tests)

SERVICES = ("assignment", "progress", "alerts", "reporting", "audit")
TOKEN_SECRET = "e2e-secret-" + uuid.uuid4().hex
AUDIT_KEY = "e2e-audit-key-" + uuid.uuid4().hex  # the audit service refuses to start without one


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "service", self.name],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """kill -9: no shutdown hook runs, nothing is flushed or committed."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        from deploy._proc import stop_gently

        if self.proc is not None:
            stop_gently(self.proc)

    async def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise AssertionError(f"{self.name} exited ({self.proc.returncode}); log:\n{self.log_tail()}")
                try:
                    if (await client.get(f"{self.url}/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{self.name} not ready after {timeout}s; log:\n{self.log_tail()}")
                await asyncio.sleep(0.2)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


AGENCIES_WITH_TOKENS = ("ubnd-bd", "bd-sgddt")


@dataclass
class Stack:
    services: dict[str, ServiceProcess]
    database_url: str
    env: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    def headers_for(self, agency_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[agency_id]}"}

    async def fetch(self, schema: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.database_url, server_settings={"search_path": schema})
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()


async def _fresh_database(url: str) -> str:
    name = f"dondoc_e2e_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def clock_offset_s() -> float:
    """Override in a test module to run the processes at another domain time."""
    return 0.0


@pytest.fixture
def stack_env() -> dict[str, str]:
    """Override in a test module to give the processes more settings (the identity provider's issuer)."""
    return {}


@pytest.fixture
async def stack(infra: Any, tmp_path: Path, clock_offset_s: float, stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    database_url = await _fresh_database(infra.database_url)
    env = {
        **os.environ,
        "DONDOC_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "DONDOC_DATABASE_URL": database_url,
        "DONDOC_TOKEN_SECRET": TOKEN_SECRET,
        "DONDOC_AUDIT_KEY": AUDIT_KEY,
        "DONDOC_LOG_FORMAT": "json",
        "DONDOC_TIMER_POLL_INTERVAL_S": "0.2",
        "DONDOC_CLOCK_OFFSET_S": str(clock_offset_s),
        "PYTHONUNBUFFERED": "1",
        **stack_env,
    }
    services = {}
    for name in SERVICES:
        port = free_port()
        env[f"DONDOC_{name.upper()}_PORT"] = str(port)
        services[name] = ServiceProcess(name, port, env, tmp_path / f"{name}.log")
    for service in services.values():
        service.env = {**env, **service_env(service.name)}  # every port; its own Kafka principal
        service.start()
    try:
        await asyncio.gather(*(s.wait_ready() for s in services.values()))
        # The seed directory and issued tokens, as an operator would set up an installation.
        issued = await provision.prepare(database_url, SystemClock(), TOKEN_SECRET, list(AGENCIES_WITH_TOKENS))
        yield Stack(services, database_url, env, {a: t.token for a, t in issued.items()})
    finally:
        for service in services.values():
            service.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client
