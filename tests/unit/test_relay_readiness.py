"""A relay that cannot publish says so, so readiness can stop saying "ready" (issue 17: assignment's relay
failed every second for minutes while its /readyz said ready)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import asyncpg
from aiokafka import AIOKafkaProducer

from services.runtime.relay import OutboxRelay
from tests.conftest import eventually


class DownDatabase:
    """A pool whose every acquire fails, as during a PostgreSQL restart; counts the attempts."""

    def __init__(self) -> None:
        self.attempts = 0
        self.tried = asyncio.Event()

    def acquire(self) -> Any:
        self.attempts += 1
        self.tried.set()
        raise ConnectionRefusedError("connection refused")


async def test_a_relay_failing_every_round_reports_itself_stuck_with_its_last_error() -> None:
    pool = DownDatabase()
    relay = OutboxRelay(cast(asyncpg.Pool, pool), cast(AIOKafkaProducer, None), "svc", poll_interval_s=0.01)
    assert relay.stuck(0) is None  # nothing tried yet
    task = asyncio.create_task(relay.run())
    await asyncio.wait_for(pool.tried.wait(), 5)

    async def failed_twice() -> bool:  # the first failure is recorded before the relay backs off and retries
        return pool.attempts >= 2

    await eventually(failed_twice, timeout=5, interval=0.01, what="a second round")
    relay.stop()
    await asyncio.wait_for(task, 5)
    assert relay.stuck(3600) is None  # not for an hour yet
    why = relay.stuck(0)
    assert why is not None and "ConnectionRefusedError" in why and "nothing published" in why
