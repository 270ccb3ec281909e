"""Failed deliveries, for an agency's operators: listed with their attempts and last error, retried (by
HTTP and by `dondoc alerts`) to a delivery with one AlertDelivered, and only by the recipient's agency."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime
from functools import partial
from typing import Any

import httpx
import pytest

from events.clock import VN_TZ, ManualClock
from events.tasks import TaskCompleted
from events.topics import ALERT_EVENTS
from services.alerts.bootstrap import definition
from services.alerts.config import AlertsConfig
from services.runtime import auth
from tests.conftest import REPO, eventually, unique
from tests.integration.progress_alerts_kit import Events, assign, bearer, envelope, fetch, publish, serve, topic_events
from tests.integration.test_alerts_channels import ON_PREMISE, AgencySystem

pytestmark = pytest.mark.integration

CONFIG = AlertsConfig(
    delivery_backoff_s=0.05,
    delivery_backoff_max_s=0.2,
    delivery_poll_interval_s=0.2,
    delivery_max_attempts=3,
    delivery_timeout_s=0.5,
    webhook_allowed_networks=ON_PREMISE,
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ))


@pytest.fixture
async def http(run_service: Any, clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    async with run_service(definition(CONFIG), clock) as client:
        yield client


@pytest.fixture
async def alert_events(infra: Any) -> AsyncIterator[Events]:
    async with topic_events(infra.kafka, ALERT_EVENTS, 3) as found:
        yield found


async def _failed_webhook(infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock, url: str) -> Any:
    """An alert whose webhook delivery gave up (the agency system failed every try): (lead, task, id)."""
    lead = unique("lead")
    r = await http.put("/v1/alerts/webhook", json={"url": f"{url}/alerts"}, headers=bearer(settings, lead))
    assert r.status_code == 200, r.text
    task_id, _ = await assign(infra.kafka, clock.now(), officer=unique("officer"), lead=lead)

    async def failed() -> list[dict[str, Any]]:
        sql = "SELECT delivery_id FROM deliveries WHERE task_id = $1 AND status = 'failed'"
        return await fetch(settings, "alerts", sql, task_id)

    rows = await eventually(failed, what="the webhook delivery to give up")
    return lead, task_id, rows[0]["delivery_id"]


async def _webhook_delivered(events: Events, task_id: str) -> list[dict[str, Any]]:
    found = [e.payload.model_dump() for e in await events.of(task_id, "AlertDelivered")]
    return [e for e in found if e["channel"] == "webhook"]


async def test_an_agency_lists_and_retries_its_failed_deliveries_and_no_other_agency_can(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock, alert_events: Events
) -> None:
    system = AgencySystem(failures=3)  # as many as the attempts: the delivery gives up, the 4th try succeeds
    async with serve(system.app) as url:
        lead, task_id, delivery_id = await _failed_webhook(infra, settings, http, clock, url)
        mine, other = bearer(settings, lead), bearer(settings, unique("other"))

        listed = (await http.get("/v1/alerts/deliveries", headers=mine)).json()["deliveries"]
        assert [d["delivery_id"] for d in listed] == [str(delivery_id)]
        assert listed[0]["attempts"] == 3 and listed[0]["last_error"] == "http-5xx"  # a class, never the body
        assert (await http.get("/v1/alerts/deliveries", headers=other)).json()["deliveries"] == []
        assert (await http.get("/v1/alerts/deliveries")).status_code == 401

        refused = await http.post(f"/v1/alerts/deliveries/{delivery_id}/retry", headers=other)
        assert refused.status_code == 403 and refused.json()["detail"]["code"] == "not-your-delivery"
        assert "cơ quan khác" in refused.json()["detail"]["message_vi"]
        missing = await http.post(f"/v1/alerts/deliveries/{uuid.uuid4()}/retry", headers=mine)
        assert missing.status_code == 404 and "Không tìm thấy" in missing.json()["detail"]["message_vi"]

        retried = await http.post(f"/v1/alerts/deliveries/{delivery_id}/retry", headers=mine)
        assert retried.status_code == 200, retried.text
        assert retried.json()["retried"] is True and retried.json()["attempts"] == 0
        delivered = await eventually(partial(_webhook_delivered, alert_events, task_id), what="AlertDelivered")
        again = await http.post(f"/v1/alerts/deliveries/{delivery_id}/retry", headers=mine)
    assert len(system.requests) == 4
    assert [d["attempts"] for d in delivered] == [1]  # once, counted from the retry
    assert again.status_code == 409 and again.json()["detail"]["code"] == "already-delivered"
    assert (await _webhook_delivered(alert_events, task_id)) == delivered


async def test_the_failed_delivery_of_an_alert_since_resolved_is_not_retried(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    system = AgencySystem(failures=3)
    async with serve(system.app) as url:
        lead, task_id, delivery_id = await _failed_webhook(infra, settings, http, clock, url)
        completed = TaskCompleted(
            reported_on=date(2022, 11, 20), deadline_in_force=date(2022, 11, 30), on_time=True, product="BC 1"
        )
        await publish(infra.kafka, envelope(completed, task_id=task_id, at=clock.now()))

        async def told() -> bool:  # the target that never got the alert still hears that it is over
            return any(json.loads(raw)["event"] == "resolved" for _, raw in system.requests)

        await eventually(told, what="the resolution by webhook")
        listed = (await http.get("/v1/alerts/deliveries", headers=bearer(settings, lead))).json()["deliveries"]
        refused = await http.post(f"/v1/alerts/deliveries/{delivery_id}/retry", headers=bearer(settings, lead))
    assert [d["alert_resolved_at"] is not None for d in listed] == [True]
    assert refused.status_code == 409 and refused.json()["detail"]["code"] == "alert-resolved"
    assert "đã kết thúc" in refused.json()["detail"]["message_vi"]


async def dondoc(port: int, token: str, *args: str) -> tuple[int, str, str]:
    """Run ``dondoc`` as a process against the alerts service on ``port``: (exit code, stdout, stderr)."""
    env = {
        **os.environ,
        "DONDOC_ALERTS_PORT": str(port),
        "DONDOC_HTTP_HOST": "127.0.0.1",
        "DONDOC_TOKEN": token,
        "COLUMNS": "200",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli.main", *args, cwd=REPO, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_the_cli_lists_the_failed_deliveries_of_the_token_s_agency_and_retries_one(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock, alert_events: Events
) -> None:
    system = AgencySystem(failures=3)
    async with serve(system.app) as url, serve(http.app) as service:  # type: ignore[attr-defined]
        lead, task_id, delivery_id = await _failed_webhook(infra, settings, http, clock, url)
        port = int(service.rsplit(":", 1)[1])
        token, _ = auth.issue(settings.token_secret, lead, datetime.now().astimezone())
        someone_else, _ = auth.issue(settings.token_secret, unique("other"), datetime.now().astimezone())

        code, listing, err = await dondoc(port, token, "alerts", "deliveries", "--status", "failed")
        assert code == 0, err
        assert str(delivery_id) in listing and f"{url}/alerts" in listing and "http-5xx" in listing

        code, _, err = await dondoc(port, someone_else, "alerts", "retry", str(delivery_id))
        assert code == 1 and "cơ quan khác" in err
        code, out, err = await dondoc(port, token, "alerts", "retry", str(delivery_id))
        assert code == 0, err
        assert "Đã đưa lần gửi" in out
        await eventually(partial(_webhook_delivered, alert_events, task_id), what="AlertDelivered after the retry")
        code, _, err = await dondoc(port, token, "alerts", "retry", str(delivery_id))
    assert code == 1 and "đã gửi thành công" in err
