"""Agency tokens as the assignment service honours them: signed (services/runtime/auth.py) *and* issued.

``issue_token`` stores only the token's SHA-256; the HTTP dependency ``ActingAgency`` accepts a bearer
token when its signature is valid, its hash is on record and not revoked, and its agency is active.
The record is what lets one leaked token be revoked without changing the installation's secret; the
revocation is published (TokenRevoked) in the same transaction, so the other services, which verify
tokens and intake keys without this table, refuse it too (services/runtime/revocations.py).
Each token also names an intake signing key (events/intake.py): key id = token id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from events.directory import TokenRevoked
from events.envelope import Actor
from events.intake import signing_key
from services.assignment.errors import not_found
from services.runtime import auth
from services.runtime.auth import AgencyPrincipal, InvalidToken
from services.runtime.service import runtime_of
from services.runtime.unit_of_work import UnitOfWork

_bearer = HTTPBearer(auto_error=False, description="Agency token from `dondoc token issue AGENCY_ID`")


@dataclass(frozen=True)
class IssuedToken:
    agency_id: str
    token_id: str
    token: str
    intake_key: str  # hex; the agency signs intake commands with it (key id = token_id)


async def issue_token(conn: asyncpg.Connection, *, secret: str, agency_id: str, now: datetime,
                      label: str = "") -> IssuedToken:
    if not await conn.fetchval("SELECT active FROM agencies WHERE agency_id = $1", agency_id):
        raise not_found("active agency", "cơ quan đang hoạt động", agency_id, "unknown-agency")
    token, principal = auth.issue(secret, agency_id, now)
    await conn.execute(
        "INSERT INTO agency_tokens (token_id, agency_id, token_hash, label, issued_at) "
        "VALUES ($1, $2, $3, $4, $5)",
        principal.token_id, agency_id, auth.token_hash(token), label, now,
    )
    key = signing_key(secret, agency_id, principal.token_id).hex()
    return IssuedToken(agency_id, principal.token_id, token, key)


async def revoke_token(uow: UnitOfWork, token_id: str, actor: Actor) -> bool:
    """Revoke a live token (and its intake key) and publish TokenRevoked in the same transaction;
    False when no live token has this id (nothing is published)."""
    row = await uow.conn.fetchrow(
        "UPDATE agency_tokens SET revoked_at = $2 WHERE token_id = $1 AND revoked_at IS NULL "
        "RETURNING agency_id, revoked_at",
        token_id, uow.clock.now(),
    )
    if row is None:
        return False
    revoked = TokenRevoked(token_id=token_id, agency_id=row["agency_id"], revoked_at=row["revoked_at"])
    await uow.emit(revoked, actor=actor, key=f"token:{token_id}", id_parts=("token", token_id))
    return True


async def tokens_of(conn: asyncpg.Connection | asyncpg.Pool, agency_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT token_id, agency_id, label, issued_at, revoked_at FROM agency_tokens WHERE agency_id = $1 "
        "ORDER BY issued_at", agency_id,
    )
    return [dict(r) for r in rows]


async def key_is_live(conn: asyncpg.Connection, agency_id: str, token_id: str) -> bool:
    """The intake key id names a token of this agency that is not revoked."""
    return bool(await conn.fetchval(
        "SELECT true FROM agency_tokens WHERE token_id = $1 AND agency_id = $2 AND revoked_at IS NULL",
        token_id, agency_id,
    ))


def _unauthorized(message: str, message_vi: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, {"code": "unauthorized", "message": message, "message_vi": message_vi},
        headers={"WWW-Authenticate": "Bearer"},
    )


async def _principal(request: Request, credentials: HTTPAuthorizationCredentials | None) -> AgencyPrincipal:
    if credentials is None:
        raise _unauthorized("missing 'Authorization: Bearer <agency token>' header; get one with "
                            "`dondoc token issue AGENCY_ID`",
                            "Thiếu mã xác thực của cơ quan (Authorization: Bearer <token>)")
    rt = runtime_of(request)
    try:
        principal = auth.verify(rt.settings.token_secret, credentials.credentials)
    except InvalidToken as exc:
        raise _unauthorized(str(exc), "Mã xác thực của cơ quan không hợp lệ") from exc
    row = await rt.pool.fetchrow(
        """SELECT t.revoked_at, a.active FROM agency_tokens t JOIN agencies a USING (agency_id)
           WHERE t.token_id = $1 AND t.token_hash = $2 AND t.agency_id = $3""",
        principal.token_id, auth.token_hash(credentials.credentials), principal.agency_id,
    )
    if row is None or row["revoked_at"] is not None or not row["active"]:
        why = ("was not issued by this installation" if row is None
               else "was revoked" if row["revoked_at"] is not None
               else "belongs to an agency that is no longer active")
        raise _unauthorized(f"the token {why}", "Mã xác thực đã bị thu hồi hoặc không do hệ thống cấp")
    return principal


async def acting_agency(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> AgencyPrincipal:
    return await _principal(request, credentials)


async def optional_agency(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> AgencyPrincipal | None:
    """For reads: anonymous callers see public tasks; a bad token is still an error, never ignored."""
    return None if credentials is None else await _principal(request, credentials)


ActingAgency = Annotated[AgencyPrincipal, Depends(acting_agency)]
"""The agency an HTTP write acts for: 401 without a valid, issued, unrevoked token."""
ReadingAgency = Annotated[AgencyPrincipal | None, Depends(optional_agency)]
