"""Agency tokens, and the one bearer-token dependency of every service.

A token is ``dd1.<payload>.<signature>``: the payload (base64url JSON: agency_id ``a``, token_id ``t``,
issued_at ``i``, expires_at ``e``) signed with HMAC-SHA256 under ``DONDOC_TOKEN_SECRET``. Any service
verifies it without a round trip; the issuing service stores only its hash (assignment/tokens.py).

A token is refused (401, the same bilingual body everywhere) when it is missing where required,
malformed (non-ASCII or oversized included), signed with another secret, expired, revoked or of an
agency no longer active. Expired: at ``e`` by the service's clock; a token issued before tokens
carried an expiry (no ``e``) expires ``DEFAULT_TTL`` after its ``i``. Revoked/inactive: what the service's
``token_standing`` says (ServiceDefinition): by default the revocations every reader of
``dondoc.directory`` keeps (runtime/revocations.py); the assignment service asks its own token table.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeAlias

import asyncpg
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from events.roles import Action
from services.runtime import people, revocations
from services.runtime.access import Principal, require, viewer_of
from services.runtime.oidc import ProviderUnavailable, TokenRefused
from services.runtime.refusals import Refused, unauthorized

PREFIX = "dd1"
DEFAULT_TTL = timedelta(days=90)
MAX_TOKEN_CHARS = 1024  # a real one is ~150; anything longer is not ours and is not hashed or decoded
MAX_BEARER_CHARS = 16 * 1024  # any bearer: a person's access token (a JWT) is a kilobyte or two
_bearer = HTTPBearer(
    auto_error=False,
    description="A person's OpenID Connect access token, or an agency token (`dondoc token issue AGENCY_ID`) "
    "for machine callers",
)

AgencyPrincipal = Principal  # the name callers knew; a principal is an agency until person sign-in


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), f"{PREFIX}.{payload}".encode(), hashlib.sha256).digest())


def issue(secret: str, agency_id: str, issued_at: datetime, ttl: timedelta = DEFAULT_TTL) -> tuple[str, Principal]:
    token_id = secrets.token_hex(8)
    body = {"a": agency_id, "t": token_id, "i": issued_at.isoformat(), "e": (issued_at + ttl).isoformat()}
    payload = _b64(json.dumps(body).encode())
    return f"{PREFIX}.{payload}.{_sign(secret, payload)}", Principal(agency_id=agency_id, token_id=token_id)


def expires_at(token: str) -> datetime:
    """When a (verified) token stops working."""
    data = json.loads(_unb64(token.split(".")[1]))
    if "e" in data:
        return datetime.fromisoformat(data["e"])
    return datetime.fromisoformat(data["i"]) + DEFAULT_TTL


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class InvalidToken(ValueError):
    message_vi = "Mã xác thực không hợp lệ hoặc bị thiếu: cần mã xác thực của cơ quan (Authorization: Bearer <token>)"

    def refusal(self) -> Refused:
        return unauthorized(str(self), self.message_vi)


class ExpiredToken(InvalidToken):
    def __init__(self, expired: datetime) -> None:
        super().__init__(f"the token expired at {expired.isoformat()}; ask for a new one (`dondoc token issue`)")
        self.message_vi = f"Mã xác thực đã hết hạn lúc {expired.isoformat()}; hãy đề nghị cấp mã mới"


class RevokedToken(InvalidToken):
    def __init__(self, principal: Principal) -> None:
        agency = principal.agency_id
        super().__init__(f"the token was revoked; ask for a new one (`dondoc token issue {agency}`)")
        self.message_vi = f"Mã xác thực đã bị thu hồi; hãy đề nghị cấp mã mới (dondoc token issue {agency})"


class InactiveAgency(RevokedToken):
    def __init__(self, principal: Principal) -> None:
        agency = principal.agency_id
        InvalidToken.__init__(
            self, f"the token's agency {agency} is no longer active (abolished or merged); its successor acts now"
        )
        self.message_vi = f"Cơ quan {agency} đã ngừng hoạt động (giải thể hoặc sáp nhập); cơ quan kế thừa thực hiện"


class PersonTokenRefused(InvalidToken):
    """A person's access token that does not verify (expired, wrong audience or issuer, unknown key…)."""

    def __init__(self, refused: TokenRefused) -> None:
        super().__init__(refused.en)
        self.message_vi = refused.vi


class DepartedPerson(InvalidToken):
    """A signed-in person the directory no longer has where their token says: they left, were disabled, or
    moved to another agency. Their token verifies (it has not expired) but no longer counts."""

    def __init__(self) -> None:
        super().__init__(
            "the signed-in person is no longer active in this agency in the directory (left, disabled or moved); "
            "sign in again, or ask the directory administrator"
        )
        self.message_vi = (
            "Cán bộ đăng nhập không còn hoạt động tại cơ quan này theo danh bạ (đã nghỉ, bị khóa hoặc đã chuyển "
            "cơ quan); hãy đăng nhập lại hoặc liên hệ người quản trị danh bạ"
        )


class UnissuedToken(RevokedToken):
    def __init__(self, principal: Principal) -> None:
        InvalidToken.__init__(self, "the token was not issued by this installation, or was revoked")
        self.message_vi = "Mã xác thực không do hệ thống cấp hoặc đã bị thu hồi"


def verify(secret: str, token: str, now: datetime | None = None) -> Principal:
    """The principal a token names, if its signature is this installation's (and, given ``now``, it has
    not expired); ``InvalidToken`` otherwise, never another exception, whatever the text."""
    if len(token) > MAX_TOKEN_CHARS or not token.isascii():
        raise InvalidToken("the token is not a dondoc agency token (it is not short ASCII text)")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise InvalidToken(f"the token is not a dondoc agency token (expected '{PREFIX}.<payload>.<signature>')")
    if not hmac.compare_digest(_sign(secret, parts[1]).encode(), parts[2].encode()):
        raise InvalidToken("the token's signature is invalid (wrong token, or issued for another installation)")
    try:
        data = json.loads(_unb64(parts[1]))
        principal = Principal(agency_id=str(data["a"]), token_id=str(data["t"]))
        expiry = expires_at(token)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidToken("the token's payload is unreadable") from exc
    if now is not None and now >= expiry:
        raise ExpiredToken(expiry)
    return principal


Db: TypeAlias = asyncpg.Pool | asyncpg.Connection
TokenStanding = Callable[[Db, str, Principal], Awaitable[InvalidToken | None]]
"""Why a verified token no longer counts (revoked, agency inactive, not issued), or None."""
PersonStanding = Callable[[Db, str], Awaitable[tuple[str, bool] | None]]
"""A person's (agency now, still active) in the directory as the service knows it; None: never heard of."""


async def person_refusal(db: Db, principal: Principal, standing: PersonStanding | None = None) -> InvalidToken | None:
    """A signed-in person's token counts only while the directory has them active in the token's agency.

    Asked on every request, like a revoked agency token: one primary-key read, so no cache stands between
    the directory's change and the refusal. A person the service never heard of passes: the provider, fed
    from the same directory, vouched for them, and a service still reading the directory must not lock
    everyone out; what the directory says about them, once read, wins over the token."""
    assert principal.person_id is not None
    return _person_refusal(principal, await (standing or revocations.person_standing)(db, principal.person_id))


def _person_refusal(principal: Principal, known: tuple[str, bool] | None) -> InvalidToken | None:
    if known is not None and (known[0] != principal.agency_id or not known[1]):
        return DepartedPerson()
    return None


async def revocations_standing(db: Db, _token: str, principal: Principal) -> InvalidToken | None:
    # The revocation is the assignment service's; this service knows it once it has consumed the
    # TokenRevoked event (typically well under a second after `dondoc token revoke`): until then, the
    # token still works here. Checked on every request, so no token outlives that delay.
    return _revocation_refusal(principal, *await revocations.standing(db, principal.token_id, principal.agency_id))


def _revocation_refusal(principal: Principal, revoked: bool, inactive: bool) -> InvalidToken | None:
    if revoked:
        return RevokedToken(principal)
    return InactiveAgency(principal) if inactive else None


async def verify_unrevoked(
    secret: str, db: Db, token: str, now: datetime | None = None, standing: TokenStanding | None = None
) -> Principal:
    """``verify``, then refused if the token no longer stands (by default: revoked or its agency inactive,
    as this service has read them)."""
    principal = verify(secret, token, now)
    if reason := await (standing or revocations_standing)(db, token, principal):
        raise reason
    return principal


def _is_persons(settings: Any, token: str) -> bool:
    """A person's OpenID Connect access token (people.py), not an agency token: any bearer but ``dd1.…``
    when the installation names a provider."""
    return not token.startswith(f"{PREFIX}.") and bool(settings.oidc_issuer)


async def verified(request: Request, token: str) -> Principal:
    """``principal_of`` without the standing: an agency token's signature and expiry, or the identity
    provider's word on a person's; ``InvalidToken`` (or a 503 ``Refused``) otherwise. No database read."""
    rt = request.app.state.runtime
    if not _is_persons(rt.settings, token):
        return verify(rt.settings.token_secret, token, rt.clock.now())
    try:
        return await people.principal_of(request.app, rt.settings, token)
    except TokenRefused as exc:
        raise PersonTokenRefused(exc) from exc
    except ProviderUnavailable as exc:
        raise Refused(
            "identity-provider-unavailable",
            "the identity provider cannot be reached to check this sign-in; try again shortly",
            "Không kết nối được hệ thống đăng nhập để kiểm tra phiên làm việc; hãy thử lại sau ít phút",
            503,
            {"Retry-After": "30"},
        ) from exc


async def principal_of(request: Request, token: str) -> Principal:
    """The token's principal as this service judges it now; ``InvalidToken`` if it does not count.

    An agency token (``dd1.…``) is a machine caller's; any other bearer token is taken for a person's
    OpenID Connect access token when the installation names a provider (people.py)."""
    rt = request.app.state.runtime
    persons = _is_persons(rt.settings, token)
    if not persons:
        # A machine caller acts for its agency alone: no person of an earlier request in this context (an
        # in-process client runs requests in its own task) may be stamped on what this one causes.
        people.acting_person.set(None)
    principal = await verified(request, token)
    if not persons:
        standing = rt.definition.token_standing or revocations_standing
        if reason := await standing(rt.pool, token, principal):
            raise reason
        return principal
    if reason := await revocations_standing(rt.pool, token, principal) or await person_refusal(
        rt.pool, principal, rt.definition.person_standing
    ):
        raise reason
    people.acting_person.set(principal)
    return principal


async def standings(
    db: Db,
    settings: Any,
    verified_tokens: Sequence[tuple[str, Principal]],
    token_standing: TokenStanding | None = None,
    person_standing: PersonStanding | None = None,
) -> list[InvalidToken | None]:
    """The standing half of ``principal_of`` for many (token, its ``verified`` principal) at once, by the
    same rules, in one read of the revocations and one of the people's standing for all of them (a
    service with its own ``token_standing``/``person_standing``, such as assignment, asks it per token).
    Each answer: why that token no longer counts, or None."""
    persons = [_is_persons(settings, token) for token, _ in verified_tokens]
    answers: list[InvalidToken | None] = [None] * len(verified_tokens)
    by_revocations = [i for i, p in enumerate(persons) if p or token_standing is None]
    if by_revocations:
        keys = [(verified_tokens[i][1].token_id, verified_tokens[i][1].agency_id) for i in by_revocations]
        for i, (revoked, inactive) in zip(by_revocations, await revocations.standings(db, keys), strict=True):
            answers[i] = _revocation_refusal(verified_tokens[i][1], revoked, inactive)
    for i, (token, principal) in enumerate(verified_tokens):
        if not persons[i] and token_standing is not None:
            answers[i] = await token_standing(db, token, principal)
    signed_in = [i for i, p in enumerate(persons) if p and answers[i] is None]
    if signed_in and person_standing is not None:
        for i in signed_in:
            answers[i] = await person_refusal(db, verified_tokens[i][1], person_standing)
    elif signed_in:
        known = await revocations.person_standings(db, [str(verified_tokens[i][1].person_id) for i in signed_in])
        for i in signed_in:
            principal = verified_tokens[i][1]
            assert principal.person_id is not None
            answers[i] = _person_refusal(principal, known.get(principal.person_id))
    return answers


async def current_agency(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """FastAPI dependency: the agency the request acts for, or 401 with a clear message."""
    if credentials is None:
        raise unauthorized(
            "missing 'Authorization: Bearer <agency token>' header; get one with `dondoc token issue AGENCY_ID`",
            InvalidToken.message_vi,
        )
    try:
        return await principal_of(request, credentials.credentials)
    except InvalidToken as exc:
        raise exc.refusal() from exc


CurrentAgency = Annotated[Principal, Depends(current_agency)]


def needs(action: Action) -> Any:
    """A route dependency: the caller's principal (as ``CurrentAgency``, verified once per request) must be
    allowed ``action`` by its roles (access.require); used as ``dependencies=[needs(Action.X)]``."""

    async def check(principal: CurrentAgency) -> None:
        require(principal, action)

    check.action = action  # type: ignore[attr-defined]  # read by action_of: the role matrix finds it here
    return Depends(check)


def action_of(route: Any) -> Action | None:
    """The action a route declared with ``needs`` (None if it declared none)."""
    for dependency in getattr(route, "dependencies", ()):
        if (action := getattr(dependency.dependency, "action", None)) is not None:
            return action  # type: ignore[no-any-return]
    return None


async def optional_agency(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal | None:
    """FastAPI dependency for reads open to all that show more to an agency (the secret tasks it is
    involved in): None without a token, 401 for an invalid one (never silently treated as absent)."""
    if credentials is None:
        people.acting_person.set(None)
        return None
    return await current_agency(request, credentials)


OptionalAgency = Annotated[Principal | None, Depends(optional_agency)]
"""The agency of the request's token, if it has one."""


async def optional_viewer(agency: OptionalAgency) -> str | None:
    """For reads that filter rows by the access rule: the agency id whose secret tasks they may add."""
    return viewer_of(agency)


Viewer = Annotated[str | None, Depends(optional_viewer)]
"""The agency id of the request's token, if it has one (a bad token is a 401, never read as none)."""


async def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    """The raw bearer token, unjudged, for a route that passes it on to the service that judges it; only
    refused here when it cannot be a token at all (it could not even be sent on)."""
    if credentials is None:
        return None
    token = credentials.credentials
    if len(token) > MAX_BEARER_CHARS or not token.isascii():
        raise InvalidToken("the bearer token is not a token (it is not short ASCII text)").refusal()
    return token


BearerToken = Annotated[str | None, Depends(bearer_token)]
