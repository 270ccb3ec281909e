"""Issue 12 item 5 over HTTP: by default the alerts service refuses to register a webhook that points inside
the network; the documented on-premise allow-list accepts the installation's own network."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from events.clock import VN_TZ, ManualClock
from services.alerts.bootstrap import definition
from services.alerts.config import AlertsConfig
from tests.conftest import unique
from tests.integration.progress_alerts_kit import bearer

pytestmark = pytest.mark.integration

CLOCK = ManualClock(datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/alerts",  # loopback, and plain http
        "https://127.0.0.1/alerts",
        "https://169.254.169.254/latest/meta-data/",  # the cloud metadata endpoint
        "https://10.0.0.8/alerts",
        "https://[::1]/alerts",
        "https://localhost/alerts",  # a name is resolved, and its addresses judged
    ],
)
async def test_the_default_refuses_internal_webhook_targets(settings: Any, run_service: Any, url: str) -> None:
    async with run_service(definition(AlertsConfig()), CLOCK) as http:
        r = await http.put("/v1/alerts/webhook", json={"url": url}, headers=bearer(settings, unique("agency")))
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail["code"] == "refused-target"
    assert "https" in detail["message"] and detail["message_vi"].startswith("Địa chỉ webhook bị từ chối")


async def test_an_allowed_on_premise_network_is_accepted(settings: Any, run_service: Any) -> None:
    config = AlertsConfig(webhook_allowed_networks=("127.0.0.0/8",))
    async with run_service(definition(config), CLOCK) as http:
        r = await http.put(
            "/v1/alerts/webhook", json={"url": "http://127.0.0.1:8080/alerts"}, headers=bearer(settings, unique("a"))
        )
    assert r.status_code == 200, r.text
