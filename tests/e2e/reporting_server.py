"""The reporting service on a real port (uvicorn in this process), having read a scenario from Kafka."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import uvicorn

from events.clock import VN_TZ, ManualClock
from services.reporting.bootstrap import DEFINITION
from services.runtime.service import create_app
from tests.conftest import eventually, free_port
from tests.integration.report_scenario import Scenario, all_handled, publish

SCENARIO_DAY = datetime(2023, 4, 3, 9, 0, tzinfo=VN_TZ)


@contextlib.asynccontextmanager
async def serving_reporting(settings: Any, infra: Any, scenario: Scenario, **overrides: Any) -> AsyncIterator[int]:
    """Yields the port once the service answers and has handled every event of ``scenario``."""
    port = free_port()
    app = create_app(DEFINITION, settings.model_copy(update={"reporting_port": port, **overrides}),
                     ManualClock(SCENARIO_DAY))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            await eventually(lambda: _ready(http), timeout=60, what="the reporting service to start")
            await publish(infra.kafka_bootstrap, scenario.envelopes)
            await eventually(lambda: all_handled(settings.database_url, scenario.envelopes),
                             timeout=60, what="the scenario to be read")
        yield port
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 30)


async def _ready(http: httpx.AsyncClient) -> bool:
    try:
        return (await http.get("/readyz")).status_code == 200
    except httpx.HTTPError:
        return False
