"""Revoked agency tokens, known to every service that reads ``dondoc.directory``.

Tokens are signed (runtime/auth.py), so any service verifies one without a round trip; only the
assignment service knows which were revoked (services/assignment/tokens.py). It publishes each
revocation as TokenRevoked on the compacted directory topic, where nothing supersedes it; here every
consuming service records it in its own ``revoked_tokens`` (runtime migration 004), and its bearer
tokens (auth.current_agency) and intake keys (key id = token id) are refused from then on.

Invariants (tests/unit/test_revocations.py, tests/integration/test_token_revocation.py):
* The revocation is recorded in the transaction of the event's inbox row: exactly once, never lost.
* Recording it never hides the event from the service: its own TokenRevoked handler, else its "*"
  handler (the audit trail), runs after it, in the same transaction.
* A service that starts after the revocation still learns it: a new consumer group reads the topic
  from its first offset, and compaction keeps the ``token:<id>`` key.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import asyncpg

from events.directory import TokenRevoked
from events.envelope import Envelope
from events.topics import DIRECTORY
from services.runtime.consuming import ALL_EVENTS
from services.runtime.unit_of_work import Handler, UnitOfWork

RECORD = """INSERT INTO revoked_tokens (token_id, agency_id, revoked_at) VALUES ($1, $2, $3)
            ON CONFLICT (token_id) DO NOTHING"""


async def record(event: Envelope, uow: UnitOfWork) -> None:
    assert isinstance(event.payload, TokenRevoked)
    revoked = event.payload
    await uow.conn.execute(RECORD, revoked.token_id, revoked.agency_id, revoked.revoked_at)


def consumer_handlers(topics: Collection[str], handlers: Mapping[str, Handler]) -> Mapping[str, Handler]:
    """What a service's consumer runs: a reader of the directory also records revocations."""
    return with_revocations(handlers) if DIRECTORY in topics else handlers


def with_revocations(handlers: Mapping[str, Handler]) -> dict[str, Handler]:
    """``handlers`` with TokenRevoked recorded first, then passed on to whichever of them the consumer
    would have picked for it (``Consumer.handle``: the type's own handler, else the "*" one)."""
    own = handlers.get(TokenRevoked.event_type) or handlers.get(ALL_EVENTS)

    async def on_token_revoked(event: Envelope, uow: UnitOfWork) -> None:
        await record(event, uow)
        if own is not None:
            await own(event, uow)

    return {**handlers, TokenRevoked.event_type: on_token_revoked}


async def is_revoked(db: asyncpg.Connection | asyncpg.Pool, token_id: str) -> bool:
    return bool(await db.fetchval("SELECT true FROM revoked_tokens WHERE token_id = $1", token_id))
