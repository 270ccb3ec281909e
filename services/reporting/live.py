"""Keeps ``live`` (the journal summed up to one day) on the domain clock's today.

Unfinished tasks cross into overdue, and from one ageing band into the next, at midnight: the
journal has those moves on their days in advance, and moving ``live`` to a new day adds that day's
journal rows (``live_roll`` in migrations/002, under a lock that handlers share). A summary never
depends on this loop having run: for any other day it adds the journal's days in between itself.
"""

from __future__ import annotations

import asyncio
from datetime import date

import asyncpg

from events.clock import VN_TZ
from services.runtime.logs import get_logger
from services.runtime.service import Runtime

log = get_logger(__name__)


async def roll(pool: asyncpg.Pool, day: date) -> bool:
    """Move live to the end of ``day``; False when it was already there."""
    async with pool.acquire() as conn:
        if await conn.fetchval("SELECT day FROM live_day") == day:
            return False  # the common case, without taking the lock handlers share
        async with conn.transaction():
            return bool(await conn.fetchval("SELECT live_roll($1)", day))


async def keep_live_day(rt: Runtime) -> None:
    """Background task: roll live to today at start and whenever the domain clock passes midnight."""
    while True:
        try:
            today = rt.clock.now().astimezone(VN_TZ).date()
            if await roll(rt.pool, today):
                log.info("live figures moved to a new day", day=today.isoformat())
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # database away: summaries still add the days in between themselves
            log.warning("could not move the live figures", error=repr(exc))
        await asyncio.sleep(rt.settings.timer_poll_interval_s)
