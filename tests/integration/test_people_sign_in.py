"""People sign in as themselves through a real OpenID Connect provider (Keycloak, started by the project
like the Kafka broker), provisioned from the directory; their access tokens name them, their agency and
their roles, and verify against the provider's published keys."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio

from deploy.realm import DASHBOARD_CLIENT, Account, accounts_from_directory, realm_document
from services import registry
from services.runtime.oidc import OidcVerifier
from tests.conftest import free_port, running, unique
from tests.identity_kit import REDIRECT, Identity, settings_with_sign_in
from tests.integration.oidc_login import sign_in
from tests.integration.test_assignment_support import body, clock, outbox_events, prepared

pytestmark = pytest.mark.integration

SEED = Path(__file__).resolve().parents[2] / "services" / "assignment" / "seed" / "directory.json"
PEOPLE = (
    "p-bd-sgddt-head",
    "p-bd-sgddt-officer-1",
    "p-bd-thpt-binh-duong-officer-1",
    "p-bd-thpt-binh-duong-head",
    "p-ubnd-bd-head",
)


@pytest.fixture(scope="module")
def people(identity: Identity) -> Identity:
    directory = json.loads(SEED.read_text(encoding="utf-8"))
    identity.add(a for a in accounts_from_directory(directory) if a.person_id in PEOPLE)
    return identity


async def test_an_officer_signs_in_and_the_token_names_them_their_agency_and_role(people: Identity) -> None:
    person = "p-bd-thpt-binh-duong-officer-1"
    tokens = await sign_in(people.url, person, people.passwords[person], REDIRECT)
    claims = await OidcVerifier(people.issuer, "dondoc").verify(tokens["access_token"])
    assert (claims.person_id, claims.agency_id) == (person, "bd-thpt-binh-duong")
    assert "officer" in claims.roles and "head" not in claims.roles
    assert claims.name == "Lâm Thị Thu Phương"


async def test_a_head_carries_the_head_role(people: Identity) -> None:
    person = "p-bd-sgddt-head"
    tokens = await sign_in(people.url, person, people.passwords[person], REDIRECT)
    claims = await OidcVerifier(people.issuer, "dondoc").verify(tokens["access_token"])
    assert "head" in claims.roles


async def test_the_id_token_is_not_accepted_as_an_access_token(people: Identity) -> None:
    """The id token is for the dashboard, not for dondoc's services: its audience is the client."""
    person = "p-bd-sgddt-officer-1"
    tokens = await sign_in(people.url, person, people.passwords[person], REDIRECT)
    with pytest.raises(Exception, match="not for this system"):
        await OidcVerifier(people.issuer, "dondoc").verify(tokens["id_token"])


def _login_page(people: Identity) -> str:
    response = httpx.get(
        f"{people.issuer}/protocol/openid-connect/auth",
        params={
            "client_id": DASHBOARD_CLIENT,
            "response_type": "code",
            "scope": "openid",
            "redirect_uri": REDIRECT,
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
        },
    )
    response.raise_for_status()
    return response.text


def test_the_login_page_speaks_vietnamese(people: Identity) -> None:
    page = _login_page(people)
    assert 'lang="vi"' in page
    assert "Mật khẩu" in page and "Tên đăng nhập" in page


def test_the_dashboard_client_has_no_password_grant(people: Identity) -> None:
    """People sign in on the provider's page only; a client that posts passwords itself is refused."""
    person = "p-bd-sgddt-officer-1"
    response = httpx.post(
        f"{people.issuer}/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": DASHBOARD_CLIENT,
            "username": person,
            "password": people.passwords[person],
        },
    )
    assert response.status_code in (400, 401)
    assert "access_token" not in response.text


async def test_a_wrong_password_is_refused_on_the_login_page(people: Identity) -> None:
    with pytest.raises(AssertionError, match="sign-in refused"):
        await sign_in(people.url, "p-bd-sgddt-officer-1", "not-the-password", REDIRECT)


async def test_a_person_who_left_the_directory_can_no_longer_sign_in(people: Identity) -> None:
    person = "p-bd-thpt-binh-duong-head"
    await sign_in(people.url, person, people.passwords[person], REDIRECT)  # works while active
    people.admin.sync_accounts([replace(people.accounts[person], enabled=False)], people.passwords)
    with pytest.raises(AssertionError, match="sign-in refused"):
        await sign_in(people.url, person, people.passwords[person], REDIRECT)


def test_the_provider_publishes_its_signing_keys_and_issuer(people: Identity) -> None:
    discovery = httpx.get(f"{people.issuer}/.well-known/openid-configuration").json()
    assert discovery["issuer"] == people.issuer
    assert re.search(r"/protocol/openid-connect/certs$", discovery["jwks_uri"])
    assert "S256" in discovery["code_challenge_methods_supported"]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def assignment(people: Identity, settings: Any) -> AsyncIterator[Any]:
    """The assignment service accepting people's access tokens from the provider."""
    await prepared(settings, "ubnd-bd", "bd-sgddt")
    with_people = settings_with_sign_in(settings, people)
    async with running(registry.definition("assignment"), with_people, clock()) as http:
        yield http


async def _bearer_of(people: Identity, person: str) -> dict[str, str]:
    tokens = await sign_in(people.url, person, people.passwords[person], REDIRECT)
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def test_a_head_assigns_and_the_event_names_them_as_well_as_their_agency(
    people: Identity, assignment: Any, settings: Any
) -> None:
    key = unique("k")
    response = await assignment.post(
        "/v1/tasks", json=body(key=key), headers=await _bearer_of(people, "p-ubnd-bd-head")
    )
    assert response.status_code == 201, response.text
    events = await outbox_events(settings.database_url, response.json()["task_id"])
    assert events[0]["actor"] == {"agency_id": "ubnd-bd", "person_id": "p-ubnd-bd-head"}


async def test_an_officer_may_not_assign_for_the_agency(people: Identity, assignment: Any) -> None:
    response = await assignment.post(
        "/v1/tasks", json=body(key=unique("k")), headers=await _bearer_of(people, "p-bd-sgddt-officer-1")
    )
    assert response.status_code == 403
    detail = response.json()["detail"]
    assert detail["code"] == "role-required" and "head" in detail["message"] and detail["message_vi"]


async def test_a_token_that_is_neither_an_agency_token_nor_the_providers_is_401(
    people: Identity, assignment: Any
) -> None:
    forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."  # alg: none
    response = await assignment.post(
        "/v1/tasks", json=body(key=unique("k")), headers={"Authorization": f"Bearer {forged}"}
    )
    assert response.status_code == 401
    assert "algorithm" in response.json()["detail"]["message"]


async def test_the_accounts_follow_the_directory_moves_departures_and_abolished_agencies(
    identity: Identity, tmp_path: Path
) -> None:
    from deploy.identity import demo_passwords, follow_directory

    mover, leaver, abolished = unique("p-mover"), unique("p-leaver"), unique("p-abolished")
    old, new, gone = unique("a-old"), unique("a-new"), unique("a-gone")

    def directory(*, moved: bool, left: bool, abolish: bool) -> dict[str, Any]:
        return {
            "agencies": [
                {"agency_id": old, "tracking_office": False, "active": True},
                {"agency_id": new, "tracking_office": True, "active": True},
                {"agency_id": gone, "tracking_office": False, "active": not abolish},
            ],
            "people": [
                {"person_id": mover, "agency_id": new if moved else old, "full_name": "Trần Văn Chuyển",
                 "role": "officer", "demo": True},
                {"person_id": leaver, "agency_id": old, "full_name": "Lê Thị Nghỉ", "role": "head",
                 "active": not left, "demo": True},
                {"person_id": abolished, "agency_id": gone, "full_name": "Phạm Văn Giải", "role": "head",
                 "demo": True},
            ],
        }  # fmt: skip

    def follow(**change: bool) -> bool:  # the session's realm is shared with other tests: not the whole of it
        return follow_directory(identity.admin, tmp_path, directory(**change), complete=False)

    assert follow(moved=False, left=False, abolish=False)
    assert not follow(moved=False, left=False, abolish=False)
    passwords = demo_passwords(tmp_path, [mover, leaver, abolished])
    verifier = OidcVerifier(identity.issuer, "dondoc")
    ids = {p: _account_id(identity, p) for p in (mover, leaver)}
    session = await sign_in(identity.url, mover, passwords[mover], REDIRECT)
    first = await verifier.verify(session["access_token"])
    assert first.agency_id == old
    leavers_session = await sign_in(identity.url, leaver, passwords[leaver], REDIRECT)

    assert follow(moved=True, left=True, abolish=True)
    # Updated in place, not recreated: the same accounts, and the mover's session goes on with the new claims.
    assert {p: _account_id(identity, p) for p in (mover, leaver)} == ids
    moved = await verifier.verify((await _refreshed(identity, session))["access_token"])
    assert moved.agency_id == new and "tracking" in moved.roles  # the new agency is a tracking office
    assert (await _refreshed(identity, leavers_session, expect=400))["error"] == "invalid_grant"  # signed out
    for person in (leaver, abolished):
        with pytest.raises(AssertionError, match="sign-in refused"):
            await sign_in(identity.url, person, passwords[person], REDIRECT)


def _account_id(identity: Identity, person: str) -> str:
    return str(identity.admin.account(person)["id"])


async def _refreshed(identity: Identity, tokens: dict[str, str], expect: int = 200) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{identity.issuer}/protocol/openid-connect/token",
            data={
                "grant_type": "refresh_token",
                "client_id": DASHBOARD_CLIENT,
                "refresh_token": tokens["refresh_token"],
            },
        )
    assert response.status_code == expect, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_a_machine_callers_request_after_a_persons_names_no_person(
    people: Identity, assignment: Any, settings: Any
) -> None:
    """The in-process client runs both requests in one task: the person must not stick to the next one."""
    head = await assignment.post(
        "/v1/tasks", json=body(key=unique("k")), headers=await _bearer_of(people, "p-ubnd-bd-head")
    )
    assert head.status_code == 201
    agency_token = (await prepared(settings, "ubnd-bd"))["ubnd-bd"].token
    machine = await assignment.post(
        "/v1/tasks", json=body(key=unique("k")), headers={"Authorization": f"Bearer {agency_token}"}
    )
    assert machine.status_code == 201, machine.text
    events = await outbox_events(settings.database_url, machine.json()["task_id"])
    assert events[0]["actor"].get("person_id") is None and events[0]["actor"]["agency_id"] == "ubnd-bd"


async def test_a_person_disabled_or_moved_in_the_directory_is_refused_at_once_though_their_token_lives(
    identity: Identity, assignment: Any, settings: Any
) -> None:
    """Their access token is unexpired and verifies; the directory's word wins on the very next request."""
    person = unique("p-deputy")
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": "assignment"})
    try:
        await conn.execute(
            """INSERT INTO people (person_id, agency_id, full_name, role, active, version, updated_at)
               VALUES ($1, 'ubnd-bd', 'Đỗ Văn Phó', 'deputy', true, 1, now())""",
            person,
        )
        identity.add([Account(person, "ubnd-bd", "Đỗ Văn Phó", None, ("head",))])
        headers = await _bearer_of(identity, person)
        allowed = await assignment.post("/v1/tasks", json=body(key=unique("k")), headers=headers)
        assert allowed.status_code == 201, allowed.text

        for change in ("UPDATE people SET active = false", "UPDATE people SET active = true, agency_id = 'bd-sgddt'"):
            await conn.execute(f"{change} WHERE person_id = $1", person)
            key = unique("k")
            refused = await assignment.post("/v1/tasks", json=body(key=key), headers=headers)
            assert refused.status_code == 401, refused.text
            detail = refused.json()["detail"]
            assert "no longer active" in detail["message"] and "danh bạ" in detail["message_vi"]
            assert not await conn.fetchval("SELECT 1 FROM tasks WHERE idempotency_key = $1", key)  # nothing changed
    finally:
        await conn.close()


async def test_bringing_the_realm_up_to_date_keeps_peoples_roles_and_sessions(people: Identity) -> None:
    """`dondoc up` brings an existing realm up to date on every start (and a test adds a redirect): the
    roles and the dashboard client are updated in place, so nobody loses their roles or their session."""
    person = "p-bd-sgddt-head"
    session = await sign_in(people.url, person, people.passwords[person], REDIRECT)
    people.admin.ensure_realm(realm_document([*people.redirects, f"http://127.0.0.1:{free_port()}/"]))
    verifier = OidcVerifier(people.issuer, "dondoc")
    refreshed = await verifier.verify((await _refreshed(people, session))["access_token"])
    again = await verifier.verify(
        (await sign_in(people.url, person, people.passwords[person], REDIRECT))["access_token"]
    )
    assert "head" in refreshed.roles and "head" in again.roles
