"""People's access tokens: OpenID Connect JWTs, verified against the provider's published keys.

Verification is joserfc's, not ours: signature by a key of the provider's JWKS (only asymmetric
algorithms — ``alg: none`` and HMAC tokens, such as the old agency-token secret could sign, are refused
before any key is tried), then issuer, audience, expiry and not-before. The key set is fetched once
and cached; a token signed with a key id the cache lacks triggers one refresh (the provider rotated its
keys), rate-limited so a flood of forged key ids cannot make us hammer the provider. While the provider
is down, the cached keys keep verifying tokens already issued until they expire.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError, MissingClaimError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
_REFRESH_AT_MOST_EVERY_S = 30.0
_LEEWAY_S = 30
_MAX_TOKEN_CHARS = 16 * 1024


class TokenRefused(ValueError):
    """Why a token was refused, in English and Vietnamese; names nothing but the token's own defect."""

    def __init__(self, en: str, vi: str) -> None:
        super().__init__(en)
        self.en = en
        self.vi = vi


class ProviderUnavailable(RuntimeError):
    """No key set could be had from the provider and none is cached yet."""


@dataclass(frozen=True)
class PersonClaims:
    """Who a verified access token speaks for."""

    subject: str
    person_id: str
    agency_id: str
    roles: frozenset[str]
    name: str
    expires_at: int


class OidcVerifier:
    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        http: httpx.AsyncClient | None = None,
        now: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self._http = http or httpx.AsyncClient(timeout=5)
        self._now = now
        self._monotonic = monotonic
        self._keys: KeySet | None = None
        self._kids: set[str] = set()
        self._jwks_uri: str | None = None
        self._refreshed_at = float("-inf")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def verify(self, token: str) -> PersonClaims:
        header = _header_of(token)
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise TokenRefused(
                f"the token's algorithm {str(alg)[:20]!r} is not accepted (accepted: {', '.join(ALGORITHMS)})",
                "Thuật toán ký của mã truy cập không được chấp nhận",
            )
        keys = await self._keys_for(kid if isinstance(kid, str) else None)
        try:
            decoded = jwt.decode(token, keys, algorithms=list(ALGORITHMS))
        except JoseError as err:
            raise TokenRefused(
                f"the token's signature does not verify ({err.error})", "Chữ ký của mã truy cập không hợp lệ"
            ) from err
        claims = decoded.claims
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self._now()),
            leeway=_LEEWAY_S,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as err:
            raise TokenRefused(_claim_problem(err), "Mã truy cập hết hạn hoặc không dành cho dondoc") from err
        return _person(claims)

    async def _keys_for(self, kid: str | None) -> KeySet:
        known = self._keys is not None and (kid is None or kid in self._kids)
        if known:
            assert self._keys is not None
            return self._keys
        if self._monotonic() - self._refreshed_at >= _REFRESH_AT_MOST_EVERY_S or self._keys is None:
            await self._refresh()
        if self._keys is None:
            raise ProviderUnavailable("the identity provider's keys could not be fetched")
        if kid is not None and kid not in self._kids:
            raise TokenRefused(
                "the token was signed with a key the identity provider does not publish",
                "Mã truy cập được ký bằng khóa không do nhà cung cấp định danh công bố",
            )
        return self._keys

    async def _refresh(self) -> None:
        self._refreshed_at = self._monotonic()
        try:
            if self._jwks_uri is None:
                discovery = await self._http.get(f"{self.issuer}/.well-known/openid-configuration")
                discovery.raise_for_status()
                self._jwks_uri = str(discovery.json()["jwks_uri"])
            response = await self._http.get(self._jwks_uri)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError, KeyError):
            return  # keep the cached keys: tokens already issued go on working while the provider is down
        # Only signing keys of accepted algorithms; an encryption key is no proof of anything here.
        usable = [k for k in document.get("keys", ()) if k.get("use", "sig") == "sig" and k.get("alg") in ALGORITHMS]
        self._keys = KeySet.import_key_set({"keys": usable})
        self._kids = {str(k.get("kid")) for k in usable if k.get("kid")}


def _header_of(token: str) -> dict[str, Any]:
    """The token's protected header, read before any key is chosen; a size cap first (a JWT of a person is
    a few kilobytes; anything far larger is not one)."""
    if len(token) > _MAX_TOKEN_CHARS:
        raise TokenRefused(
            f"the token is longer than {_MAX_TOKEN_CHARS} characters", "Mã truy cập dài quá mức cho phép"
        )
    try:
        return dict(extract_compact(token.encode("ascii")).protected)
    except (JoseError, ValueError, UnicodeError) as err:
        raise TokenRefused("the token is not a JSON Web Token", "Mã truy cập không đúng định dạng JWT") from err


def _claim_problem(err: JoseError) -> str:
    if isinstance(err, ExpiredTokenError):
        return "the token has expired; sign in again"
    if isinstance(err, MissingClaimError):
        return f"the token lacks a required claim ({err.description})"
    return f"the token is not for this system ({err.description})"


def _person(claims: dict[str, Any]) -> PersonClaims:
    person_id, agency_id = claims.get("person_id"), claims.get("agency_id")
    if not isinstance(person_id, str) or not isinstance(agency_id, str) or not person_id or not agency_id:
        raise TokenRefused(
            "the token names no person and agency of the directory (claims person_id, agency_id)",
            "Mã truy cập không gắn với cán bộ và cơ quan trong danh mục",
        )
    realm_roles = claims.get("realm_access", {}).get("roles", [])
    name = " ".join(str(claims.get(k, "")) for k in ("given_name", "family_name")).strip() or person_id
    return PersonClaims(
        subject=str(claims.get("sub", "")),
        person_id=person_id,
        agency_id=agency_id,
        roles=frozenset(r for r in realm_roles if isinstance(r, str)),
        name=name,
        expires_at=int(claims["exp"]),
    )
