"""The reporting service on a real port (uvicorn in this process), having read a scenario from Kafka; and
the alerts service beside it, for the dashboard's live alerts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import uvicorn

from events.clock import VN_TZ, ManualClock
from services.alerts.bootstrap import definition as alerts_definition
from services.reporting.bootstrap import DEFINITION
from services.runtime.service import create_app
from tests.conftest import as_service, eventually, free_port
from tests.integration.report_scenario import Scenario, all_handled, publish

SCENARIO_DAY = datetime(2023, 4, 3, 9, 0, tzinfo=VN_TZ)


@contextlib.asynccontextmanager
async def serving_reporting(settings: Any, infra: Any, scenario: Scenario, **overrides: Any) -> AsyncIterator[int]:
    """Yields the port once the service answers and has handled every event of ``scenario``."""
    port = free_port()
    own = as_service("reporting", settings.model_copy(update={"reporting_port": port, **overrides}))
    app = create_app(DEFINITION, own, ManualClock(SCENARIO_DAY))
    async with _serving(app, port, "the reporting service"):
        await publish(infra.kafka, scenario.envelopes)
        await eventually(
            lambda: all_handled(settings.database_url, scenario.envelopes), timeout=60, what="the scenario to be read"
        )
        yield port


@contextlib.asynccontextmanager
async def serving_alerts(settings: Any, port: int) -> AsyncIterator[str]:
    """The alerts service on ``port`` (where a reporting service expects it), on the scenario's day."""
    own = as_service("alerts", settings.model_copy(update={"alerts_port": port}))
    app = create_app(alerts_definition(), own, ManualClock(SCENARIO_DAY))
    async with _serving(app, port, "the alerts service"):
        yield f"http://127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def _serving(app: Any, port: int, what: str) -> AsyncIterator[None]:
    # Open streams (server-sent events) end a second after the service is told to stop.
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=1
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            await eventually(lambda: _ready(http), timeout=60, what=f"{what} to start")
        yield
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 30)


async def _ready(http: httpx.AsyncClient) -> bool:
    try:
        return (await http.get("/readyz")).status_code == 200
    except httpx.HTTPError:
        return False
