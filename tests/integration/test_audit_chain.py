"""The audit log is append-only and hash-chained: tampering with any row is found by `audit verify`."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from events.clock import VN_TZ, ManualClock
from services import registry
from services.assignment import provision
from tests.conftest import eventually
from tests.integration.test_walking_skeleton import assign_body

pytestmark = pytest.mark.integration


async def test_a_secret_tasks_history_is_shown_only_to_the_agencies_involved(run_service: Any, settings: Any) -> None:
    clock = ManualClock(datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ))
    async with (
        run_service(registry.definition("assignment"), clock) as assignment,
        run_service(registry.definition("audit"), clock) as audit,
    ):
        tokens = await provision.prepare(
            settings.database_url, clock, settings.token_secret, ["ubnd-bd", "bd-stc", "bd-sxd"]
        )
        bearer = {agency: {"Authorization": f"Bearer {t.token}"} for agency, t in tokens.items()}
        ids = {}
        for classification in ("mat", "cong-khai"):
            created = await assignment.post(
                "/v1/tasks", json={**assign_body(), "classification": classification}, headers=bearer["ubnd-bd"]
            )
            assert created.status_code == 201, created.text
            ids[classification] = created.json()["task_id"]

        async def recorded() -> bool:  # the assigning agency may always read it
            return (await audit.get(f"/v1/audit/tasks/{ids['mat']}", headers=bearer["ubnd-bd"])).status_code == 200

        await eventually(recorded, what="the audit service to record the secret task")
        secret = f"/v1/audit/tasks/{ids['mat']}"
        anonymous, outsider = await audit.get(secret), await audit.get(secret, headers=bearer["bd-sxd"])
        # Refused as a task never recorded: nothing of its content, its agencies, or even that it exists.
        never = (await audit.get("/v1/audit/tasks/never-recorded")).json()
        for refused in (anonymous, outsider):
            assert refused.status_code == 404
            assert refused.json() == json.loads(json.dumps(never).replace("never-recorded", ids["mat"]))
        assert "Triển khai" not in anonymous.text + outsider.text
        assert (await audit.get(secret, headers=bearer["bd-stc"])).status_code == 200  # a coordinating agency

        async def public() -> bool:  # a public task's history stays open to all
            return (await audit.get(f"/v1/audit/tasks/{ids['cong-khai']}")).status_code == 200

        await eventually(public, what="the public task's history")
