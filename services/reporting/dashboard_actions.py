"""The dashboard's task actions and history, relayed to the services that own them (same origin).

A signed-in person works from the dashboard: "Việc của tôi" and "Chờ lãnh đạo quyết định" (the progress
service's worklist and the assignment service's pending extension requests), reporting progress or
completion, confirming or returning a completion, deciding an extension, and reading a task's history
(the audit service's). The page talks to this service only (one origin, no CORS); each request goes on
with the person's own ``Authorization`` header, as is — this service holds no token of its own and keeps
none. The owning service judges it (its route's role, the agency's authority over the task, the access
rule) and its answer, refusals included, comes back with its status and bilingual message. The write
routes also declare their action here, so a person without the role is refused before anything travels.

The history names who did each step: a person by their full name and agency (this service's copy of the
directory), an agency's system (agency token) as "hệ thống của <cơ quan>", dondoc itself as such.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response

from events.roles import Action
from services.reporting.responses import HistoryStep, StepActor, TaskHistory, Worklist, json_response
from services.runtime.auth import BearerToken, CurrentAgency, needs
from services.runtime.logs import get_logger
from services.runtime.refusals import Refused, unauthorized
from services.runtime.service import runtime_of

log = get_logger(__name__)
router = APIRouter(prefix="/v1/reports", tags=["dashboard"])
Id = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:-]+$")]
_TIMEOUT = httpx.Timeout(10.0)
_SYSTEM_AGENCY = "dondoc"


def _unavailable(service: str) -> Refused:
    return Refused(
        "service-unavailable",
        f"the {service} service cannot be reached; try again shortly (a retry with the same idempotency key is safe)",
        "Không kết nối được dịch vụ xử lý; hãy thử lại sau ít phút (gửi lại không tạo thao tác trùng)",
        503,
        {"Retry-After": "15"},
    )


async def _call(
    request: Request, service: str, method: str, path: str, bearer: str | None, body: bytes | None = None
) -> httpx.Response:
    if bearer is None:
        raise unauthorized("sign in first: this needs your access token", "Hãy đăng nhập để thực hiện thao tác này")
    headers = {"Authorization": f"Bearer {bearer}", "Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    url = f"{runtime_of(request).settings.url_of(service)}{path}"
    try:
        async with httpx.AsyncClient(timeout=_TIMEOUT) as client:
            return await client.request(method, url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        log.info("dashboard relay unavailable", service=service, error=repr(exc))
        raise _unavailable(service) from exc


def _as_is(response: httpx.Response) -> JSONResponse:
    """The owning service's answer, status and body as it gave them (a refusal keeps its message)."""
    try:
        content = response.json()
    except ValueError:
        content = {"detail": {"code": "bad-upstream", "message": "unreadable answer", "message_vi": "Lỗi hệ thống"}}
    auth = {"WWW-Authenticate": "Bearer"} if response.status_code == 401 else None
    return JSONResponse(content, response.status_code, headers=auth)


async def _relay_write(request: Request, service: str, path: str, bearer: str | None) -> JSONResponse:
    return _as_is(await _call(request, service, "POST", path, bearer, await request.body() or b"{}"))


@router.get("/worklist", response_model=Worklist)
async def worklist(request: Request, principal: CurrentAgency, bearer: BearerToken) -> Response:
    """Việc của tôi (the person's open tasks) and what waits for their agency's decision: completions to
    confirm or return, extension requests to decide."""
    work = await _call(request, "progress", "GET", "/v1/worklist", bearer)
    asked = await _call(request, "assignment", "GET", "/v1/extensions/awaiting-decision", bearer)
    for answer in (work, asked):
        if answer.status_code != 200:
            raise _refusal_of(answer)
    lists = work.json()
    async with runtime_of(request).pool.acquire() as conn:
        names = await _agency_names(conn)
    for rows in (lists["mine"], lists["to_decide"], asked.json()["extensions"]):
        for row in rows:
            row["lead_agency_name"] = names.get(row.get("lead_agency_id") or "", row.get("lead_agency_id"))
    return json_response(
        Worklist(
            person_id=principal.person_id,
            mine=lists["mine"],
            to_decide=lists["to_decide"],
            extensions=asked.json()["extensions"],
        )
    )


def _refusal_of(response: httpx.Response) -> Refused:
    try:
        d = response.json()["detail"]
        return Refused(d["code"], d["message"], d["message_vi"], response.status_code)
    except (ValueError, KeyError, TypeError):
        return Refused("refused", f"HTTP {response.status_code}", "Yêu cầu bị từ chối", response.status_code)


def _relay_of(service: str, what: str) -> Any:
    async def relay(task_id: Id, request: Request, bearer: BearerToken) -> JSONResponse:
        return await _relay_write(request, service, f"/v1/tasks/{task_id}/{what}", bearer)

    return relay


# The progress service's task writes, as the dashboard sends them: (path, action, summary).
for _what, _action, _summary in (
    ("progress", Action.REPORT_PROGRESS, "Báo cáo tiến độ (progress service)"),
    ("complete", Action.REPORT_COMPLETION, "Báo cáo hoàn thành (progress service)"),
    ("confirm", Action.CONFIRM_COMPLETION, "Xác nhận hoàn thành (progress service)"),
    ("return", Action.RETURN_COMPLETION, "Trả lại báo cáo hoàn thành (progress service)"),
):
    router.add_api_route(
        f"/tasks/{{task_id}}/{_what}",
        _relay_of("progress", _what),
        methods=["POST"],
        dependencies=[needs(_action)],
        summary=_summary,
        name=f"relay_{_what}",
    )


@router.post("/tasks/{task_id}/extensions/{request_id}/decision", dependencies=[needs(Action.DECIDE_EXTENSION)])
async def decide_extension(task_id: Id, request_id: Id, request: Request, bearer: BearerToken) -> JSONResponse:
    """Quyết định gia hạn (assignment service)."""
    path = f"/v1/tasks/{task_id}/extensions/{request_id}/decision"
    return await _relay_write(request, "assignment", path, bearer)


@router.get("/tasks/{task_id}/history", response_model=TaskHistory)
async def task_history(task_id: Id, request: Request, bearer: BearerToken) -> Response:
    """Lịch sử nhiệm vụ: the audit service's history (its access rule, the caller's token), each step with
    who took it, by name. Without a token only a public task's history is shown, as the audit service says."""
    headers = {"Accept": "application/json"}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    url = f"{runtime_of(request).settings.url_of('audit')}/v1/audit/tasks/{task_id}"
    try:
        async with httpx.AsyncClient(timeout=_TIMEOUT) as client:
            response = await client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise _unavailable("audit") from exc
    if response.status_code != 200:
        return _as_is(response)
    history = response.json()
    steps = [
        HistoryStep(
            seq=e["seq"],
            event_type=e["event"].get("event_type"),
            occurred_at=e["event"].get("occurred_at"),
            actor=e["event"].get("actor") or {},
            payload=e["event"].get("payload") or {},
        )
        for e in history["events"]
    ]
    async with runtime_of(request).pool.acquire() as conn:
        named = await name_actors(conn, steps)
    return json_response(TaskHistory(task_id=task_id, steps=named))


async def _agency_names(conn: Any, ids: list[str] | None = None) -> dict[str, str]:
    rows = await conn.fetch("SELECT agency_id, name FROM agencies WHERE $1::text[] IS NULL OR agency_id = ANY($1)", ids)
    return {r["agency_id"]: r["name"] for r in rows}


async def name_actors(conn: Any, steps: list[HistoryStep]) -> list[HistoryStep]:
    """Each step with its ``by``: who did it, in words: "<full name> (<agency>)", "hệ thống của <agency>" for
    an agency's system, "dondoc (tự động)" for what dondoc did by itself."""
    actors = [(_text(s.actor.get("agency_id")), _text(s.actor.get("person_id"))) for s in steps]
    person_ids = sorted({p for _, p in actors if p})
    people = {
        r["person_id"]: r["full_name"]
        for r in await conn.fetch("SELECT person_id, full_name FROM people WHERE person_id = ANY($1)", person_ids)
    }
    agencies = await _agency_names(conn, sorted({str(a) for a, _ in actors}))
    named = []
    for step, (agency_id, person_id) in zip(steps, actors, strict=True):
        agency = agencies.get(agency_id or "", agency_id or "")
        if person_id:
            name = people.get(person_id, person_id)
            by = StepActor(kind="person", name=name, agency=agency, text=f"{name} ({agency})")
        elif agency_id == _SYSTEM_AGENCY or not agency_id:
            by = StepActor(kind="system", name="dondoc", agency="", text="dondoc (tự động)")
        else:
            by = StepActor(kind="machine", name="", agency=agency, text=f"hệ thống của {agency}")
        named.append(step.model_copy(update={"by": by}))
    return named


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
