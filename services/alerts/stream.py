"""Server-sent events: each person's in-app stream, live and resumable.

* Resumable: the SSE ``id`` is the entry's ``seq``; a client reconnecting with ``Last-Event-ID: N``
  gets every entry after N (see inapp.py for why none can be skipped), then the live ones.
* Live across replicas: entries are written by whichever replica handled the event; PostgreSQL
  NOTIFY (sent at commit) wakes the streams of that person on every replica, which then read from
  the table. A lost notification only delays an entry to the next keep-alive, which re-reads too.
* Authorised while open, not only when opened: the route hands ``events`` a re-check (``Recheck``) that
  it runs at each keep-alive and before sending entries after a wake, at most once every
  ``RECHECK_EVERY_S``. Once it refuses (the token revoked, its agency abolished, the person now in
  another agency), the stream ends with one ``refused`` event carrying the refusal (what the 401/403
  of an opening would say) and sends nothing more. So once the service knows of the refusal, an entry
  goes out for at most ``RECHECK_EVERY_S`` more, and an idle stream ends at its next keep-alive
  (tests/integration/test_alerts_access.py).
* Through a database outage: a stream whose reads fail ends cleanly, with one ``unavailable`` event (the
  bilingual body of a 503, and ``retry`` set to its Retry-After), never cut mid-message; a reconnect is
  answered 503 with Retry-After (services/runtime/outages.py) until the database is back, and then
  ``Last-Event-ID`` resumes with no gap (tests/integration/test_alerts_stream_outage.py).
* Cheap when many wake together: one commit may wake hundreds of streams at once. Their reads are
  gathered (runtime/coalescing.py) into one statement for all of them (``inapp.entries_after_many``, each
  with its own cursor), and so are their re-checks (routes.still_readable), instead of a few round trips
  per stream on a pool shared with the consumer. Each stream still reads after its own cursor and asks its
  own re-check; an answer is read after the question was asked, never older than one asked alone.
* Framing is sse-starlette's (``EventSourceResponse``); the keep-alives stay ours, because each one is also
  a re-check and a re-read.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import asyncpg
from sse_starlette import ServerSentEvent

from services.alerts import inapp
from services.runtime import outages
from services.runtime.coalescing import Gathered
from services.runtime.consuming import INFRA_ERRORS
from services.runtime.logs import get_logger

log = get_logger(__name__)

Recheck = Callable[[], Awaitable[Mapping[str, Any] | None]]
"""Asked again while a stream is open: None while its reader may still read it, else why not (the body
of the final ``refused`` event)."""
RECHECK_EVERY_S = 1.0  # at most this often (entries may wake a stream many times a second)
RETRY_MS = 2000  # when a browser reconnects after a stream ends
READ_LIMIT = 500  # entries per read; a stream that got this many reads again at once

Entry = tuple[int, str, str]  # (seq, kind, JSON data)
Read = tuple[asyncpg.Pool, str, int]  # (pool, person, after): what a stream asks for


async def _read_together(reads: Sequence[Read]) -> list[list[Entry]]:
    """Each stream's entries after its cursor, one statement per pool (there is one, but for tests running
    several services in a process)."""
    answers: list[list[Entry]] = [[] for _ in reads]
    by_pool: dict[int, list[int]] = {}
    for i, (pool, _, _) in enumerate(reads):
        by_pool.setdefault(id(pool), []).append(i)
    for indexes in by_pool.values():
        cursors = [(reads[i][1], reads[i][2]) for i in indexes]
        read = await inapp.entries_after_many(reads[indexes[0]][0], cursors, READ_LIMIT)
        for i, entries in zip(indexes, read, strict=True):
            answers[i] = entries
    return answers


def _frame(**fields: Any) -> ServerSentEvent:
    return ServerSentEvent(sep="\n", **fields)  # "\n", as the stream always was (the spec allows all three)


def _unavailable() -> ServerSentEvent:
    """The last event of a stream whose database went away: what a reconnect would be answered now."""
    refused = outages.unavailable()
    body = json.dumps({"status": refused.status_code, **refused.detail()}, ensure_ascii=False)
    return _frame(event="unavailable", data=body, retry=outages.RETRY_AFTER_S * 1000)


class StreamSlot:
    """One of the streams a token may hold open (``StreamHub.reserve``), released once: by the stream when
    it ends, or, should the stream never start (the client gone before its first byte), when dropped."""

    def __init__(self, held: dict[str, int], key: str) -> None:
        self._held, self._key, self._released = held, key, False

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        self._held[self._key] -= 1
        if not self._held[self._key]:
            del self._held[self._key]

    def __del__(self) -> None:
        self.release()


class StreamHub:
    """Wakes the open streams of a person when an entry for them commits, and counts each token's."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._held: dict[str, int] = {}
        self._reads: Gathered[Read, list[Entry]] = Gathered(_read_together)

    def reserve(self, token_id: str, limit: int) -> StreamSlot | None:
        """A slot for one more open stream of this token, or None when it holds ``limit`` already (per
        replica: a cap against one token exhausting a process, not a global quota)."""
        if self._held.get(token_id, 0) >= limit:
            return None
        self._held[token_id] = self._held.get(token_id, 0) + 1
        return StreamSlot(self._held, token_id)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, person_id: str) -> None:
        for event in self._waiters.get(person_id, ()):
            event.set()

    def _wake_all(self) -> None:
        for events in self._waiters.values():
            for event in events:
                event.set()

    async def listen(self, database_url: str, server_settings: dict[str, str]) -> None:
        """Runs until cancelled, on its own connection (LISTEN must not hold a pooled one)."""
        while True:
            try:
                conn = await asyncpg.connect(database_url, server_settings=server_settings)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("stream listener cannot connect; retrying", error=repr(exc))
                await asyncio.sleep(1.0)
                continue
            try:
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await conn.add_listener(inapp.NOTIFY_CHANNEL, self._on_notify)
                self._wake_all()  # entries may have committed while we were not listening
                await lost.wait()
                log.warning("stream listener lost its connection; reconnecting")
            finally:
                await conn.close()

    async def events(
        self,
        pool: asyncpg.Pool,
        person_id: str,
        after: int,
        keepalive_s: float,
        recheck: Recheck | None = None,
        slot: StreamSlot | None = None,
    ) -> AsyncIterator[ServerSentEvent]:
        """SSE events for ``person_id`` after seq ``after``, until ``recheck`` refuses the reader (then a
        last ``refused`` event) or the database goes away (then a last ``unavailable`` event), else
        forever (the server cancels on disconnect). ``slot`` is released at the end."""
        wake = asyncio.Event()
        self._waiters[person_id].add(wake)
        gate = _Gate(recheck)
        try:
            yield _frame(retry=RETRY_MS)
            async for event in self._entries(pool, person_id, after, keepalive_s, wake, gate):
                yield event
        except INFRA_ERRORS as exc:  # raised only by the reads: a frame is never cut, the stream ends whole
            log.warning("stream ends: the database is unreachable", error=repr(exc))
            yield _unavailable()
        finally:
            if slot is not None:
                slot.release()
            self._waiters[person_id].discard(wake)
            if not self._waiters[person_id]:
                del self._waiters[person_id]

    async def _entries(
        self, pool: asyncpg.Pool, person_id: str, after: int, keepalive_s: float, wake: asyncio.Event, gate: _Gate
    ) -> AsyncIterator[ServerSentEvent]:
        while True:
            wake.clear()
            entries = await self._reads.ask((pool, person_id, after))
            if entries and (refused := await gate.refused()):
                yield refused
                return
            for seq, kind, data in entries:
                after = seq
                yield _frame(id=str(seq), event=kind, data=data)
            if len(entries) >= READ_LIMIT:
                continue  # more may be waiting behind these
            # Fewer: the read saw every entry committed before it began, and one committed since has set
            # ``wake`` again (cleared before the read), so waiting misses nothing.
            try:
                await asyncio.wait_for(wake.wait(), keepalive_s)
            except TimeoutError:
                if refused := await gate.refused():
                    yield refused
                    return
                yield _frame(comment="keep-alive")


class _Gate:
    """A stream's re-check, run at most once every ``RECHECK_EVERY_S`` (the route checked at opening)."""

    def __init__(self, recheck: Recheck | None) -> None:
        self._recheck, self._checked = recheck, time.monotonic()

    async def refused(self) -> ServerSentEvent | None:
        """The final ``refused`` frame if the reader may no longer read; None to go on."""
        if self._recheck is None or time.monotonic() - self._checked < RECHECK_EVERY_S:
            return None
        self._checked = time.monotonic()  # what the check reads is the state from now on
        refusal = await self._recheck()
        if refusal is None:
            return None
        log.info("stream refused while open", code=refusal.get("code"))
        return _frame(event="refused", data=json.dumps(dict(refusal), ensure_ascii=False))
