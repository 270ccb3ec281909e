"""Agency tokens as the assignment service honours them: signed (services/runtime/auth.py) *and* issued.

``issue_token`` stores only the token's SHA-256; the assignment service accepts a bearer token when
its signature is valid, it has not expired, its hash is on record and not revoked, and its agency is
active (``standing``, this service's ``token_standing``; the dependency is runtime/auth.py's, as
everywhere). The record is what lets one leaked token be revoked without changing the installation's
secret; the revocation is published (TokenRevoked) in the same transaction, so the other services,
which verify tokens and intake keys without this table, refuse it too (services/runtime/revocations.py).
Each token also names an intake signing key (events/intake.py): key id = token id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from events.directory import TokenRevoked
from events.envelope import Actor
from events.intake import signing_key
from services.runtime import auth
from services.runtime.access import Principal
from services.runtime.auth import CurrentAgency, InvalidToken, OptionalAgency, UnissuedToken
from services.runtime.refusals import not_found
from services.runtime.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class IssuedToken:
    agency_id: str
    token_id: str
    token: str
    intake_key: str  # hex; the agency signs intake commands with it (key id = token_id)
    expires_at: datetime


async def issue_token(
    conn: asyncpg.Connection,
    *,
    secret: str,
    agency_id: str,
    now: datetime,
    label: str = "",
    ttl: timedelta = auth.DEFAULT_TTL,
) -> IssuedToken:
    if not await conn.fetchval("SELECT active FROM agencies WHERE agency_id = $1", agency_id):
        raise not_found("active agency", "cơ quan đang hoạt động", agency_id, "unknown-agency")
    token, principal = auth.issue(secret, agency_id, now, ttl)
    await conn.execute(
        "INSERT INTO agency_tokens (token_id, agency_id, token_hash, label, issued_at) VALUES ($1, $2, $3, $4, $5)",
        principal.token_id,
        agency_id,
        auth.token_hash(token),
        label,
        now,
    )
    key = signing_key(secret, agency_id, principal.token_id).hex()
    return IssuedToken(agency_id, principal.token_id, token, key, now + ttl)


async def revoke_token(uow: UnitOfWork, token_id: str, actor: Actor) -> bool:
    """Revoke a live token (and its intake key) and publish TokenRevoked in the same transaction;
    False when no live token has this id (nothing is published)."""
    row = await uow.conn.fetchrow(
        "UPDATE agency_tokens SET revoked_at = $2 WHERE token_id = $1 AND revoked_at IS NULL "
        "RETURNING agency_id, revoked_at",
        token_id,
        uow.clock.now(),
    )
    if row is None:
        return False
    revoked = TokenRevoked(token_id=token_id, agency_id=row["agency_id"], revoked_at=row["revoked_at"])
    await uow.emit(revoked, actor=actor, key=f"token:{token_id}", id_parts=("token", token_id))
    return True


@dataclass(frozen=True)
class ListedToken:
    """An agency token as listed: its id and dates, never the token nor its hash."""

    token_id: str
    agency_id: str
    label: str
    issued_at: datetime
    revoked_at: datetime | None


async def tokens_of(conn: asyncpg.Connection | asyncpg.Pool, agency_id: str) -> list[ListedToken]:
    rows = await conn.fetch(
        "SELECT token_id, agency_id, label, issued_at, revoked_at FROM agency_tokens WHERE agency_id = $1 "
        "ORDER BY issued_at",
        agency_id,
    )
    return [ListedToken(**r) for r in rows]


async def key_is_live(conn: asyncpg.Connection, agency_id: str, token_id: str) -> bool:
    """The intake key id names a token of this agency that is not revoked."""
    return bool(
        await conn.fetchval(
            "SELECT true FROM agency_tokens WHERE token_id = $1 AND agency_id = $2 AND revoked_at IS NULL",
            token_id,
            agency_id,
        )
    )


async def standing(db: auth.Db, token: str, principal: Principal) -> InvalidToken | None:
    """The assignment service's ``token_standing``: its own record, not the revocations read back from
    Kafka. One answer for not issued, revoked and inactive agency: a caller learns nothing from which."""
    row = await db.fetchrow(
        """SELECT t.revoked_at, a.active FROM agency_tokens t JOIN agencies a USING (agency_id)
           WHERE t.token_id = $1 AND t.token_hash = $2 AND t.agency_id = $3""",
        principal.token_id,
        auth.token_hash(token),
        principal.agency_id,
    )
    if row is None or row["revoked_at"] is not None or not row["active"]:
        return UnissuedToken(principal)
    return None


async def person_standing(db: auth.Db, person_id: str) -> tuple[str, bool] | None:
    """The assignment service's ``person_standing``: its own directory, the one the others read back from
    Kafka; a person of an abolished agency no longer stands either."""
    row = await db.fetchrow(
        """SELECT p.agency_id, p.active AND a.active AS active FROM people p JOIN agencies a USING (agency_id)
           WHERE p.person_id = $1""",
        person_id,
    )
    return None if row is None else (row["agency_id"], bool(row["active"]))


ActingAgency = CurrentAgency
"""The agency an HTTP write acts for: 401 without a valid, issued, unexpired, unrevoked token."""
ReadingAgency = OptionalAgency
"""For reads: anonymous callers see public tasks; a bad token is still an error, never ignored."""
