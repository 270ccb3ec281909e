"""Every service's OpenAPI document states the refusals the shared machinery may answer, in the one
bilingual body, and the framework's own refusals come in that body too (services/runtime/spec_refusals.py).
No broker, no database: the app is built, never started."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from events.topics import SERVICES
from services import registry
from services.runtime.service import create_app
from services.runtime.settings import Settings

SETTINGS = Settings(
    kafka_bootstrap="localhost:1",
    database_url="postgresql://localhost:1/none",
    token_secret="a-secret-of-sixteen+",
    audit_key="an-audit-key-only-for-reading-the-routes",
)


def spec(service: str) -> dict[str, Any]:
    return create_app(registry.definition(service), SETTINGS).openapi()  # type: ignore[no-any-return]


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_documents_the_refusals_it_may_meet(service: str) -> None:
    for path, operations in spec(service)["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            if operation.get("security"):
                assert {"401", "403"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "422"} <= codes, (method, path)


def test_a_domain_refusal_and_a_validation_error_are_both_a_documented_422() -> None:
    schema = spec("assignment")["paths"]["/v1/tasks"]["post"]["responses"]["422"]["content"]["application/json"]
    refs = {choice["$ref"].rsplit("/", 1)[-1] for choice in schema["schema"]["anyOf"]}
    assert refs == {"HTTPValidationError", "Refusal"}


async def test_an_unreadable_body_is_refused_in_both_languages() -> None:
    app = create_app(registry.definition("progress"), SETTINGS)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        answer = await client.post(
            "/v1/tasks/t/progress", content=b"\x10\xc3`", headers={"content-type": "application/json"}
        )
    detail = answer.json()["detail"]
    assert answer.status_code == 400 and detail["code"] == "unreadable-body"
    assert "JSON" in detail["message"] and "UTF-8" in detail["message_vi"]


def test_metrics_are_documented_as_text() -> None:
    assert "text/plain" in spec("alerts")["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
