"""Who sees what in a report: secret (mật) tasks count in the figures of the agencies involved only,
through their agency token, and never appear by name to anyone else; the lead-only option keeps an
agency's own tasks apart from its subtree's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from events.clock import VN_TZ, ManualClock
from events.tasks import SourceDocument
from services.reporting.bootstrap import DEFINITION
from services.runtime import auth
from tests.conftest import eventually, running, unique
from tests.integration.report_scenario import Scenario, all_handled, publish, vn

pytestmark = pytest.mark.integration

AS_OF = "2023-04-01"
SECRET_OVERDUE = "MAT-1"  # assigned by the province to its Sở Tư pháp, Sở Nội vụ coordinating
SECRET_WITHIN = "MAT-2"  # assigned by the province to its Sở Kế hoạch và Đầu tư


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    s = Scenario(unique("a")).directory().danh_muc().timeline()
    plan = SourceDocument(number=s.id("05/KH-MAT"), issued_on=vn(2023, 1, 5).date(), issuer="UBND tỉnh Bình Định")
    s.assign(
        s.task("mat-1"),
        code=SECRET_OVERDUE,
        title="Nhiệm vụ mật: rà soát hồ sơ an ninh",
        lead="bd-stp",
        coordinating=("bd-snv",),
        deadline="Tháng 02/2023",
        classification="mat",
        key_task=True,
        at=vn(2023, 1, 5),
        document=plan,
    )
    s.assign(
        s.task("mat-2"),
        code=SECRET_WITHIN,
        title="Nhiệm vụ mật: phương án bảo vệ",
        lead="bd-skhdt",
        deadline="Tháng 06/2023",
        classification="mat",
        at=vn(2023, 1, 5),
        document=plan,
    )
    # Led by a unit of the provincial office (Phòng Kiểm soát TTHC), not by the office itself.
    s.assign(
        s.task("kstt-1"),
        code="KSTT-1",
        title="Rà soát quy trình nội bộ giải quyết thủ tục hành chính",
        lead="bd-vp-kstt",
        assigning="vp-ubnd-bd",
        deadline="Tháng 02/2023",
        at=vn(2023, 1, 5),
    )
    return s


@pytest.fixture(scope="module")
async def http(settings: Any, infra: Any, scenario: Scenario) -> AsyncIterator[httpx.AsyncClient]:
    clock = ManualClock(datetime(2023, 9, 1, 9, 0, tzinfo=VN_TZ))
    async with running(DEFINITION, settings, clock) as client:
        await publish(infra.kafka, scenario.envelopes)

        await eventually(
            lambda: all_handled(settings.database_url, scenario.envelopes), timeout=60, what="the scenario to be read"
        )
        yield client


def token(settings: Any, scenario: Scenario, agency: str) -> dict[str, str]:
    issued, _ = auth.issue(settings.token_secret, scenario.id(agency), datetime.now(UTC))
    return {"Authorization": f"Bearer {issued}"}


async def summary(
    http: httpx.AsyncClient, scenario: Scenario, headers: dict[str, str] | None = None, **params: Any
) -> dict[str, Any]:
    params.setdefault("agency_id", scenario.id("ubnd-bd"))
    params.setdefault("as_of", AS_OF)
    response = await http.get("/v1/reports/summary", params=params, headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def codes(body: dict[str, Any]) -> set[str]:
    return {i["code"] for i in body["overdue"]["items"]}


async def test_secret_tasks_count_only_for_the_agencies_involved(
    http: httpx.AsyncClient, scenario: Scenario, settings: Any
) -> None:
    public = await summary(http, scenario)
    assigner = await summary(http, scenario, token(settings, scenario, "ubnd-bd"))
    lead = await summary(http, scenario, token(settings, scenario, "bd-stp"))
    coordinator = await summary(http, scenario, token(settings, scenario, "bd-snv"))
    outsider = await summary(http, scenario, token(settings, scenario, "bd-syt"))
    f = {
        name: b["figures"]
        for name, b in (
            ("public", public),
            ("assigner", assigner),
            ("lead", lead),
            ("coordinator", coordinator),
            ("outsider", outsider),
        )
    }
    # The province assigned both; its Sở Tư pháp leads and its Sở Nội vụ coordinates the overdue one only.
    assert f["assigner"]["assigned"] == f["public"]["assigned"] + 2
    assert f["assigner"]["unfinished_overdue"] == f["public"]["unfinished_overdue"] + 1
    assert f["assigner"]["unfinished_within_deadline"] == f["public"]["unfinished_within_deadline"] + 1
    for involved in ("lead", "coordinator"):
        assert f[involved]["assigned"] == f["public"]["assigned"] + 1
        assert f[involved]["unfinished_overdue"] == f["public"]["unfinished_overdue"] + 1
    assert f["outsider"] == f["public"]
    assert assigner["key_tasks"]["unfinished_overdue"] == public["key_tasks"]["unfinished_overdue"] + 1
    # By name: in the overdue list of those involved only.
    assert SECRET_OVERDUE in codes(assigner) and SECRET_OVERDUE in codes(lead)
    assert SECRET_OVERDUE not in codes(public) and SECRET_OVERDUE not in codes(outsider)
    for body in (public, outsider):
        text = str(body)
        assert "Nhiệm vụ mật" not in text and SECRET_OVERDUE not in text and SECRET_WITHIN not in text
    # The breakdown of the involved viewer counts it in its lead's row.
    rows = {r["agency_id"]: r["figures"] for r in lead["by_agency"]["rows"]}
    public_rows = {r["agency_id"]: r["figures"] for r in public["by_agency"]["rows"]}
    stp = scenario.id("bd-stp")
    assert rows[stp]["unfinished_overdue"] == public_rows.get(stp, {"unfinished_overdue": 0})["unfinished_overdue"] + 1


async def test_secret_tasks_are_hidden_in_search_and_delegation_trees(
    http: httpx.AsyncClient, scenario: Scenario, settings: Any
) -> None:
    found = (await http.get("/v1/reports/tasks", params={"q": SECRET_OVERDUE})).json()["tasks"]
    assert found == []
    involved = token(settings, scenario, "bd-stp")
    found = (await http.get("/v1/reports/tasks", params={"q": SECRET_OVERDUE}, headers=involved)).json()["tasks"]
    assert [t["code"] for t in found] == [SECRET_OVERDUE]
    path = f"/v1/reports/tasks/{scenario.task('mat-1')}/tree"
    # Asked for by its own id, a secret task answers to others as one that does not exist (runtime/access.py);
    # hidden nodes inside a tree: tests/integration/test_authorization_matrix.py.
    hidden = await http.get(path)
    missing = await http.get("/v1/reports/tasks/no-such-task/tree")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"]["code"] == missing.json()["detail"]["code"] == "task-not-found"
    assert SECRET_OVERDUE not in hidden.text and "rà soát" not in hidden.text
    shown = (await http.get(path, headers=involved)).json()["nodes"][0]
    assert shown["code"] == SECRET_OVERDUE and shown["title"].startswith("Nhiệm vụ mật: rà soát")
    # A document whose tasks are all secret is not even listed to others.
    plan = scenario.id("05/KH-MAT")
    documents = {d["number"] for d in (await http.get("/v1/reports/documents")).json()["documents"]}
    assert "131/NQ-CP" in documents and plan not in documents
    documents = {d["number"] for d in (await http.get("/v1/reports/documents", headers=involved)).json()["documents"]}
    assert plan in documents


async def test_a_token_that_is_not_valid_is_refused(http: httpx.AsyncClient, scenario: Scenario) -> None:
    response = await http.get(
        "/v1/reports/summary",
        params={"agency_id": scenario.id("ubnd-bd")},
        headers={"Authorization": "Bearer dd1.e30.not-a-signature"},
    )
    assert response.status_code == 401
    assert "Mã xác thực" in response.json()["detail"]["message_vi"]


async def test_lead_only_keeps_the_agencys_own_tasks_apart_from_its_units(
    http: httpx.AsyncClient, scenario: Scenario
) -> None:
    office = scenario.id("vp-ubnd-bd")
    subtree = await summary(http, scenario, agency_id=office)
    own = await summary(http, scenario, agency_id=office, lead_only="true")
    # The office's unit leads KSTT-1, overdue since March: in the subtree, not in the office's own tasks.
    assert own["figures"]["assigned"] == subtree["figures"]["assigned"] - 1
    assert own["figures"]["unfinished_overdue"] == subtree["figures"]["unfinished_overdue"] - 1
    assert "KSTT-1" in codes(subtree) and "KSTT-1" not in codes(own)
    assert own["figures"]["assigned"] > 0 and codes(own)
    assert own["filters"]["lead_only"] is True
    assert own["scope"].endswith("(chỉ nhiệm vụ chủ trì trực tiếp)")
    # Its breakdown is the one row of its own tasks.
    assert [(r["agency_id"], r["own"]) for r in own["by_agency"]["rows"]] == [(office, True)]
    assert own["by_agency"]["rows"][0]["figures"] == {**own["figures"]}
    # Without an agency, lead-only means nothing: refused with the reason.
    response = await http.get("/v1/reports/summary", params={"lead_only": "true"})
    assert response.status_code == 422 and response.json()["detail"]["code"] == "lead-only-needs-agency"
