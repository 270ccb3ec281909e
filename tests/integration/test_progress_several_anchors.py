"""A yearly obligation at several named points ("thường kỳ tháng 6 và tháng 12", seed 003) is tracked point by
point by the progress service: confirming one opens the next, each counted on its own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from events.clock import VN_TZ, ManualClock
from tests.integration.test_progress_workflow import (  # noqa: F401 (fixtures)
    ASSIGNER,
    COMPLETION,
    LEAD,
    assigned,
    clock,
    http,
    post,
    task,
)

pytestmark = pytest.mark.integration


async def test_each_named_month_is_an_occurrence_and_confirming_one_opens_the_next(
    infra: Any,
    settings: Any,
    http: httpx.AsyncClient,  # noqa: F811
    clock: ManualClock,  # noqa: F811
) -> None:
    task_id = await assigned(infra, http, clock, due="thường kỳ tháng 6 và tháng 12")  # issued 06/10/2022
    assert (await task(http, task_id))["due"] == "2022-12-31"
    for day, next_due in (("2022-12-20", "2023-06-30"), ("2023-07-03", "2023-12-31")):
        clock.set(datetime.fromisoformat(f"{day}T09:00:00+07:00").astimezone(VN_TZ))
        r = await post(http, settings, LEAD, f"/v1/tasks/{task_id}/complete", COMPLETION)
        assert r.status_code == 202, r.text
        assert (await post(http, settings, ASSIGNER, f"/v1/tasks/{task_id}/confirm")).status_code == 202
        assert (await task(http, task_id))["due"] == next_due
    t = await task(http, task_id)
    assert [(c["due"], c["on_time"]) for c in t["completions"]] == [("2022-12-31", True), ("2023-06-30", False)]
