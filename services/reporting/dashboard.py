"""The dashboard: static assets shipped in the package (no CDN: it works offline) and the live alerts.

The alerts panel reads the alerts service's server-sent events through this service, so the page
talks to one origin only (no CORS, one URL to open). A person's alerts are theirs: the alerts service
shows them only to a token of the person's agency, so the relay passes the viewer's own
``Authorization`` header on, as is (it has no token of its own and never adds one), with
``Last-Event-ID`` for a resumed stream. A refusal (401/403) comes back with its status and the alerts
service's bilingual message, for the page to show; the page does not retry it. The alerts service
asks again while a stream is open: when the token is revoked, its agency abolished or the person
moves to another agency, the stream ends with a ``refused`` event (status, code, message,
message_vi), relayed as is; the page shows it and does not reconnect either. When the alerts service
is away the stream says so in one ``unavailable`` event and ends; the page retries after the
``retry`` delay, so the panel comes back when the service does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Annotated

import anyio
import httpx
from fastapi import APIRouter, Header, HTTPException, Query, Request, status
from fastapi.responses import FileResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from services.reporting.responses import DashboardConfig, SignIn, json_response
from services.runtime.auth import BearerToken
from services.runtime.logs import get_logger
from services.runtime.service import runtime_of

log = get_logger(__name__)

STATIC = Path(__file__).parent / "static"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
RETRY_MS = 15_000

router = APIRouter(tags=["dashboard"])


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type=_TYPES[".html"], headers={"Cache-Control": "no-cache"})


@router.get("/static/{name}", include_in_schema=False)
async def asset(name: str) -> FileResponse:
    path = STATIC / name
    # Only the files shipped in static/, by their own name: no path from the request reaches the disk.
    if path.suffix not in _TYPES or path.parent != STATIC or not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    return FileResponse(path, media_type=_TYPES[path.suffix], headers={"Cache-Control": "no-cache"})


@router.get("/v1/reports/config", response_model=DashboardConfig)
async def config(request: Request) -> Response:
    """What the page needs to start: where alerts live, the domain clock, and where people sign in (the
    installation's OpenID Connect provider and the dashboard's public client; public by nature)."""
    rt = runtime_of(request)
    s = rt.settings
    sign_in = SignIn(enabled=bool(s.oidc_issuer), issuer=s.oidc_issuer.rstrip("/"), client_id=s.oidc_client_id)
    return json_response(
        DashboardConfig(alerts_url=s.url_of("alerts"), now=rt.clock.now().isoformat(), sign_in=sign_in)
    )


def _event(kind: str, data: dict[str, str]) -> bytes:
    return f"retry: {RETRY_MS}\nevent: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _sse(*frames: bytes) -> StreamingResponse:
    async def once() -> AsyncIterator[bytes]:
        for frame in frames:
            yield frame

    return _streaming(once())


def _streaming(body: AsyncIterator[bytes], background: BackgroundTask | None = None) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        background=background,
    )


def _unavailable(reason: str, message_vi: str) -> bytes:
    return _event("unavailable", {"reason": reason, "message_vi": message_vi})


async def _frames(response: httpx.Response) -> AsyncIterator[bytes]:
    """The upstream stream, one whole SSE frame at a time: a frame cut by a broken connection is never
    passed on, so the viewer's own stream never carries half a message (its ``unavailable`` event after
    would read as part of it); the page's reconnect resumes from the last whole one by ``Last-Event-ID``."""
    lines: list[str] = []
    async for line in response.aiter_lines():
        if line:
            lines.append(line)
        elif lines:
            yield ("\n".join(lines) + "\n\n").encode()
            lines = []


async def _refusal(response: httpx.Response) -> HTTPException:
    """The alerts service's 401/403, status and message as it gave them."""
    try:
        await response.aread()
        detail = response.json()["detail"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        detail = {
            "code": "refused",
            "message": f"the alerts service answered HTTP {response.status_code}",
            "message_vi": "Dịch vụ cảnh báo từ chối yêu cầu",
        }
    auth = {"WWW-Authenticate": response.headers.get("www-authenticate", "Bearer")}
    return HTTPException(response.status_code, detail, headers=auth if response.status_code == 401 else None)


@router.get(
    "/v1/reports/alerts/stream",
    response_class=StreamingResponse,
    responses={401: {"description": "No valid agency token"}, 403: {"description": "Not the person's agency"}},
)
async def alerts_stream(
    request: Request,
    person_id: Annotated[str, Query(min_length=1, description="Whose alerts")],
    viewer: BearerToken,  # passed on to the alerts service, which judges it
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> Response:
    """Cảnh báo trực tiếp: the alerts service's stream for one person, passed through; only for a token
    of the person's agency (the alerts service decides)."""
    upstream = f"{runtime_of(request).settings.url_of('alerts')}/v1/alerts/stream"
    headers = {"Accept": "text/event-stream"}
    if viewer is not None:
        headers["Authorization"] = f"Bearer {viewer}"
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    opened = AsyncExitStack()

    async def close() -> None:
        with anyio.CancelScope(shield=True):  # also when the viewer's disconnect cancels the relay
            await opened.aclose()

    try:
        client = await opened.enter_async_context(httpx.AsyncClient(timeout=httpx.Timeout(5.0, read=None)))
        response = await opened.enter_async_context(
            client.stream("GET", upstream, params={"person_id": person_id}, headers=headers)
        )
    except httpx.HTTPError as exc:
        await close()
        log.info("alerts stream unavailable", error=repr(exc))
        return _sse(_unavailable(type(exc).__name__, "Không kết nối được dịch vụ cảnh báo"))
    if response.status_code in (status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN):
        refusal = await _refusal(response)
        await close()
        raise refusal
    if response.status_code != status.HTTP_200_OK:
        await close()
        return _sse(_unavailable(f"HTTP {response.status_code}", "Dịch vụ cảnh báo chưa sẵn sàng"))

    async def relay() -> AsyncIterator[bytes]:
        try:
            yield _event("connected", {"person_id": person_id})
            async for frame in _frames(response):
                yield frame
        except httpx.HTTPError as exc:
            log.info("alerts stream broken", error=repr(exc))
            yield _unavailable(type(exc).__name__, "Mất kết nối dịch vụ cảnh báo")
        finally:
            await close()

    return _streaming(relay(), BackgroundTask(close))
