"""A request that meets a database outage is a 503 with Retry-After and both languages, never a bare
500, and says that sending the same request again (same idempotency key) is safe (issue 17 item 5)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.runtime import outages, refusals


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    outages.install(app)
    app.add_exception_handler(refusals.Refused, refusals.handler)

    @app.post("/shutting-down")
    async def shutting_down() -> None:
        raise asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command")

    @app.post("/refused")
    async def refused() -> None:
        raise ConnectionRefusedError("connection refused")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client


@pytest.mark.parametrize("path", ["/shutting-down", "/refused"])
async def test_an_outage_is_a_503_with_retry_after_and_the_safe_retry(http: httpx.AsyncClient, path: str) -> None:
    response = await http.post(path)
    assert response.status_code == 503
    assert response.headers["retry-after"] == str(outages.RETRY_AFTER_S)
    detail = response.json()["detail"]
    assert detail["code"] == "temporarily-unavailable"
    assert "same idempotency key" in detail["message"] and "cùng khóa" in detail["message_vi"]


def test_every_services_api_docs_say_a_5xx_is_retried_with_the_same_key() -> None:
    from services import registry
    from services.runtime.service import create_app
    from services.runtime.settings import Settings

    for name in ("assignment", "progress", "alerts", "reporting", "audit"):
        app = create_app(registry.definition(name), Settings(token_secret="x" * 32, audit_key="x" * 32))
        assert "same idempotency key" in app.openapi()["info"]["description"]
