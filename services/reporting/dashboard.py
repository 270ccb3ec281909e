"""The dashboard: static assets shipped in the package (no CDN: it works offline) and the live alerts.

The alerts panel reads the alerts service's server-sent events through this service, so the page
talks to one origin only (no CORS, one URL to open). When the alerts service is away the stream
says so in one ``unavailable`` event and ends; the browser's EventSource retries on its own after
the ``retry`` delay, so the panel comes back when the service does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import FileResponse, StreamingResponse

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
    return FileResponse(
        STATIC / "index.html", media_type=_TYPES[".html"], headers={"Cache-Control": "no-cache"}
    )


@router.get("/static/{name}", include_in_schema=False)
async def asset(name: str) -> FileResponse:
    path = STATIC / name
    # Only the files shipped in static/, by their own name: no path from the request reaches the disk.
    if path.suffix not in _TYPES or path.parent != STATIC or not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    return FileResponse(path, media_type=_TYPES[path.suffix], headers={"Cache-Control": "no-cache"})


@router.get("/v1/reports/config")
async def config(request: Request) -> dict[str, Any]:
    rt = runtime_of(request)
    return {"alerts_url": rt.settings.url_of("alerts"), "now": rt.clock.now().isoformat()}


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return f"retry: {RETRY_MS}\nevent: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


@router.get("/v1/reports/alerts/stream")
async def alerts_stream(
    request: Request, person_id: Annotated[str, Query(min_length=1, description="Whose alerts")]
) -> StreamingResponse:
    """Cảnh báo trực tiếp: the alerts service's stream for one person, passed through."""
    upstream = f"{runtime_of(request).settings.url_of('alerts')}/v1/alerts/stream"

    async def relay() -> AsyncIterator[bytes]:
        try:
            async with (
                httpx.AsyncClient(timeout=httpx.Timeout(5.0, read=None)) as client,
                client.stream(
                    "GET", upstream, params={"person_id": person_id}, headers={"Accept": "text/event-stream"}
                ) as response,
            ):
                if response.status_code != 200:
                    yield _event(
                        "unavailable",
                        {
                            "reason": f"HTTP {response.status_code}",
                            "message_vi": "Dịch vụ cảnh báo chưa sẵn sàng",
                        },
                    )
                    return
                yield _event("connected", {"person_id": person_id})
                async for chunk in response.aiter_raw():
                    yield chunk
        except httpx.HTTPError as exc:
            log.info("alerts stream unavailable", error=repr(exc))
            yield _event(
                "unavailable",
                {"reason": type(exc).__name__, "message_vi": "Không kết nối được dịch vụ cảnh báo"},
            )

    return StreamingResponse(
        relay(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
