"""LISTEN/NOTIFY comes back after the server drops the listening connection (issue 17: alerts' delivery
wake-ups stopped for good after a PostgreSQL restart; services/runtime/listening.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from services.runtime.listening import Listener
from tests.conftest import eventually, unique

pytestmark = pytest.mark.integration


async def test_a_listener_whose_backend_is_terminated_listens_again_and_says_so(infra: Any) -> None:
    channel = unique("chan").replace("-", "_")
    heard: list[str] = []
    connects = 0

    def on_connect() -> None:
        nonlocal connects
        connects += 1

    listener = Listener(
        infra.database_url,
        {channel: lambda _c, _p, _ch, payload: heard.append(payload)},
        name="test",
        on_connect=on_connect,
        first_backoff_s=0.05,
    )
    task = asyncio.create_task(listener.run())
    admin = await asyncpg.connect(infra.database_url)
    try:
        await asyncio.wait_for(listener.connected.wait(), 10)
        await admin.execute("SELECT pg_notify($1, 'before')", channel)
        await eventually(lambda: _has(heard, "before"), timeout=10, what="the first notification")

        first_pid = listener.backend_pid
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", first_pid)

        async def listening_again() -> bool:
            return listener.connected.is_set() and listener.backend_pid not in (None, first_pid)

        await eventually(listening_again, timeout=15, what="a new listening connection")
        await admin.execute("SELECT pg_notify($1, 'after')", channel)
        await eventually(lambda: _has(heard, "after"), timeout=10, what="a notification after the reconnect")
        assert listener.connections == 2
        assert connects == 2  # the owner was told twice, to look for work sent while nobody listened
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await admin.close()


async def _has(heard: list[str], payload: str) -> bool:
    return payload in heard
