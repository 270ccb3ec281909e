"""The directory: admin HTTP and CLI, every change an event on the compacted dondoc.directory topic."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import typer
from typer.testing import CliRunner

from events.topics import DIRECTORY
from services import registry
from services.assignment import provision
from services.cli import assignment_cli
from tests.conftest import running, unique
from tests.integration.test_assignment_support import (
    bearer,
    body,
    clock,
    kafka_records,
    outbox_events,
    payload,
    prepared,
)

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(settings: Any) -> AsyncIterator[tuple[Any, dict[str, Any]]]:
    async with running(registry.definition("assignment"), settings, clock()) as http:
        yield http, await prepared(settings, "ubnd-bd", "bd-stc", "bd-sgddt")


def unit(parent: str | None = "bd-stc", **fields: Any) -> dict[str, Any]:
    return {"name": f"Phòng thử nghiệm {unique('n')}", "level": "don-vi", "parent_id": parent, **fields}


async def test_loading_the_same_directory_again_changes_and_publishes_nothing(api: Any, settings: Any) -> None:
    before = await outbox_events(settings.database_url, "cp")
    async with provision.assignment_db(settings.database_url) as pool:
        counts = await provision.load_directory(pool, clock())
    assert counts == {"agency unchanged": 105, "group unchanged": 15, "person unchanged": 162}
    assert await outbox_events(settings.database_url, "cp") == before


async def test_every_change_is_a_whole_record_keyed_by_its_id_on_the_directory_topic(api: Any, settings: Any) -> None:
    http, tokens = api
    agency_id = unique("x")
    fields = unit()
    created = await http.put(f"/v1/directory/agencies/{agency_id}", json=fields, headers=bearer(tokens["ubnd-bd"]))
    assert created.json() | {"record": None} == {"changed": True, "version": 1, "record": None}
    renamed = await http.put(
        f"/v1/directory/agencies/{agency_id}",
        json={**fields, "short_name": "PTN"},
        headers=bearer(tokens["ubnd-bd"]),
    )
    assert renamed.json()["version"] == 2
    same = await http.put(
        f"/v1/directory/agencies/{agency_id}",
        json={**fields, "short_name": "PTN"},
        headers=bearer(tokens["ubnd-bd"]),
    )
    assert same.json()["changed"] is False
    records = await kafka_records(
        settings,
        DIRECTORY,
        lambda kept: len(kept) >= 2,
        keep=lambda r: r.key == agency_id.encode(),
    )
    events = [payload(r) for r in records]
    assert [(e["event_type"], e["payload"]["version"]) for e in events] == [
        ("AgencyChanged", 1),
        ("AgencyChanged", 2),
    ]
    assert events[1]["payload"] | {"name": None} == {  # the whole state, not what changed
        "agency_id": agency_id,
        "name": None,
        "short_name": "PTN",
        "level": "don-vi",
        "parent_id": "bd-stc",
        "aliases": [],
        "tracking_office": False,
        "can_assign_to": [],
        "active": True,
        "successor_id": None,
        "version": 2,
    }


async def test_people_are_published_keyed_by_person_and_one_head_per_agency(api: Any, settings: Any) -> None:
    http, tokens = api
    agency_id, head, other = unique("x"), unique("p"), unique("p")
    await http.put(f"/v1/directory/agencies/{agency_id}", json=unit(), headers=bearer(tokens["bd-stc"]))
    person = {"agency_id": agency_id, "full_name": "Nguyễn Văn Thử", "role": "head", "title": "Trưởng phòng"}
    first = await http.put(f"/v1/directory/people/{head}", json=person, headers=bearer(tokens["bd-stc"]))
    assert first.status_code == 200
    second = await http.put(
        f"/v1/directory/people/{other}",
        json={**person, "full_name": "Trần Thị Thử"},
        headers=bearer(tokens["bd-stc"]),
    )
    assert second.status_code == 409 and second.json()["detail"]["code"] == "head-exists"
    [event] = await outbox_events(settings.database_url, head)
    assert (event["event_type"], event["payload"]["role"]) == ("PersonChanged", "head")
    shown = (await http.get(f"/v1/directory/agencies/{agency_id}")).json()
    assert [p["person_id"] for p in shown["people"]] == [head]


async def test_an_agency_administers_only_below_itself(api: Any) -> None:
    http, tokens = api
    elsewhere = await http.put(
        f"/v1/directory/agencies/{unique('x')}", json=unit("bd-stc"), headers=bearer(tokens["bd-sgddt"])
    )
    assert elsewhere.status_code == 403 and elsewhere.json()["detail"]["code"] == "not-directory-admin"
    itself = await http.put(
        "/v1/directory/agencies/bd-sgddt",
        json=unit("ubnd-bd", level="so-nganh"),
        headers=bearer(tokens["bd-sgddt"]),
    )
    assert itself.status_code == 403  # its can_assign_to would grant itself power
    root = await http.put(f"/v1/directory/agencies/{unique('x')}", json=unit(None), headers=bearer(tokens["ubnd-bd"]))
    assert root.status_code == 403 and root.json()["detail"]["code"] == "root-agency-cli-only"
    person = await http.put(
        f"/v1/directory/people/{unique('p')}",
        headers=bearer(tokens["bd-sgddt"]),
        json={"agency_id": "bd-stc", "full_name": "X", "role": "officer"},
    )
    assert person.status_code == 403


async def test_a_name_means_one_body(api: Any) -> None:
    http, tokens = api
    taken = await http.put(
        f"/v1/directory/agencies/{unique('x')}",
        headers=bearer(tokens["ubnd-bd"]),
        json=unit(aliases=["Sở Tư pháp"]),
    )
    assert taken.status_code == 409 and taken.json()["detail"]["code"] == "name-taken"
    assert "bd-stp" in taken.json()["detail"]["message"]


async def test_a_parent_inside_the_agency_itself_is_refused(api: Any) -> None:
    http, tokens = api
    outer, inner = unique("x"), unique("x")
    await http.put(f"/v1/directory/agencies/{outer}", json=unit(), headers=bearer(tokens["ubnd-bd"]))
    await http.put(f"/v1/directory/agencies/{inner}", json=unit(outer), headers=bearer(tokens["ubnd-bd"]))
    loop = await http.put(f"/v1/directory/agencies/{outer}", json=unit(inner), headers=bearer(tokens["ubnd-bd"]))
    assert loop.status_code == 422 and loop.json()["detail"]["code"] == "parent-cycle"


async def test_an_abolished_agency_gets_no_new_task_and_names_its_successor(api: Any) -> None:
    http, tokens = api
    old, new = unique("x"), unique("x")
    await http.put(f"/v1/directory/agencies/{new}", json=unit(), headers=bearer(tokens["ubnd-bd"]))
    fields = unit()
    await http.put(f"/v1/directory/agencies/{old}", json=fields, headers=bearer(tokens["ubnd-bd"]))
    await http.put(
        f"/v1/directory/agencies/{old}",
        json={**fields, "active": False, "successor_id": new},
        headers=bearer(tokens["ubnd-bd"]),
    )
    refused = await http.post("/v1/tasks", json=body(old, key=unique("k")), headers=bearer(tokens["ubnd-bd"]))
    assert refused.status_code == 422 and refused.json()["detail"]["code"] == "agency-inactive"
    assert f"{old} → {new}" in refused.json()["detail"]["message"]


async def test_how_a_cell_reads_against_the_directory(api: Any) -> None:
    http, _ = api
    response = await http.get("/v1/directory/match", params={"name": "Sở Tư pháp và So Tai chinh"})
    mentions = response.json()["mentions"]
    assert mentions[0]["found"] == [{"kind": "agency", "id": "bd-stp"}]
    assert (mentions[1]["found"], mentions[1]["suggestions"]) == ([], ["Sở Tài chính"])


# ----------------------------------------------------------------------------------------------- CLI


@pytest.fixture
def cli(infra: Any) -> Any:
    app, bench = typer.Typer(), typer.Typer()
    app.add_typer(bench, name="bench")
    assignment_cli.register(app, bench)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_the_cli_adds_and_changes_agencies_and_people(cli: Any, api: Any) -> None:
    agency_id, person_id = unique("x"), unique("p")
    made = cli(
        "directory",
        "agency",
        agency_id,
        "--name",
        f"Phòng {agency_id}",
        "--level",
        "don-vi",
        "--parent",
        "bd-stc",
    )
    assert made.exit_code == 0, made.output
    assert "version 1" in made.output
    assert "version 2" in cli("directory", "agency", agency_id, "--alias", f"P {agency_id}").output
    person = cli("directory", "person", person_id, "--agency", agency_id, "--name", "Lê Văn Thử", "--role", "officer")
    assert person.exit_code == 0 and "version 1" in person.output
    bad = cli("directory", "person", unique("p"), "--agency", "khong-co", "--name", "X", "--role", "officer")
    assert bad.exit_code == 1 and "unknown-agency" in bad.output


def test_the_cli_issues_a_token_it_prints_once_and_can_revoke(cli: Any, api: Any) -> None:
    # ``api``: the module's service has prepared the seed agencies the command names (bd-stc), run alone too.
    issued = cli("token", "issue", "bd-stc", "--json")
    assert issued.exit_code == 0, issued.output
    token = json.loads(issued.stdout)
    assert token["token"].startswith("dd1.") and len(token["intake_key"]) == 64
    assert token["token_id"] in cli("token", "list", "bd-stc").output
    assert cli("token", "revoke", token["token_id"]).exit_code == 0
    assert cli("token", "revoke", token["token_id"]).exit_code == 1
    unknown = cli("token", "issue", "khong-co")
    assert unknown.exit_code == 1 and "Không tìm thấy" in unknown.output
