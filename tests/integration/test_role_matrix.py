"""The roles dimension of the authorization matrix: every write route of every service declares the action
it is (events/roles.py), and a signed-in person holding one role is refused exactly the actions that role
does not allow — judged by the real services with real access tokens from the session's provider.

The route × agency × task dimensions are test_authorization_matrix.py's; a machine caller (agency token)
has no role and is judged there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from fastapi.routing import APIRoute

from deploy.realm import Account
from events.roles import PERMISSIONS, Action, Role
from events.topics import SERVICES
from services import registry
from services.runtime.auth import action_of
from services.runtime.service import create_app
from services.runtime.settings import Settings
from tests.conftest import eventually, running, unique
from tests.identity_kit import REDIRECT, Identity, settings_with_sign_in
from tests.integration.oidc_login import sign_in
from tests.integration.test_assignment_support import clock, prepared

pytestmark = pytest.mark.integration

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Route:
    path: str
    methods: frozenset[str]
    action: Action | None
    params: tuple[str, ...]


def routes(service: str) -> list[Route]:
    """Every route of the service as it serves it (FastAPI keeps included routers' routes apart)."""
    app = create_app(registry.definition(service), Settings(audit_key="x" * 32, token_secret="x" * 32))
    found = []
    for item in app.routes:
        served = [item] if isinstance(item, APIRoute) else list(getattr(item, "effective_route_contexts", list)())
        for r in served:
            found.append(Route(r.path, frozenset(r.methods or ()), action_of(r), tuple(r.param_convertors)))
    return found


# What each write route is, judged here rather than read from the route: a route declaring the wrong action
# (a withdrawal that only needs an officer's role) fails, and so does a new write route nobody judged.
EXPECTED: dict[tuple[str, str, str], Action] = {
    ("assignment", "POST", "/v1/tasks"): Action.ASSIGN,
    ("assignment", "POST", "/v1/tasks/{task_id}/delegations"): Action.DELEGATE,
    ("assignment", "POST", "/v1/tasks/{task_id}/extensions"): Action.REQUEST_EXTENSION,
    ("assignment", "POST", "/v1/tasks/{task_id}/extensions/{request_id}/decision"): Action.DECIDE_EXTENSION,
    ("assignment", "POST", "/v1/tasks/{task_id}/withdrawal"): Action.WITHDRAW,
    ("assignment", "PUT", "/v1/directory/agencies/{agency_id}"): Action.ADMINISTER_DIRECTORY,
    ("assignment", "PUT", "/v1/directory/people/{person_id}"): Action.ADMINISTER_DIRECTORY,
    ("assignment", "PUT", "/v1/directory/groups/{group_id}"): Action.ADMINISTER_DIRECTORY,
    ("assignment", "PUT", "/v1/directory/reorganisations/{reorganisation_id}"): Action.ADMINISTER_DIRECTORY,
    ("progress", "POST", "/v1/tasks/{task_id}/progress"): Action.REPORT_PROGRESS,
    ("progress", "POST", "/v1/tasks/{task_id}/complete"): Action.REPORT_COMPLETION,
    ("progress", "POST", "/v1/tasks/{task_id}/confirm"): Action.CONFIRM_COMPLETION,
    ("progress", "POST", "/v1/tasks/{task_id}/return"): Action.RETURN_COMPLETION,
    ("progress", "POST", "/v1/tasks/{task_id}/notes"): Action.REPORT_PROGRESS,
    ("progress", "PUT", "/v1/tasks/{task_id}/reminders"): Action.ASSIGN,
    # The dashboard's relays (services/reporting/dashboard_actions.py) judge the role before relaying.
    ("reporting", "POST", "/v1/reports/tasks/{task_id}/progress"): Action.REPORT_PROGRESS,
    ("reporting", "POST", "/v1/reports/tasks/{task_id}/complete"): Action.REPORT_COMPLETION,
    ("reporting", "POST", "/v1/reports/tasks/{task_id}/confirm"): Action.CONFIRM_COMPLETION,
    ("reporting", "POST", "/v1/reports/tasks/{task_id}/return"): Action.RETURN_COMPLETION,
    ("reporting", "POST", "/v1/reports/tasks/{task_id}/extensions/{request_id}/decision"): Action.DECIDE_EXTENSION,
    ("alerts", "POST", "/v1/alerts/{alert_id}/ack"): Action.ACKNOWLEDGE_ALERT,
    ("alerts", "PUT", "/v1/alerts/webhook"): Action.ADMINISTER_DIRECTORY,
    ("alerts", "PUT", "/v1/alerts/contacts/{person_id}/email"): Action.ADMINISTER_DIRECTORY,
    ("alerts", "POST", "/v1/alerts/deliveries/{delivery_id}/retry"): Action.ADMINISTER_DIRECTORY,
}


def test_every_write_route_declares_the_action_this_table_says_it_is() -> None:
    declared = {
        (service, method, route.path): route.action
        for service in SERVICES
        for route in routes(service)
        for method in route.methods & WRITES
    }
    assert declared, "no write route found at all: the walk over the services' routes is wrong"
    assert declared == EXPECTED


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tokens(identity: Identity, settings: Any) -> dict[str, str]:
    """One signed-in person per role, all of one agency (UBND tỉnh Bình Định), each holding that role alone."""
    await prepared(settings, "ubnd-bd")
    people = {role: Account(unique(f"p-{role}"), "ubnd-bd", "Người Thử Vai Trò", None, (str(role),)) for role in Role}
    identity.add(people.values())
    signed = {}
    for role, account in people.items():
        answer = await sign_in(identity.url, account.person_id, identity.passwords[account.person_id], REDIRECT)
        signed[str(role)] = answer["access_token"]
    return signed


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def services(identity: Identity, settings: Any) -> AsyncIterator[dict[str, Any]]:
    with_people = settings_with_sign_in(settings, identity)
    clients: dict[str, Any] = {}
    async with running(registry.definition("assignment"), with_people, clock()) as assignment:
        clients["assignment"] = assignment
        async with running(registry.definition("progress"), with_people, clock()) as progress:
            clients["progress"] = progress
            async with running(registry.definition("alerts"), with_people, clock()) as alerts:
                clients["alerts"] = alerts
                yield clients


def _path(route: Route) -> str:
    return route.path.format(**{name: f"role-matrix-{name}" for name in route.params})


async def test_a_person_is_refused_exactly_the_actions_their_role_does_not_allow(
    tokens: dict[str, str], services: dict[str, Any]
) -> None:
    wrong = []
    for service, http in services.items():
        for route in routes(service):
            action = route.action
            if action is None:
                continue
            for method in route.methods & WRITES:
                for role, token in tokens.items():
                    response = await http.request(
                        method, _path(route), json={}, headers={"Authorization": f"Bearer {token}"}
                    )
                    refused = response.status_code == 403 and '"role-required"' in response.text
                    allowed = role in PERMISSIONS[action]
                    if refused == allowed:
                        wrong.append(f"{role} {method} {service}{route.path} ({action}): {response.status_code}")
    assert wrong == [], "role answers that contradict events/roles.py:\n" + "\n".join(wrong)


async def test_a_person_is_judged_by_their_agency_too_another_agencys_secret_task_is_not_theirs(
    identity: Identity, settings: Any, services: dict[str, Any]
) -> None:
    """The role is not all: a head of a sibling department (Sở Tài chính) may neither confirm nor decide on
    a secret task of Sở GDĐT, and neither they nor its officer may read it — it answers as a missing task —
    while an officer of the lead agency reads it."""
    issued = await prepared(settings, "ubnd-bd")
    created = await services["assignment"].post(
        "/v1/tasks",
        headers={"Authorization": f"Bearer {issued['ubnd-bd'].token}"},
        json={
            "title": "Nhiệm vụ mật thử vai trò",
            "source_document": {"number": "131/NQ-CP", "issued_on": "2022-10-06", "issuer": "Chính phủ"},
            "lead_agency_id": "bd-sgddt",
            "deadline": "Tháng 3/2023",
            "classification": "mat",
            "idempotency_key": unique("k"),
        },
    )
    assert created.status_code == 201, created.text
    task = created.json()["task_id"]
    people = {
        "lead officer": Account(unique("p-sgddt-officer"), "bd-sgddt", "Người Chủ Trì", None, ("officer",)),
        "sibling head": Account(unique("p-stc-head"), "bd-stc", "Người Cơ Quan Khác", None, ("head",)),
        "sibling officer": Account(unique("p-stc-officer"), "bd-stc", "Người Cơ Quan Khác", None, ("officer",)),
    }
    identity.add(people.values())
    bearer = {}
    for who, account in people.items():
        signed = await sign_in(identity.url, account.person_id, identity.passwords[account.person_id], REDIRECT)
        bearer[who] = {"Authorization": f"Bearer {signed['access_token']}"}

    async def the_lead_reads_it() -> bool:
        return (await services["progress"].get(f"/v1/tasks/{task}", headers=bearer["lead officer"])).status_code == 200

    await eventually(the_lead_reads_it, timeout=60, what="the progress service to read the secret task")
    for who in ("sibling head", "sibling officer"):
        for service in ("progress", "assignment"):
            read = await services[service].get(f"/v1/tasks/{task}", headers=bearer[who])
            assert (read.status_code, read.json()["detail"]["code"]) == (404, "task-not-found"), (who, service)
            assert "mật thử" not in read.text
    confirm = await services["progress"].post(f"/v1/tasks/{task}/confirm", json={}, headers=bearer["sibling head"])
    decide = await services["assignment"].post(
        f"/v1/tasks/{task}/extensions/any/decision", json={"decision": "approve"}, headers=bearer["sibling head"]
    )
    for answer in (confirm, decide):
        assert (answer.status_code, answer.json()["detail"]["code"]) == (404, "task-not-found"), answer.text


async def test_a_person_the_directory_marks_as_left_is_refused_by_a_service_that_reads_the_directory(
    identity: Identity, settings: Any, services: dict[str, Any]
) -> None:
    """The progress service knows people only from dondoc.directory (runtime/revocations.py records their
    standing): once it has read the departure, the person's unexpired token is a 401 there too."""
    admin = {"Authorization": f"Bearer {(await prepared(settings, 'ubnd-bd'))['ubnd-bd'].token}"}
    person = unique("p-leaving")
    fields = {"agency_id": "ubnd-bd", "full_name": "Hồ Văn Rời", "role": "officer"}
    assert (await services["assignment"].put(f"/v1/directory/people/{person}", json=fields, headers=admin)).is_success
    identity.add([Account(person, "ubnd-bd", "Hồ Văn Rời", None, ("officer",))])
    signed = await sign_in(identity.url, person, identity.passwords[person], REDIRECT)
    bearer = {"Authorization": f"Bearer {signed['access_token']}"}
    assert (await services["progress"].get("/v1/worklist", headers=bearer)).status_code == 200

    left = await services["assignment"].put(
        f"/v1/directory/people/{person}", json={**fields, "active": False}, headers=admin
    )
    assert left.is_success, left.text

    async def refused() -> dict[str, Any] | None:
        answer = await services["progress"].get("/v1/worklist", headers=bearer)
        return answer.json()["detail"] if answer.status_code == 401 else None

    detail = await eventually(refused, timeout=60, what="the progress service to read the departure")
    assert "no longer active" in detail["message"] and "danh bạ" in detail["message_vi"]
