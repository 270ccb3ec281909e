"""Health, readiness and Prometheus metrics, the same for every service."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

if TYPE_CHECKING:
    from services.runtime.definition import Runtime

router = APIRouter(tags=["health"])

# How long the relay may fail to publish before the service says it is not ready: longer than a broker's
# restart or a leader election, short enough that an orchestrator hears of a wedged outbox.
RELAY_STUCK_S = 30.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive (its event loop answers)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    """Ready when started, the database and the broker answer, the outbox relay is not stuck, and every
    background loop is running. Liveness (``/healthz``) is apart: a service waiting out an outage is alive."""
    if kafka_problems := getattr(request.app.state, "kafka_problems", None):
        return JSONResponse({"status": "not ready", "problems": kafka_problems}, status_code=503)
    rt: Runtime | None = getattr(request.app.state, "runtime", None)
    if rt is None:
        return JSONResponse({"status": "starting"}, status_code=503)
    problems: list[str] = []
    try:
        async with rt.pool.acquire() as conn:
            await asyncio.wait_for(conn.fetchval("SELECT 1"), 2.0)
    except Exception as exc:
        problems.append(f"database: {exc!r}")
    try:  # the broker: one metadata round trip, as any client's first step
        await asyncio.wait_for(rt.producer.client.fetch_all_metadata(), 2.0)
    except Exception as exc:
        problems.append(f"kafka: {type(exc).__name__}: {exc}"[:300])
    if stuck := rt.relay.stuck(RELAY_STUCK_S):
        problems.append(f"outbox relay: {stuck}")
    for task in getattr(rt, "tasks", []):
        if task.done():
            problems.append(f"background task {task.get_name()} stopped")
    if problems:
        return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
    return JSONResponse({"status": "ready", "service": rt.service})


@router.get("/metrics", response_class=PlainTextResponse)  # Prometheus' text format, not JSON
async def prometheus_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
