"""The authorization matrix: every HTTP route of every service × who asks × which task, with the outcome the
access rule (services/runtime/access.py) gives, checked against the five services running together on the
real broker and database.

Who asks, relative to a task the Government (``cp``) assigned to a department (``bd-sgddt``, the lead):
``none`` (no token), ``own`` (the lead: involved), ``parent`` (the province above it, not involved),
``child`` (a unit below it), ``unrelated`` (another department), ``revoked`` and ``expired`` (tokens of the
lead that no longer count). Which task: a public one and a secret (mật) one, alike but for that.

``ROUTES`` judges each route once by the kind of thing it serves (``Verdict``); ``expected`` turns that
into the outcome of each cell. The table is generated from each service's OpenAPI: a route with no row
fails ``test_every_route_of_every_service_has_a_row``, so a new route cannot ship unjudged. Besides the
status, every cell checks that an answer to anyone not involved holds nothing of the secret task (its
code, title and document carry a marker searched for in every body), and that a hidden task answers
exactly as a task that does not exist. Intake commands run the same handlers as these routes:
``INTAKE_ROWS`` names the route each one is judged through, and a test checks the dispatch uses them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
import pytest
import pytest_asyncio

from events.clock import VN_TZ, ManualClock
from events.intake import ASSIGNMENT_COMMANDS, PROGRESS_COMMANDS
from services import registry
from services.assignment import provision
from services.assignment.tokens import issue_token
from services.runtime import auth
from services.runtime.service import create_app
from services.runtime.settings import Settings
from tests.conftest import eventually, running, unique

pytestmark = pytest.mark.integration

NOW = datetime(2022, 11, 25, 9, 0, tzinfo=VN_TZ)
ASSIGNER, OWN, PARENT, CHILD, UNRELATED = "cp", "bd-sgddt", "ubnd-bd", "bd-sgddt-vp", "bd-stc"
SIBLING_UNIT = "bd-sgddt-pkhtc"  # another unit below the lead, given delegated work
PRINCIPALS = ("none", "own", "parent", "child", "unrelated", "revoked", "expired")
TASKS = ("public", "secret")
SERVICES = ("assignment", "progress", "alerts", "reporting", "audit")


class Verdict(Enum):
    OPEN = "open: no task data, answers anyone"
    OPTIONAL = "open, shows more to some tokens: a token, if sent, must count"
    TASK_READ = "task read: public to all, secret to the involved only, else as a missing task"
    LISTING = "listing: answers all; secret rows only to the involved"
    TASK_WRITE = "task write: token required; not involved: refused (public) or as a missing task (secret)"
    PERSON = "a person's alerts or contact: their own agency only"
    AGENCY = "the caller's own agency's things: any valid token, each sees its own"
    DIRECTORY_ADMIN = "directory change below the lead: its agency or one above it"
    DIRECTORY_DECISION = "reorganisation of agencies below the lead: past the access rule for it or one above it"
    RELAYED = "passed on with the caller's token to the service that owns it (its own row), which judges it"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    json: Any = None
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    """What the rows act on: the running services, the tokens, the tasks."""

    http: dict[str, httpx.AsyncClient]
    tokens: dict[str, str]
    pairs: dict[str, dict[str, str]]  # a route's own pair of tasks (writes change them): kind -> task id
    markers: dict[str, str]  # kind -> the marker in that kind's code, title and document
    person: str  # a person of the lead agency
    stranger: str  # a person nobody knows


def _task(world: World, route: str, kind: str) -> str:
    return world.pairs[route][kind]


def _build(path: str, body: Callable[[World, str], Any] | None = None, **params: str) -> Callable[..., Call]:
    """A row's request: ``{task_id}`` and friends filled in for the task kind."""

    def call(world: World, route: str, method: str, kind: str, task_id: str | None = None) -> Call:
        tid = task_id or (_task(world, route, kind) if "{task_id}" in path else "")
        filled = path.format(
            task_id=tid,
            request_id="no-such-request",
            alert_id="00000000-0000-4000-8000-000000000000",
            delivery_id="00000000-0000-4000-8000-000000000000",
            person_id=world.person,
            new_person=unique("p-matrix"),
            agency_id=f"{OWN}-{unique('unit')}",
            group_id=unique("nhom"),
            reorganisation_id=unique("reorg"),
        )
        values = {k: v.format(marker=world.markers[kind], person=world.person) for k, v in params.items()}
        return Call(method, filled, body(world, kind) if body else None, values)

    return call


def _delegation(world: World, kind: str) -> dict[str, Any]:
    # To a unit below the lead that is none of the principals: the child principal stays uninvolved.
    return {"children": [{"lead_agency_id": SIBLING_UNIT}], "idempotency_key": unique("k")}


def _unit(world: World, kind: str) -> dict[str, Any]:
    return {"name": f"Phòng thử nghiệm {unique('n')}", "level": "don-vi", "parent_id": OWN}


def _person(world: World, kind: str) -> dict[str, Any]:
    return {"agency_id": OWN, "full_name": "Nguyễn Văn Thử", "role": "officer"}


def _group(world: World, kind: str) -> dict[str, Any]:
    return {"name": f"Nhóm thử nghiệm {unique('n')}", "kind": "all", "member_ids": [CHILD, SIBLING_UNIT]}


def _decision(world: World, kind: str) -> dict[str, Any]:
    return {
        "kind": "merge",
        "decision": {"number": "1/2099/QH", "issued_on": "2099-01-01", "issuer": "Quốc hội"},
        "effective_on": "2099-01-01",
        "agencies": [{"agency_id": SIBLING_UNIT, "successor_id": CHILD}],
    }


def _json(value: Any) -> Callable[[World, str], Any]:
    return lambda _world, _kind: value


ROUTES: dict[tuple[str, str, str], tuple[Verdict, Callable[..., Call]]] = {
    # Every service's health and metrics: nothing of any task.
    **{
        (service, "GET", path): (Verdict.OPEN, _build(path))
        for service in SERVICES
        for path in ("/healthz", "/readyz", "/metrics")
    },
    # assignment
    ("assignment", "POST", "/v1/tasks"): (
        Verdict.AGENCY,
        _build(
            "/v1/tasks",
            _json(
                {
                    "title": "x",
                    "source_document": {"number": "1/x", "issued_on": "2022-10-06", "issuer": "x"},
                    "lead_agency_id": "no-such-agency",
                    "deadline": "Tháng 3/2023",
                    "idempotency_key": "matrix-unknown-lead",
                }
            ),
        ),
    ),
    ("assignment", "GET", "/v1/tasks"): (Verdict.LISTING, _build("/v1/tasks", code="MAT-{marker}")),
    ("assignment", "GET", "/v1/tasks/{task_id}"): (Verdict.TASK_READ, _build("/v1/tasks/{task_id}")),
    ("assignment", "POST", "/v1/tasks/{task_id}/delegations"): (
        Verdict.TASK_WRITE,
        _build("/v1/tasks/{task_id}/delegations", _delegation),
    ),
    ("assignment", "POST", "/v1/tasks/{task_id}/extensions"): (
        Verdict.TASK_WRITE,
        _build(
            "/v1/tasks/{task_id}/extensions",
            _json({"proposed_due": "Tháng 6/2023", "reason": "Chờ số liệu", "idempotency_key": "matrix"}),
        ),
    ),
    ("assignment", "GET", "/v1/tasks/{task_id}/extensions"): (
        Verdict.TASK_READ,
        _build("/v1/tasks/{task_id}/extensions"),
    ),
    ("assignment", "POST", "/v1/tasks/{task_id}/extensions/{request_id}/decision"): (
        Verdict.TASK_WRITE,
        _build(
            "/v1/tasks/{task_id}/extensions/{request_id}/decision", _json({"decision": "reject", "reason": "Không"})
        ),
    ),
    ("assignment", "POST", "/v1/tasks/{task_id}/withdrawal"): (
        Verdict.TASK_WRITE,
        _build("/v1/tasks/{task_id}/withdrawal", _json({"reason": "Không còn phù hợp"})),
    ),
    ("assignment", "PUT", "/v1/directory/agencies/{agency_id}"): (
        Verdict.DIRECTORY_ADMIN,
        _build("/v1/directory/agencies/{agency_id}", _unit),
    ),
    ("assignment", "GET", "/v1/directory/agencies/{agency_id}"): (
        Verdict.OPEN,
        _build(f"/v1/directory/agencies/{OWN}"),
    ),
    ("assignment", "PUT", "/v1/directory/people/{person_id}"): (
        Verdict.DIRECTORY_ADMIN,
        _build("/v1/directory/people/{new_person}", _person),
    ),
    ("assignment", "GET", "/v1/directory/people/{person_id}"): (
        Verdict.OPTIONAL,
        _build("/v1/directory/people/{person_id}"),
    ),
    ("assignment", "PUT", "/v1/directory/groups/{group_id}"): (
        Verdict.DIRECTORY_ADMIN,
        _build("/v1/directory/groups/{group_id}", _group),
    ),
    ("assignment", "GET", "/v1/directory/groups/{group_id}"): (
        Verdict.OPEN,
        _build("/v1/directory/groups/g-bd-so-nganh"),
    ),
    # A decision dated in the future: an admin reaches the rule, which refuses it, so no agency is abolished.
    ("assignment", "PUT", "/v1/directory/reorganisations/{reorganisation_id}"): (
        Verdict.DIRECTORY_DECISION,
        _build("/v1/directory/reorganisations/{reorganisation_id}", _decision),
    ),
    ("assignment", "GET", "/v1/extensions/awaiting-decision"): (
        Verdict.AGENCY,
        _build("/v1/extensions/awaiting-decision"),
    ),
    ("assignment", "GET", "/v1/directory/match"): (Verdict.OPEN, _build("/v1/directory/match", name="Sở Tài chính")),
    # progress
    **{
        ("progress", method, f"/v1/tasks/{{task_id}}/{action}"): (
            Verdict.TASK_WRITE,
            _build(f"/v1/tasks/{{task_id}}/{action}", _json(body)),
        )
        for method, action, body in (
            ("POST", "progress", {"percent": 10, "note": "Đang làm"}),
            ("POST", "complete", {"product": "Báo cáo số 1/BC"}),
            ("POST", "confirm", {}),
            ("POST", "return", {"reason": "Thiếu hồ sơ"}),
            ("POST", "notes", {"note": "Ghi chú"}),
            ("PUT", "reminders", {"lead_days": [5, 1]}),
        )
    },
    ("progress", "GET", "/v1/tasks/{task_id}"): (Verdict.TASK_READ, _build("/v1/tasks/{task_id}")),
    ("progress", "GET", "/v1/worklist"): (Verdict.AGENCY, _build("/v1/worklist")),
    # alerts
    ("alerts", "GET", "/v1/alerts"): (Verdict.PERSON, _build("/v1/alerts", person_id="{person}")),
    ("alerts", "GET", "/v1/alerts/stream"): (Verdict.PERSON, _build("/v1/alerts/stream", person_id="{person}")),
    ("alerts", "POST", "/v1/alerts/{alert_id}/ack"): (Verdict.AGENCY, _build("/v1/alerts/{alert_id}/ack")),
    ("alerts", "PUT", "/v1/alerts/webhook"): (
        Verdict.AGENCY,
        _build("/v1/alerts/webhook", _json({"url": "not a url"})),
    ),
    ("alerts", "PUT", "/v1/alerts/contacts/{person_id}/email"): (
        Verdict.PERSON,
        _build("/v1/alerts/contacts/{person_id}/email", _json({"email": "can-bo@example.org"})),
    ),
    ("alerts", "GET", "/v1/alerts/deliveries"): (Verdict.AGENCY, _build("/v1/alerts/deliveries")),
    ("alerts", "POST", "/v1/alerts/deliveries/{delivery_id}/retry"): (
        Verdict.AGENCY,
        _build("/v1/alerts/deliveries/{delivery_id}/retry"),
    ),
    # reporting
    ("reporting", "GET", "/v1/reports/summary"): (Verdict.LISTING, _build("/v1/reports/summary")),
    ("reporting", "GET", "/v1/reports/summary.docx"): (Verdict.LISTING, _build("/v1/reports/summary.docx")),
    ("reporting", "GET", "/v1/reports/trend"): (Verdict.LISTING, _build("/v1/reports/trend", months="2")),
    ("reporting", "GET", "/v1/reports/agencies"): (Verdict.OPEN, _build("/v1/reports/agencies")),
    ("reporting", "GET", "/v1/reports/reorganisations"): (Verdict.OPEN, _build("/v1/reports/reorganisations")),
    ("reporting", "GET", "/v1/reports/documents"): (Verdict.LISTING, _build("/v1/reports/documents")),
    ("reporting", "GET", "/v1/reports/tasks"): (Verdict.LISTING, _build("/v1/reports/tasks", q="{marker}")),
    ("reporting", "GET", "/v1/reports/tasks/{task_id}/tree"): (
        Verdict.TASK_READ,
        _build("/v1/reports/tasks/{task_id}/tree"),
    ),
    ("reporting", "GET", "/v1/reports/monthly"): (Verdict.OPEN, _build("/v1/reports/monthly")),
    ("reporting", "GET", "/v1/reports/config"): (Verdict.OPEN, _build("/v1/reports/config")),
    ("reporting", "GET", "/v1/reports/alerts/stream"): (Verdict.RELAYED, _build("/v1/reports/alerts/stream")),
    # The dashboard's relays (services/reporting/dashboard_actions.py): the owning services' rows judge them.
    **{
        ("reporting", method, f"/v1/reports{path}"): (Verdict.RELAYED, _build(f"/v1/reports{path}"))
        for method, path in (
            ("GET", "/worklist"),
            ("POST", "/tasks/{task_id}/progress"),
            ("POST", "/tasks/{task_id}/complete"),
            ("POST", "/tasks/{task_id}/confirm"),
            ("POST", "/tasks/{task_id}/return"),
            ("POST", "/tasks/{task_id}/extensions/{request_id}/decision"),
            ("GET", "/tasks/{task_id}/history"),
        )
    },
    # audit
    ("audit", "GET", "/v1/audit/tasks/{task_id}"): (Verdict.TASK_READ, _build("/v1/audit/tasks/{task_id}")),
}

LISTS_SECRET_ROWS = {  # listings whose answer names the tasks themselves, so the involved must find the secret one
    ("assignment", "GET", "/v1/tasks"),
    ("reporting", "GET", "/v1/reports/documents"),
    ("reporting", "GET", "/v1/reports/tasks"),
}

INTAKE_ROWS: dict[str, tuple[str, str, str]] = {
    # An intake command runs the handler of this route, so it is judged by that route's row.
    "AssignTask": ("assignment", "POST", "/v1/tasks"),
    "DelegateTask": ("assignment", "POST", "/v1/tasks/{task_id}/delegations"),
    "RequestExtension": ("assignment", "POST", "/v1/tasks/{task_id}/extensions"),
    "DecideExtension": ("assignment", "POST", "/v1/tasks/{task_id}/extensions/{request_id}/decision"),
    "WithdrawTask": ("assignment", "POST", "/v1/tasks/{task_id}/withdrawal"),
    "ReportProgress": ("progress", "POST", "/v1/tasks/{task_id}/progress"),
    "ReportCompletion": ("progress", "POST", "/v1/tasks/{task_id}/complete"),
    "ConfirmCompletion": ("progress", "POST", "/v1/tasks/{task_id}/confirm"),
    "ReturnCompletion": ("progress", "POST", "/v1/tasks/{task_id}/return"),
    "AddNote": ("progress", "POST", "/v1/tasks/{task_id}/notes"),
    "SetLeadTimes": ("progress", "PUT", "/v1/tasks/{task_id}/reminders"),
}

BAD_TOKENS = ("revoked", "expired")
NOT_INVOLVED = ("parent", "child", "unrelated")


def expected(verdict: Verdict, principal: str, kind: str) -> str:
    """The outcome of one cell: ok (2xx), unauthorized (401), forbidden (403), hidden (answers as a task
    that does not exist), refused (a 4xx of the rules, not 401 and not hidden), reached (past the access
    rule: anything but 401, 403-by-access and hidden), relayed (judged by the route it is passed to)."""
    if verdict is Verdict.OPEN:
        return "ok"
    if verdict is Verdict.RELAYED:
        return "relayed"
    if principal in BAD_TOKENS:
        return "unauthorized"
    if verdict is Verdict.OPTIONAL:
        return "ok"
    if verdict in (Verdict.TASK_READ, Verdict.LISTING):
        if verdict is Verdict.TASK_READ and kind == "secret" and principal != "own":
            return "hidden"
        return "ok"
    if principal == "none":
        return "unauthorized"
    if verdict is Verdict.TASK_WRITE:
        if principal == "own":
            return "reached"
        return "hidden" if kind == "secret" else "refused"
    if verdict is Verdict.PERSON:
        return "ok" if principal == "own" else "forbidden"
    if verdict is Verdict.DIRECTORY_ADMIN:
        return "ok" if principal in ("own", "parent") else "forbidden"
    if verdict is Verdict.DIRECTORY_DECISION:
        return "reached" if principal in ("own", "parent") else "forbidden"
    return "reached"  # AGENCY


def table() -> list[tuple[str, str, str, str, str, str]]:
    """The whole matrix, one line a cell: service, method, path, principal, task kind, outcome."""
    return [
        (service, method, path, principal, kind, expected(verdict, principal, kind))
        for (service, method, path), (verdict, _) in ROUTES.items()
        for principal in PRINCIPALS
        for kind in TASKS
    ]


def openapi_routes(service: str) -> set[tuple[str, str, str]]:
    # Only the routes are read: no server starts, so the secrets a service needs to start are stand-ins.
    spec = create_app(registry.definition(service), Settings(audit_key="x" * 32, token_secret="x" * 32)).openapi()
    return {(service, method.upper(), path) for path, ops in spec["paths"].items() for method in ops}


def test_every_route_of_every_service_has_a_row() -> None:
    routes = set().union(*(openapi_routes(s) for s in SERVICES))
    assert routes - ROUTES.keys() == set(), "routes nobody judged: add each to ROUTES with its verdict"
    assert ROUTES.keys() - routes == set(), "rows of routes that no longer exist"
    assert len(table()) == len(ROUTES) * len(PRINCIPALS) * len(TASKS)


def test_every_intake_command_is_judged_by_the_route_that_runs_the_same_handler() -> None:
    from services.assignment.intake import dispatch
    from services.progress import intake

    assert set(INTAKE_ROWS) == {*ASSIGNMENT_COMMANDS, *PROGRESS_COMMANDS}
    assert all(
        INTAKE_ROWS[c] in ROUTES and ROUTES[INTAKE_ROWS[c]][0] in (Verdict.TASK_WRITE, Verdict.AGENCY)
        for c in INTAKE_ROWS
    )
    # The same handler functions as the routes: the access rule they apply is the one the matrix proves.
    source = open(dispatch.__file__, encoding="utf-8").read()
    for handler in ("assign_task", "delegate_task", "request_extension", "decide_extension", "withdraw_task"):
        assert f"await {handler}(" in source
    assert set(intake.COMMANDS) == set(PROGRESS_COMMANDS)


INTAKE_SENDERS = {
    # Who sends, as intake sees it (events/intake_verdict.py): the agency is the signing key's, never the body's.
    "none": "missing-signature",  # unsigned
    "own": None,  # signed with its own key: a command of the lead agency, judged by the route's row
    "parent": "bad-signature",  # claims the lead agency, signed with its own key
    "unrelated": "bad-signature",
    "stale": "timestamp-out-of-window",  # the lead's key, signed outside the replay window
}


@pytest.mark.parametrize("command_type", sorted(INTAKE_ROWS))
@pytest.mark.parametrize("sender", sorted(INTAKE_SENDERS))
def test_an_intake_command_counts_only_signed_fresh_by_the_agency_it_claims(command_type: str, sender: str) -> None:
    """The intake side of the matrix: what the routes' bearer check is for HTTP, the signature is for intake.
    Revoked keys are refused by the processors (tests/integration/test_token_revocation.py)."""
    from events.intake import signed_headers, signing_key
    from events.intake_verdict import Command, Refusal, verdict
    from services.runtime.raw_consumer import RawRecord

    secret, signed_at = "a-secret-of-sixteen+", 1_795_000_000
    body = json.dumps({"command_type": command_type, "command_id": unique("c"), "payload": {}}).encode()
    signer = {"parent": PARENT, "unrelated": UNRELATED}.get(sender, OWN)
    headers = signed_headers(signing_key(secret, signer, "k1"), OWN, "k1", body, signed_at)
    if sender == "none":
        headers = []
    appended = (signed_at + (86_400 if sender == "stale" else 1)) * 1000
    judged = verdict(RawRecord("dondoc.intake", 0, 1, OWN.encode(), body, tuple(headers), appended), secret)
    want = INTAKE_SENDERS[sender]
    if want is None:
        assert isinstance(judged, Command) and (judged.agency_id, judged.command_type) == (OWN, command_type)
    else:
        assert isinstance(judged, Refusal) and judged.code == want, judged


# ------------------------------------------------------------------------------------------ the running matrix


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(settings: Any) -> AsyncIterator[World]:
    clock = ManualClock(NOW)
    async with AsyncExitStack() as stack:
        http = {s: await stack.enter_async_context(running(registry.definition(s), settings, clock)) for s in SERVICES}
        issued = await provision.prepare(
            settings.database_url, clock, settings.token_secret, [ASSIGNER, OWN, PARENT, CHILD, UNRELATED]
        )
        tokens = {
            "own": issued[OWN].token,
            "parent": issued[PARENT].token,
            "child": issued[CHILD].token,
            "unrelated": issued[UNRELATED].token,
        }
        async with provision.assignment_db(settings.database_url) as pool:
            revoked = await provision.issue(pool, clock, OWN, settings.token_secret, label="matrix: revoked")
            assert await provision.revoke(pool, clock, revoked.token_id)
            async with pool.acquire() as conn:
                expired = await issue_token(
                    conn,
                    secret=settings.token_secret,
                    agency_id=OWN,
                    now=NOW - timedelta(days=2),
                    ttl=timedelta(days=1),
                    label="expired",
                )
        tokens |= {"revoked": revoked.token, "expired": expired.token}
        assigner = {"Authorization": f"Bearer {issued[ASSIGNER].token}"}
        own = {"Authorization": f"Bearer {tokens['own']}"}

        markers = {"public": unique("CK").upper(), "secret": unique("MAT").upper()}
        task_routes = [
            key
            for key, (verdict, _) in ROUTES.items()
            if verdict in (Verdict.TASK_WRITE, Verdict.TASK_READ, Verdict.LISTING)
        ]
        pairs: dict[str, dict[str, str]] = {}
        for index, key in enumerate(task_routes):
            pairs["/".join(key)] = {}
            for kind in TASKS:
                marker = markers[kind]
                created = await http["assignment"].post(
                    "/v1/tasks",
                    headers=assigner,
                    json={
                        "title": f"Nhiệm vụ {marker} số {index}",
                        "code": f"MAT-{marker}" if index == 0 else f"{marker}-{index}",
                        "source_document": {"number": f"{marker}/KH", "issued_on": "2022-11-21", "issuer": "Chính phủ"},
                        "lead_agency_id": OWN,
                        "deadline": "Tháng 3/2023",
                        "classification": "mat" if kind == "secret" else "cong-khai",
                        "idempotency_key": unique("k"),
                    },
                )
                assert created.status_code == 201, created.text
                pairs["/".join(key)][kind] = created.json()["task_id"]
        every_task = [tid for pair in pairs.values() for tid in pair.values()]

        person = unique("p-matrix")
        put = await http["assignment"].put(
            f"/v1/directory/people/{person}",
            headers=own,
            json={"agency_id": OWN, "full_name": "Trần Thị Mẫu", "role": "officer", "email": f"{person}@example.org"},
        )
        assert put.status_code == 200, put.text

        async def everyone_knows() -> bool:
            conn = await asyncpg.connect(settings.database_url)
            try:
                for schema, table_ in (("progress", "tasks"), ("reporting", "tasks")):
                    n = await conn.fetchval(
                        f"SELECT count(*) FROM {schema}.{table_} WHERE task_id = ANY($1)", every_task
                    )
                    if n != len(every_task):
                        return False
                n = await conn.fetchval(
                    "SELECT count(DISTINCT task_id) FROM audit.events WHERE task_id = ANY($1)", every_task
                )
                if n != len(every_task):
                    return False
                for schema in ("progress", "alerts", "reporting", "audit"):
                    if not await conn.fetchval(
                        f"SELECT true FROM {schema}.revoked_tokens WHERE token_id = $1", revoked.token_id
                    ):
                        return False
                return bool(await conn.fetchval("SELECT true FROM alerts.people WHERE person_id = $1", person))
            finally:
                await conn.close()

        await eventually(everyone_knows, timeout=90, what="every service to read the tasks, person and revocation")
        yield World(http, tokens, pairs, markers, person, unique("p-nobody"))


def _scope(call: Call, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": call.method,
        "scheme": "http",
        "path": call.path,
        "raw_path": call.path.encode(),
        "query_string": urlencode(call.params).encode(),
        "root_path": "",
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
        "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()],
    }


def _headers(world: World, principal: str) -> dict[str, str]:
    return {} if principal == "none" else {"Authorization": f"Bearer {world.tokens[principal]}"}


async def _status_of_stream(app: Any, call: Call, headers: dict[str, str]) -> tuple[int, bytes]:
    """Status and first bytes of a response that may never end (SSE), from the ASGI app itself."""
    stream = _Stream()
    task = asyncio.create_task(stream.run(app, call, headers))
    try:
        status = await asyncio.wait_for(stream.started, 20)
        await asyncio.wait_for(stream.first_body.wait(), 20)
        return status, bytes(stream.body)
    finally:
        stream.gone.set()
        try:
            await asyncio.wait_for(task, 5)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()


async def _send(world: World, service: str, call: Call, principal: str) -> httpx.Response:
    client = world.http[service]
    headers = _headers(world, principal)
    if call.path.endswith("/stream"):
        status, body = await _status_of_stream(client.app, call, headers)  # type: ignore[attr-defined]
        return httpx.Response(status, content=body)
    return await client.request(call.method, call.path, json=call.json, params=call.params, headers=headers)


def _code(response: httpx.Response) -> str | None:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return None
    return detail.get("code") if isinstance(detail, dict) else None


async def _judge(world: World, key: tuple[str, str, str], principal: str, kind: str) -> str | None:
    """None if the cell holds; else what went wrong."""
    verdict, build = ROUTES[key]
    outcome = expected(verdict, principal, kind)
    if outcome == "relayed":
        return None
    service, method, _path = key
    call = build(world, "/".join(key), method, kind)
    response = await _send(world, service, call, principal)
    status, code = response.status_code, _code(response)
    where = f"{principal} × {kind}: expected {outcome}, got {status} {response.text[:300]}"
    if status >= 500:
        return where
    secret = world.markers["secret"]
    if principal != "own" and secret in response.text:
        return f"{where} — the answer holds the secret task's marker"
    match outcome:
        case "ok":
            if not 200 <= status < 300:
                return where
            if key in LISTS_SECRET_ROWS and kind == "secret" and principal == "own" and secret not in response.text:
                return f"{where} — the involved agency does not find its secret task"
        case "unauthorized":
            if status != 401 or code != "unauthorized":
                return where
        case "forbidden":
            if status != 403:
                return where
        case "hidden":
            missing = build(world, "/".join(key), method, kind, task_id="no-such-task")
            absent = await _send(world, service, missing, principal)
            task_id = world.pairs["/".join(key)][kind]
            if (status, response.text) != (absent.status_code, absent.text.replace("no-such-task", task_id)):
                return f"{where} — not the answer for a task that does not exist: {absent.status_code} {absent.text}"
        case "refused":
            if not 400 <= status < 500 or status == 401 or code == "task-not-found":
                return where
        case "reached":
            if status == 401 or code == "task-not-found":
                return where
    return None


async def test_every_route_answers_each_principal_and_task_as_the_access_rule_says(world: World) -> None:
    failures: list[str] = []
    order = [p for p in PRINCIPALS if p != "own"] + ["own"]  # the involved agency's writes change the task last
    for key in ROUTES:
        for principal in order:
            for kind in TASKS:
                if (problem := await _judge(world, key, principal, kind)) is not None:
                    failures.append(f"{' '.join(key)}  {problem}")
    assert not failures, "\n".join(failures)


async def test_a_hidden_node_of_a_delegation_tree_shows_no_id_code_title_or_agency(world: World) -> None:
    # The lead delegates its secret task to a unit below it: the child involves the lead and the unit, not
    # the Government that assigned the parent, which sees its own task and a hidden place for the child.
    parent = world.pairs["/".join(("reporting", "GET", "/v1/reports/tasks/{task_id}/tree"))]["secret"]
    own = _headers(world, "own")
    delegated = await world.http["assignment"].post(
        f"/v1/tasks/{parent}/delegations",
        headers=own,
        json={
            "children": [{"lead_agency_id": CHILD, "title": f"Phần việc {world.markers['secret']}-con"}],
            "idempotency_key": unique("k"),
        },
    )
    assert delegated.status_code == 201, delegated.text
    child = delegated.json()["children"][0]["task_id"]
    tokens = await provision.prepare(world_settings(world), ManualClock(NOW), _secret(world), [ASSIGNER])
    assigner = {"Authorization": f"Bearer {tokens[ASSIGNER].token}"}

    async def tree() -> dict[str, Any] | None:
        response = await world.http["reporting"].get(f"/v1/reports/tasks/{parent}/tree", headers=assigner)
        body = response.json()
        return body if response.status_code == 200 and len(body["nodes"]) == 2 else None

    nodes = (await eventually(tree, what="the delegated child in the reporting tree"))["nodes"]
    shown, hidden = nodes
    assert shown["task_id"] == parent and shown["title"].startswith("Nhiệm vụ")
    text = json.dumps(hidden, ensure_ascii=False)
    assert hidden["hidden"] is True and hidden["parent_task_id"] == parent
    assert child not in text and "-con" not in text and SIBLING_UNIT not in text and OWN not in text
    assert hidden["task_id"].startswith("hidden-")


async def test_a_token_holds_a_bounded_number_of_alert_streams(world: World) -> None:
    from services.alerts.config import AlertsConfig

    limit = AlertsConfig().max_streams_per_token
    app = world.http["alerts"].app  # type: ignore[attr-defined]
    headers = _headers(world, "own")
    call = Call("GET", "/v1/alerts/stream", params={"person_id": world.person})
    streams = [_Stream() for _ in range(limit)]
    held = [asyncio.create_task(stream.run(app, call, headers)) for stream in streams]
    try:
        assert await asyncio.wait_for(asyncio.gather(*(s.started for s in streams)), 30) == [200] * limit
        status, body = await _status_of_stream(app, call, headers)
        assert status == 429 and b"too-many-streams" in body
        # Another token of the same agency is not affected.
        tokens = await provision.prepare(world_settings(world), ManualClock(NOW), _secret(world), [OWN])
        other = {"Authorization": f"Bearer {tokens[OWN].token}"}
        assert (await _status_of_stream(app, call, other))[0] == 200
    finally:
        for task in held:
            task.cancel()
        await asyncio.gather(*held, return_exceptions=True)

    async def reopened() -> bool:  # closed streams give their places back
        return (await _status_of_stream(app, call, headers))[0] == 200

    await eventually(reopened, what="a closed stream's place to be given back")


class _Stream:
    """One request to an ASGI app whose response may never end: its status, its body so far, and the
    client's going away (``gone``), which the app hears as a disconnect."""

    def __init__(self) -> None:
        self.started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.body = bytearray()
        self.first_body = asyncio.Event()
        self.gone = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and not self.started.done():
            self.started.set_result(message["status"])
        elif message["type"] == "http.response.body":
            self.body.extend(message.get("body", b""))
            self.first_body.set()

    async def run(self, app: Any, call: Call, headers: dict[str, str]) -> None:
        await app(_scope(call, headers), self.receive, self.send)


async def test_a_non_ascii_or_oversized_bearer_token_is_a_401_on_every_service(world: World) -> None:
    for service, path in (
        ("assignment", "/v1/tasks"),
        ("progress", "/v1/tasks/x"),
        ("alerts", "/v1/alerts"),
        ("reporting", "/v1/reports/documents"),
        ("audit", "/v1/audit/tasks/x"),
        ("reporting", "/v1/reports/alerts/stream?person_id=p"),  # the relay: refused before it passes anything on
    ):
        # Longer than any bearer is accepted (a person's JWT is a kilobyte or two; agency tokens far shorter).
        oversized = b"dd1." + b"a" * auth.MAX_BEARER_CHARS + b".b"
        for token in ("dd1.é.ü".encode(), oversized, "Mật-khẩu".encode()):
            response = await world.http[service].get(path, headers={"Authorization": b"Bearer " + token})
            assert response.status_code == 401, (service, response.text)
            assert response.json()["detail"]["code"] == "unauthorized"


async def test_an_unknown_persons_contact_cannot_be_claimed_by_anyone(world: World) -> None:
    for principal in ("own", "parent", "unrelated"):
        response = await world.http["alerts"].put(
            f"/v1/alerts/contacts/{world.stranger}/email",
            headers=_headers(world, principal),
            json={"email": "ke-gian@example.org"},
        )
        assert response.status_code == 403 and _code(response) == "person-agency-unknown"


async def test_a_persons_email_is_shown_only_to_their_agency_or_above(world: World) -> None:
    path = f"/v1/directory/people/{world.person}"
    for principal, shown in (("none", False), ("unrelated", False), ("child", False), ("own", True), ("parent", True)):
        body = (await world.http["assignment"].get(path, headers=_headers(world, principal))).json()
        assert ("email" in body) is shown, principal
        assert (f"{world.person}@example.org" in json.dumps(body)) is shown


async def test_authority_granted_never_exceeds_the_granters_own(world: World) -> None:
    own = _headers(world, "own")
    unit = f"{OWN}-{unique('unit')}"
    body = {"name": f"Trường thử nghiệm {unique('n')}", "level": "don-vi", "parent_id": OWN}
    escalated = await world.http["assignment"].put(
        f"/v1/directory/agencies/{unit}", headers=own, json={**body, "can_assign_to": [ASSIGNER]}
    )
    assert escalated.status_code == 403 and _code(escalated) == "authority-exceeded"
    sideways = await world.http["assignment"].put(
        f"/v1/directory/agencies/{unit}", headers=own, json={**body, "can_assign_to": [UNRELATED]}
    )
    assert sideways.status_code == 403 and _code(sideways) == "authority-exceeded"
    within = await world.http["assignment"].put(
        f"/v1/directory/agencies/{unit}", headers=own, json={**body, "can_assign_to": [CHILD]}
    )
    assert within.status_code == 200, within.text
    # Out of its subtree: moving the unit under another department, or naming a successor elsewhere.
    moved = await world.http["assignment"].put(
        f"/v1/directory/agencies/{unit}", headers=own, json={**body, "parent_id": UNRELATED}
    )
    assert moved.status_code == 403
    successor = await world.http["assignment"].put(
        f"/v1/directory/agencies/{unit}", headers=own, json={**body, "active": False, "successor_id": UNRELATED}
    )
    assert successor.status_code == 403


def world_settings(world: World) -> str:
    return str(world.http["assignment"].app.state.runtime.settings.database_url)  # type: ignore[attr-defined]


def _secret(world: World) -> str:
    return str(world.http["assignment"].app.state.runtime.settings.token_secret)  # type: ignore[attr-defined]
