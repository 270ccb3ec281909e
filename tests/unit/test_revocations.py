"""Recording a revoked token (services/runtime/revocations.py) never hides TokenRevoked from the service's
own handlers: its TokenRevoked handler, else its "*" handler (the audit trail), runs after the record, in
the same unit of work. No broker or database: the connection is a fake that notes what it executes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import asyncpg

from events.clock import VN_TZ, ManualClock
from events.directory import AgencyChanged, TokenRevoked
from events.envelope import Actor, Envelope, deterministic_id, new_envelope
from events.topics import DIRECTORY, TASK_EVENTS
from services import registry
from services.runtime import revocations
from services.runtime.consuming import ALL_EVENTS
from services.runtime.unit_of_work import Handler, UnitOfWork

WHEN = datetime(2022, 11, 25, 9, 0, tzinfo=VN_TZ)


class FakeConnection:
    def __init__(self, calls: list[Any]) -> None:
        self.calls = calls

    async def execute(self, sql: str, *args: Any) -> str:
        self.calls.append(("execute", sql, args))
        return "INSERT 0 1"


def revoked() -> Envelope:
    payload = TokenRevoked(token_id="0a1b2c3d4e5f6071", agency_id="bd-sgddt", revoked_at=WHEN)
    return new_envelope(
        payload,
        event_id=deterministic_id("test", "revoked"),
        occurred_at=WHEN,
        producer="assignment",
        actor=Actor(agency_id="dondoc"),
    )


def unit_of_work(calls: list[Any]) -> UnitOfWork:
    return UnitOfWork(cast(asyncpg.Connection, FakeConnection(calls)), "audit", "audit", ManualClock(WHEN))


def noting(name: str, calls: list[Any]) -> Handler:
    async def handler(event: Envelope, uow: UnitOfWork) -> None:
        calls.append((name, event.event_id, uow))

    return handler


async def test_the_revocation_is_recorded_then_the_star_handler_still_sees_the_event() -> None:
    calls: list[Any] = []
    handlers = revocations.with_revocations({ALL_EVENTS: noting("audit", calls)})
    event, uow = revoked(), unit_of_work(calls)
    await handlers["TokenRevoked"](event, uow)
    assert [c[0] for c in calls] == ["execute", "audit"]
    assert calls[0][2] == ("0a1b2c3d4e5f6071", "bd-sgddt", WHEN)
    assert calls[1][1:] == (event.event_id, uow)  # the same event, in the same transaction
    assert ALL_EVENTS in handlers  # every other event type still reaches the "*" handler


async def test_a_services_own_token_revoked_handler_runs_rather_than_its_star_handler() -> None:
    calls: list[Any] = []
    handlers = revocations.with_revocations({"TokenRevoked": noting("own", calls), ALL_EVENTS: noting("star", calls)})
    await handlers["TokenRevoked"](revoked(), unit_of_work(calls))
    assert [c[0] for c in calls] == ["execute", "own"]


async def test_a_service_with_no_handler_for_it_still_records_the_revocation() -> None:
    calls: list[Any] = []
    agency_changed = noting("agency", calls)
    handlers = revocations.with_revocations({"AgencyChanged": agency_changed})
    await handlers["TokenRevoked"](revoked(), unit_of_work(calls))
    assert [c[0] for c in calls] == ["execute"]
    await handlers["AgencyChanged"](agency_event(active=True), unit_of_work(calls))
    assert [c[0] for c in calls] == ["execute", "execute", "agency"]  # its own handler still runs, after


def test_only_a_reader_of_the_directory_records_revocations() -> None:
    handlers: dict[str, Handler] = {}
    assert "TokenRevoked" in revocations.consumer_handlers((TASK_EVENTS, DIRECTORY), handlers)
    assert revocations.consumer_handlers((TASK_EVENTS,), handlers) is handlers


def test_the_services_that_check_agency_tokens_themselves_read_the_directory() -> None:
    # Progress and alerts verify tokens and intake keys without the assignment service's table of them.
    for name in ("progress", "alerts"):
        assert DIRECTORY in registry.definition(name).topics, name


def agency_event(active: bool) -> Envelope:
    payload = AgencyChanged(
        agency_id="ubnd-huyen-an-nhon",
        name="UBND huyện An Nhơn",
        level="ubnd-huyen",
        parent_id="ubnd-bd",
        active=active,
        successor_id=None if active else "ubnd-thi-xa-an-nhon",
        version=2,
    )
    return new_envelope(
        payload,
        event_id=deterministic_id("test", "agency", active),
        occurred_at=WHEN,
        producer="assignment",
        actor=Actor(agency_id="dondoc"),
    )


async def test_an_agency_made_inactive_is_recorded_and_its_own_handler_still_runs() -> None:
    calls: list[Any] = []
    own = {"AgencyChanged": noting("directory", calls), ALL_EVENTS: noting("*", calls)}
    handlers = revocations.with_revocations(own)
    await handlers["AgencyChanged"](agency_event(active=False), unit_of_work(calls))
    await handlers["AgencyChanged"](agency_event(active=True), unit_of_work(calls))
    statements = [c[1].split()[0] for c in calls if c[0] == "execute"]
    assert statements == ["INSERT", "DELETE"]  # abolished: listed; active again: unlisted
    assert [c[0] for c in calls] == ["execute", "directory", "execute", "directory"]
    assert all(c[2] == ("ubnd-huyen-an-nhon",) for c in calls if c[0] == "execute")
