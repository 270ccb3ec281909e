"""A person's access token is verified against the provider's published keys, and every defect is a
refusal that says what was wrong (issue: people sign in). The provider here is an in-memory one serving
discovery and a JWKS; the real Keycloak is exercised in tests/integration/test_people_sign_in.py."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from services.runtime.oidc import OidcVerifier, ProviderUnavailable, TokenRefused

ISSUER = "https://id.example.test/realms/dondoc"
AUDIENCE = "dondoc"


class Provider:
    """Discovery + JWKS over an httpx mock transport; counts key-set fetches; can go down."""

    def __init__(self) -> None:
        self.keys = [RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})]
        self.jwks_fetches = 0
        self.down = False

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("provider down", request=request)
        if request.url.path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/certs"})
        self.jwks_fetches += 1
        return httpx.Response(200, json={"keys": [k.as_dict(private=False) for k in self.keys]})

    def verifier(self, now: float | None = None) -> OidcVerifier:
        clock = [0.0]

        def monotonic() -> float:
            clock[0] += 1000  # every call is far apart: refresh rate-limiting is tested on its own
            return clock[0]

        return OidcVerifier(
            ISSUER,
            AUDIENCE,
            http=httpx.AsyncClient(transport=httpx.MockTransport(self.handler)),
            now=(lambda: now) if now is not None else time.time,
            monotonic=monotonic,
        )


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "u-1",
        "iat": now,
        "exp": now + 300,
        "person_id": "p-bd-sgddt-head",
        "agency_id": "bd-sgddt",
        "given_name": "Nguyễn Thị Minh",
        "family_name": "Thảo",
        "realm_access": {"roles": ["head", "offline_access"]},
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: RSAKey, body: dict[str, Any], kid: str = "k1") -> str:
    return jwt.encode({"alg": "RS256", "kid": kid}, body, key)


@pytest.fixture
def provider() -> Provider:
    return Provider()


async def test_a_valid_token_names_the_person_their_agency_and_roles(provider: Provider) -> None:
    person = await provider.verifier().verify(sign(provider.keys[0], claims()))
    assert (person.person_id, person.agency_id) == ("p-bd-sgddt-head", "bd-sgddt")
    assert person.roles == {"head", "offline_access"}
    assert person.name == "Nguyễn Thị Minh Thảo"


# Offsets from the moment the test runs, not from when pytest collected it (minutes earlier in a full run).
HOUR = 3600


@pytest.mark.parametrize(
    ("overrides", "said"),
    [
        ({"exp": -HOUR}, "expired"),
        ({"aud": "another-system"}, "not for this system"),
        ({"iss": "https://evil.example.test/realms/dondoc"}, "not for this system"),
        ({"exp": None}, "lacks a required claim"),
        ({"nbf": HOUR}, "not for this system"),
        ({"person_id": None}, "names no person and agency"),
    ],
    ids=["expired", "wrong-audience", "wrong-issuer", "no-expiry", "not-yet-valid", "no-person"],
)
async def test_a_token_with_bad_claims_is_refused_saying_why(
    provider: Provider, overrides: dict[str, Any], said: str
) -> None:
    now = int(time.time())
    timed = {k: now + v if k in ("exp", "nbf") and v is not None else v for k, v in overrides.items()}
    with pytest.raises(TokenRefused) as refused:
        await provider.verifier().verify(sign(provider.keys[0], claims(**timed)))
    assert said in refused.value.en
    assert refused.value.vi


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_an_unsigned_token_alg_none_is_refused(provider: Provider) -> None:
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims())}."
    with pytest.raises(TokenRefused, match="algorithm"):
        await provider.verifier().verify(token)
    assert provider.jwks_fetches == 0  # refused before any key was looked up


async def test_a_token_signed_with_a_shared_secret_is_refused(provider: Provider) -> None:
    """An HMAC token — what the old agency-token secret could sign — proves nothing about a person."""
    secret = OctKey.import_key(b"dev-only-insecure-secret-of-the-old-scheme")
    token = jwt.encode({"alg": "HS256", "kid": "k1"}, claims(), secret)
    with pytest.raises(TokenRefused, match="algorithm"):
        await provider.verifier().verify(token)


async def test_a_key_id_the_provider_does_not_publish_is_refused(provider: Provider) -> None:
    forged = RSAKey.generate_key(2048, parameters={"kid": "not-published"})
    with pytest.raises(TokenRefused, match="does not publish"):
        await provider.verifier().verify(sign(forged, claims(), kid="not-published"))


async def test_a_forged_signature_under_a_published_key_id_is_refused(provider: Provider) -> None:
    forged = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    with pytest.raises(TokenRefused, match="signature"):
        await provider.verifier().verify(sign(forged, claims()))


@pytest.mark.parametrize(
    "token", ["", "abc", "a.b.c", "ệ.ệ.ệ", "x" * 20_000], ids=["empty", "word", "dots", "unicode", "huge"]
)
async def test_what_is_not_a_jwt_is_refused_not_crashed_on(provider: Provider, token: str) -> None:
    with pytest.raises(TokenRefused):
        await provider.verifier().verify(token)


async def test_a_rotated_key_is_fetched_when_a_token_names_it(provider: Provider) -> None:
    verifier = provider.verifier()
    await verifier.verify(sign(provider.keys[0], claims()))
    new = RSAKey.generate_key(2048, parameters={"kid": "k2", "use": "sig", "alg": "RS256"})
    provider.keys.append(new)
    person = await verifier.verify(sign(new, claims(), kid="k2"))
    assert person.person_id == "p-bd-sgddt-head"
    assert provider.jwks_fetches == 2


async def test_unknown_key_ids_do_not_make_the_verifier_hammer_the_provider(provider: Provider) -> None:
    verifier = OidcVerifier(
        ISSUER, AUDIENCE, http=httpx.AsyncClient(transport=httpx.MockTransport(provider.handler)),
        monotonic=lambda: 5.0,  # time stands still: one refresh allowed in the window, no more
    )  # fmt: skip
    await verifier.verify(sign(provider.keys[0], claims()))
    forged = RSAKey.generate_key(2048, parameters={"kid": "nope"})
    for _ in range(20):
        with pytest.raises(TokenRefused):
            await verifier.verify(sign(forged, claims(), kid="nope"))
    assert provider.jwks_fetches == 1


async def test_tokens_already_issued_keep_working_while_the_provider_is_down(provider: Provider) -> None:
    verifier = provider.verifier()
    await verifier.verify(sign(provider.keys[0], claims()))
    provider.down = True
    person = await verifier.verify(sign(provider.keys[0], claims(sub="u-2")))
    assert person.subject == "u-2"


async def test_with_no_keys_ever_fetched_a_provider_outage_is_said_as_such(provider: Provider) -> None:
    provider.down = True
    with pytest.raises(ProviderUnavailable):
        await provider.verifier().verify(sign(provider.keys[0], claims()))
