"""Agency tokens: every HTTP write acts as the agency its bearer token names.

A token is ``dd1.<payload>.<signature>``: the payload (base64url JSON: agency_id, token_id,
issued_at) signed with HMAC-SHA256 under ``DONDOC_TOKEN_SECRET``. Any service verifies it
without a round trip; the issuing service stores only its hash (``token_hash``). A revoked token is
refused too: every service that reads ``dondoc.directory`` keeps the revocations (runtime/revocations.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import datetime
from typing import Annotated

import asyncpg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from services.runtime import revocations

PREFIX = "dd1"
_bearer = HTTPBearer(auto_error=False, description="Agency token from `dondoc token issue AGENCY_ID`")


class AgencyPrincipal(BaseModel):
    agency_id: str
    token_id: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), f"{PREFIX}.{payload}".encode(), hashlib.sha256).digest())


def issue(secret: str, agency_id: str, issued_at: datetime) -> tuple[str, AgencyPrincipal]:
    token_id = secrets.token_hex(8)
    payload = _b64(json.dumps({"a": agency_id, "t": token_id, "i": issued_at.isoformat()}).encode())
    return f"{PREFIX}.{payload}.{_sign(secret, payload)}", AgencyPrincipal(agency_id=agency_id, token_id=token_id)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class InvalidToken(ValueError):
    message_vi = "Thiếu hoặc sai mã xác thực của cơ quan (Authorization: Bearer <token>)"


class RevokedToken(InvalidToken):
    def __init__(self, principal: AgencyPrincipal) -> None:
        agency = principal.agency_id
        super().__init__(f"the token was revoked; ask for a new one (`dondoc token issue {agency}`)")
        self.message_vi = f"Mã xác thực đã bị thu hồi; hãy đề nghị cấp mã mới (dondoc token issue {agency})"


class InactiveAgency(RevokedToken):
    def __init__(self, principal: AgencyPrincipal) -> None:
        agency = principal.agency_id
        InvalidToken.__init__(
            self, f"the token's agency {agency} is no longer active (abolished or merged); its successor acts now"
        )
        self.message_vi = f"Cơ quan {agency} đã ngừng hoạt động (giải thể hoặc sáp nhập); cơ quan kế thừa thực hiện"


def verify(secret: str, token: str) -> AgencyPrincipal:
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise InvalidToken(f"the token is not a dondoc agency token (expected '{PREFIX}.<payload>.<signature>')")
    if not hmac.compare_digest(_sign(secret, parts[1]), parts[2]):
        raise InvalidToken("the token's signature is invalid (wrong token, or issued for another installation)")
    try:
        data = json.loads(_unb64(parts[1]))
        return AgencyPrincipal(agency_id=data["a"], token_id=data["t"])
    except (ValueError, KeyError) as exc:
        raise InvalidToken("the token's payload is unreadable") from exc


async def verify_unrevoked(secret: str, db: asyncpg.Pool | asyncpg.Connection, token: str) -> AgencyPrincipal:
    """``verify``, then refused (``RevokedToken``) if this service has read the token's revocation, or
    (``InactiveAgency``) that its agency is no longer active."""
    principal = verify(secret, token)
    # The revocation is the assignment service's; this service knows it once it has consumed the
    # TokenRevoked event (typically well under a second after `dondoc token revoke`): until then, the
    # token still works here. Checked on every request, so no token outlives that delay.
    revoked, inactive = await revocations.standing(db, principal.token_id, principal.agency_id)
    if revoked:
        raise RevokedToken(principal)
    if inactive:
        raise InactiveAgency(principal)
    return principal


def _unauthorized(message: str, message_vi: str = InvalidToken.message_vi) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        {"code": "unauthorized", "message": message, "message_vi": message_vi},
        headers={"WWW-Authenticate": "Bearer"},
    )


async def current_agency(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> AgencyPrincipal:
    """FastAPI dependency: the agency the request acts for, or 401 with a clear message."""
    if credentials is None:
        raise _unauthorized("missing 'Authorization: Bearer <agency token>' header")
    rt = request.app.state.runtime
    try:
        return await verify_unrevoked(rt.settings.token_secret, rt.pool, credentials.credentials)
    except InvalidToken as exc:
        raise _unauthorized(str(exc), exc.message_vi) from exc


CurrentAgency = Annotated[AgencyPrincipal, Depends(current_agency)]


async def optional_agency(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> AgencyPrincipal | None:
    """FastAPI dependency for reads open to all that show more to an agency: None without a token,
    401 for an invalid or revoked one (never silently treated as absent)."""
    if credentials is None:
        return None
    return await current_agency(request, credentials)


OptionalAgency = Annotated[AgencyPrincipal | None, Depends(optional_agency)]
"""The agency of the request's token, if it has one."""
