"""LISTEN/NOTIFY that outlives a PostgreSQL restart: one connection of its own, reconnected with backoff.

A LISTEN lives on one server connection. When PostgreSQL restarts, fails over or terminates the backend,
that connection is gone and, unless someone reconnects and listens again, the process waits forever for
wake-ups that never come (issue 17: alerts' deliveries did, after a PostgreSQL restart).

* Not a pooled connection: a LISTEN must stay on its connection, and it would hold a pool slot for good.
* A lost connection is seen two ways: asyncpg's termination callback (the server closed it), and a
  ``SELECT 1`` every ``check_every_s`` (a peer that vanished without closing, as after a network cut).
* Reconnects wait 0.5 s, then twice as long each time, up to ``max_backoff_s``; a connection that
  worked starts the count again.
* Notifications sent while nobody listened are gone for good: ``on_connect`` runs after every (re)connect,
  once the channels are listened to, so the owner looks again for work that may have arrived meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg

from services.runtime.logs import get_logger

log = get_logger(__name__)

# asyncpg's notification callback: (connection, server pid, channel, payload).
OnNotify = Callable[[Any, int, str, str], None]


class Listener:
    def __init__(
        self,
        database_url: str,
        channels: Mapping[str, OnNotify],
        *,
        name: str,
        on_connect: Callable[[], None] | None = None,
        first_backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
        check_every_s: float = 15.0,
    ) -> None:
        self._url = database_url
        self._channels = dict(channels)
        self._name = name
        self._on_connect = on_connect
        self._first_backoff_s = first_backoff_s
        self._max_backoff_s = max_backoff_s
        self._check_every_s = check_every_s
        self.connected = asyncio.Event()  # set while listening
        self.connections = 0  # how many times it connected (1 + reconnects), for tests and the drills
        self.backend_pid: int | None = None

    async def run(self) -> None:
        """Listens until cancelled, reconnecting as often as it takes."""
        backoff = self._first_backoff_s
        while True:
            try:
                conn = await asyncpg.connect(self._url, server_settings={"application_name": f"dondoc-{self._name}"})
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                log.warning(
                    "listener cannot connect; retrying", listener=self._name, error=repr(exc), retry_in_s=backoff
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)
                continue
            try:
                if await self._listen(conn):
                    backoff = self._first_backoff_s
            finally:
                self.connected.clear()
                self.backend_pid = None
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 2.0)
            log.warning("listener lost its connection; reconnecting", listener=self._name, retry_in_s=backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff_s)

    async def _listen(self, conn: asyncpg.Connection) -> bool:
        """Listens on ``conn`` until it is lost; False if it was lost before listening began."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            for channel, callback in self._channels.items():
                await conn.add_listener(channel, callback)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("listener could not listen", listener=self._name, error=repr(exc))
            return False
        self.connections += 1
        self.backend_pid = conn.get_server_pid()
        self.connected.set()
        if self.connections > 1:
            log.info("listener listens again", listener=self._name, channels=sorted(self._channels))
        if self._on_connect is not None:
            self._on_connect()
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), self._check_every_s)
            if lost.is_set() or conn.is_closed():
                break
            try:
                await asyncio.wait_for(conn.execute("SELECT 1"), self._check_every_s)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                break
        return True
