"""The shadow schema ``<schema>_replay`` and what keeps a replay's writes in it: a pool whose search_path
makes the service's SQL land there, and a stand-in for the Consumer's dead-letter producer."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import asyncpg

from services.runtime.definition import ServiceDefinition


def shadow_schema_of(definition: ServiceDefinition) -> str:
    return f"{definition.schema}_replay"


async def shadow_pool(url: str, shadow: str, size: int, settings: Mapping[str, str] | None = None) -> asyncpg.Pool:
    """Like db.create_pool (the search_path makes the service's SQL land in the shadow), but commits do not
    wait for the disk: a replay that stops halfway is started afresh anyway (--apply copies the rows into
    the live tables in a durable transaction of its own). ``settings``: the policy's ``feed_settings``."""
    pool = await asyncpg.create_pool(
        url,
        min_size=1,
        max_size=size,
        server_settings={
            **(settings or {}),
            "search_path": f"{shadow},public",
            "application_name": f"dondoc-replay-{shadow}",
            "synchronous_commit": "off",
        },
    )
    assert pool is not None
    return pool


class HeldDeadLetters:
    """Stands in for the Kafka producer of the replay's Consumer: its dead letters are not published (the
    Consumer still writes their row to the shadow's dead_letters), only counted."""

    def __init__(self) -> None:
        self.held = 0

    async def send(
        self, topic: str, value: bytes | None = None, key: bytes | None = None, headers: object = None
    ) -> asyncio.Future[None]:
        self.held += 1
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done
