"""Revoked agency tokens, known to every service that reads ``dondoc.directory``.

Tokens are signed (runtime/auth.py), so any service verifies one without a round trip; only the
assignment service knows which were revoked (services/assignment/tokens.py). It publishes each
revocation as TokenRevoked on the compacted directory topic, where nothing supersedes it; here every
consuming service records it in its own ``revoked_tokens`` (runtime migration 004), and its bearer
tokens (auth.current_agency) and intake keys (key id = token id) are refused from then on.

An agency no longer active (abolished, merged: AgencyChanged with ``active = false``) is kept the same
way in ``inactive_agencies`` (migration 005): its tokens and keys are refused too, as assignment does.

A person's standing (PersonChanged: their agency now, whether still active) is kept in ``person_standing``
(migration 009): a signed-in person who left, was disabled or moved is refused on their next request, though
their access token has not expired (runtime/auth.py).

Invariants (tests/unit/test_revocations.py, tests/integration/test_token_revocation.py):
* The revocation is recorded in the transaction of the event's inbox row: exactly once, never lost.
* Recording it never hides the event from the service: its own TokenRevoked (AgencyChanged) handler,
  else its "*" handler (the audit trail), runs after it, in the same transaction.
* A service that starts after the revocation still learns it: a new consumer group reads the topic
  from its first offset, and compaction keeps the ``token:<id>`` key.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import asyncpg

from events.directory import AgencyChanged, PersonChanged, TokenRevoked
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


async def record_agency(event: Envelope, uow: UnitOfWork) -> None:
    assert isinstance(event.payload, AgencyChanged)
    agency = event.payload
    if agency.active:
        await uow.conn.execute("DELETE FROM inactive_agencies WHERE agency_id = $1", agency.agency_id)
    else:
        await uow.conn.execute(
            "INSERT INTO inactive_agencies (agency_id) VALUES ($1) ON CONFLICT DO NOTHING", agency.agency_id
        )


async def record_person(event: Envelope, uow: UnitOfWork) -> None:
    assert isinstance(event.payload, PersonChanged)
    person = event.payload
    # Versions only go up: a replayed older state never brings back someone who left.
    await uow.conn.execute(
        """INSERT INTO person_standing (person_id, agency_id, active, version) VALUES ($1, $2, $3, $4)
           ON CONFLICT (person_id) DO UPDATE
           SET agency_id = EXCLUDED.agency_id, active = EXCLUDED.active, version = EXCLUDED.version
           WHERE person_standing.version <= EXCLUDED.version""",
        person.person_id,
        person.agency_id,
        person.active,
        person.version,
    )


def consumer_handlers(topics: Collection[str], handlers: Mapping[str, Handler]) -> Mapping[str, Handler]:
    """What a service's consumer runs: a reader of the directory also records revocations."""
    return with_revocations(handlers) if DIRECTORY in topics else handlers


def with_revocations(handlers: Mapping[str, Handler]) -> dict[str, Handler]:
    """``handlers`` with TokenRevoked, AgencyChanged and PersonChanged recorded first, then passed on to whichever of
    them the consumer would have picked (``Consumer.handle``: the type's own handler, else the "*" one)."""
    return {
        **handlers,
        TokenRevoked.event_type: _then(record, handlers.get(TokenRevoked.event_type) or handlers.get(ALL_EVENTS)),
        AgencyChanged.event_type: _then(
            record_agency, handlers.get(AgencyChanged.event_type) or handlers.get(ALL_EVENTS)
        ),
        PersonChanged.event_type: _then(
            record_person, handlers.get(PersonChanged.event_type) or handlers.get(ALL_EVENTS)
        ),
    }


def _then(first: Handler, own: Handler | None) -> Handler:
    async def both(event: Envelope, uow: UnitOfWork) -> None:
        await first(event, uow)
        if own is not None:
            await own(event, uow)

    return both


async def standing(db: asyncpg.Connection | asyncpg.Pool, token_id: str, agency_id: str) -> tuple[bool, bool]:
    """(revoked, agency inactive) for a token or intake key, in one round trip: asked on every request."""
    row = await db.fetchrow(
        """SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE token_id = $1) AS revoked,
                  EXISTS (SELECT 1 FROM inactive_agencies WHERE agency_id = $2) AS inactive""",
        token_id,
        agency_id,
    )
    assert row is not None
    return bool(row["revoked"]), bool(row["inactive"])


async def standings(db: asyncpg.Connection | asyncpg.Pool, keys: Sequence[tuple[str, str]]) -> list[tuple[bool, bool]]:
    """``standing`` of each (token id, agency id), in their order, in one round trip (many open streams
    asked again together)."""
    rows = await db.fetch(
        """SELECT EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.token_id = k.token_id) AS revoked,
                  EXISTS (SELECT 1 FROM inactive_agencies a WHERE a.agency_id = k.agency_id) AS inactive
           FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k (token_id, agency_id, n)
           ORDER BY k.n""",
        [token_id for token_id, _ in keys],
        [agency_id for _, agency_id in keys],
    )
    return [(bool(r["revoked"]), bool(r["inactive"])) for r in rows]


async def person_standings(
    db: asyncpg.Connection | asyncpg.Pool, person_ids: Sequence[str]
) -> dict[str, tuple[str, bool]]:
    """``person_standing`` of many people in one round trip; those never read are absent."""
    rows = await db.fetch(
        "SELECT person_id, agency_id, active FROM person_standing WHERE person_id = ANY($1::text[])", list(person_ids)
    )
    return {r["person_id"]: (r["agency_id"], bool(r["active"])) for r in rows}


async def person_standing(db: asyncpg.Connection | asyncpg.Pool, person_id: str) -> tuple[str, bool] | None:
    """(agency now, still active) of a person as this service read the directory; None if never read."""
    row = await db.fetchrow("SELECT agency_id, active FROM person_standing WHERE person_id = $1", person_id)
    return None if row is None else (row["agency_id"], bool(row["active"]))
