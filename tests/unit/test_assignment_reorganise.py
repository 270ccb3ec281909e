"""Applying a reorganisation decision (services/assignment/directory/reorganise.py) against in-memory fakes
of its ledger, the task and directory repositories and the outbox (tests/fakes/): which tasks move and which
stay, what is published, the same decision again, and what the admin is told of secret tasks. The rule
itself (which task goes where, which decision is refused) is tests/unit/test_reorganisation_rules.py; the
real stack is tests/integration/test_reorganisation.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

import pytest

from events.clock import VN_TZ
from events.envelope import Actor
from events.tasks import SourceDocument
from services.assignment.directory.model import AgencyRecord
from services.assignment.directory.reorganisation import ReorganisationFields
from services.assignment.directory.reorganise import Applied, reorganise
from services.assignment.tasks.assign import assign_task
from services.assignment.tasks.commands import AssignTask
from services.runtime.refusals import Refused
from services.runtime.unit_of_work import UnitOfWork
from tests.fakes import assignment as fake_assignment
from tests.fakes.runtime import InMemoryOutbox, fake_unit_of_work

NOW = datetime(2025, 7, 1, 9, 0, tzinfo=VN_TZ)
PROVINCE, EDUCATION, FINANCE, PLANNING, MERGED = "ubnd-tinh", "so-gddt", "so-tc", "so-khdt", "so-tc-kh"
NQ = SourceDocument(number="202/2025/QH15", issued_on=date(2025, 6, 12), issuer="Quốc hội")
ACTOR = Actor(agency_id=PROVINCE)


class World:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tasks, self.directory = fake_assignment.install_for_commands(monkeypatch)
        self.ledger = fake_assignment.InMemoryLedger(self.tasks)
        for agency_id, parent in ((PROVINCE, None), (EDUCATION, PROVINCE), (FINANCE, PROVINCE), (PLANNING, PROVINCE)):
            self.directory.add(
                AgencyRecord(agency_id=agency_id, name=f"Cơ quan {agency_id}", level="so-nganh", parent_id=parent)
            )
        self.directory.add(
            AgencyRecord(agency_id=MERGED, name="Sở Tài chính mới", level="so-nganh", parent_id=PROVINCE)
        )
        self.uow: UnitOfWork
        self.outbox: InMemoryOutbox
        self.uow, self.outbox = fake_unit_of_work(monkeypatch, "assignment", NOW)

    async def task(self, key: str, lead: str, coordinating: tuple[str, ...] = (), **fields: Any) -> str:
        command = AssignTask(
            title="Sắp xếp đơn vị hành chính",
            source_document=SourceDocument(number="1/KH-UBND", issued_on=date(2025, 5, 2), issuer="UBND tỉnh"),
            lead_agency_id=lead,
            coordinating_agency_ids=coordinating,
            deadline="31/12/2025",
            idempotency_key=key,
            **fields,
        )
        return (await assign_task(command.acting_as(PROVINCE), self.uow)).task_id

    async def apply(self, reorganisation_id: str = "nq-202", **body: Any) -> Applied:
        return await reorganise(reorganisation_id, merge(**body), self.uow, ACTOR, self.ledger)

    def events(self, event_type: str) -> list[dict[str, Any]]:
        return [{"task_id": e.task_id, **e.payload.model_dump()} for e in self.outbox.of_type(event_type)]


def merge(**body: Any) -> ReorganisationFields:
    return ReorganisationFields.model_validate(
        {
            "kind": "merge",
            "decision": NQ,
            "effective_on": date(2025, 7, 1),
            "agencies": [
                {"agency_id": FINANCE, "successor_id": MERGED},
                {"agency_id": PLANNING, "successor_id": MERGED},
            ],
            **body,
        }
    )


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    return World(monkeypatch)


async def test_open_tasks_move_to_the_successor_and_finished_ones_stay(world: World) -> None:
    led = await world.task("k-1", FINANCE)
    coordinated = await world.task("k-2", EDUCATION, (FINANCE, PLANNING))
    done, withdrawn = await world.task("k-3", FINANCE), await world.task("k-4", FINANCE)
    world.ledger.completed.add(done)
    world.tasks.tasks[withdrawn] = replace(world.tasks.tasks[withdrawn], withdrawn_at=NOW)
    applied = await world.apply()
    assert (applied.changed, sorted(applied.moved_task_ids)) == (True, sorted([led, coordinated]))
    assert world.tasks.tasks[led].lead_agency_id == MERGED
    assert world.tasks.tasks[coordinated].coordinating_agency_ids == (MERGED,)  # two merged into one, listed once
    assert {world.tasks.tasks[t].lead_agency_id for t in (done, withdrawn)} == {FINANCE}
    assert {(e["task_id"], e["from_agency_id"], e["role"]) for e in world.events("TaskTransferred")} == {
        (led, FINANCE, "chu-tri"),
        (coordinated, FINANCE, "phoi-hop"),
        (coordinated, PLANNING, "phoi-hop"),
    }
    abolished = {(e["agency_id"], e["active"], e["successor_id"]) for e in world.events("AgencyChanged")}
    assert abolished == {(FINANCE, False, MERGED), (PLANNING, False, MERGED)}


async def test_the_same_decision_again_changes_nothing_and_another_body_under_its_id_is_a_conflict(
    world: World,
) -> None:
    led = await world.task("k-1", FINANCE)
    first = await world.apply()
    published = len(world.outbox.events)
    again = await world.apply()
    assert (again.changed, again.moved_task_ids, again.transfers) == (False, first.moved_task_ids, 0)
    with pytest.raises(Refused) as caught:
        await world.apply(note="Một nội dung khác")
    assert (caught.value.status_code, caught.value.code) == (409, "reorganisation-differs")
    assert len(world.outbox.events) == published and world.tasks.tasks[led].lead_agency_id == MERGED


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"agencies": [{"agency_id": "so-khong-co", "successor_id": MERGED}]}, 404, "unknown-agency"),
        ({"effective_on": date(2025, 7, 2)}, 422, "effective-in-future"),
        (
            {
                "agencies": [
                    {"agency_id": FINANCE, "successor_id": PLANNING},
                    {"agency_id": PLANNING, "successor_id": MERGED},
                ]
            },
            422,
            "successor-abolished",
        ),
    ],
)
async def test_a_refused_decision_moves_nothing_and_publishes_nothing(
    world: World, body: dict[str, Any], status: int, code: str
) -> None:
    led = await world.task("k-1", FINANCE)
    published = len(world.outbox.events)
    with pytest.raises(Refused) as caught:
        await world.apply(**body)
    assert (caught.value.status_code, caught.value.code) == (status, code)
    assert world.tasks.tasks[led].lead_agency_id == FINANCE and world.ledger.recorded_ == {}
    assert len(world.outbox.events) == published and world.directory.agencies_[FINANCE].active


async def test_a_secret_task_moved_is_named_only_to_an_agency_involved_and_counted_for_every_admin(
    world: World,
) -> None:
    public, secret = await world.task("k-1", FINANCE), await world.task("k-2", FINANCE, classification="mat")
    applied = await world.apply()
    for viewer, named in (
        (PROVINCE, {public, secret}),
        (FINANCE, {public, secret}),
        (MERGED, {public, secret}),
        (EDUCATION, {public}),
    ):
        view = applied.view(viewer)
        assert (set(view.moved_task_ids), view.moved) == (named, 2), viewer
