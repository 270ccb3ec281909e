"""Run a coroutine to completion from synchronous code, wherever that code is called from."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` that also works when the caller is itself inside a running event loop.

    The deploy API is synchronous because the CLI calls it, but tests and services may call it from
    async code, where ``asyncio.run`` refuses to nest; there the coroutine gets its own loop in a
    worker thread (blocking the caller, which is acceptable for start/stop operations).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="deploy-sync") as pool:
        return pool.submit(asyncio.run, coro).result()
