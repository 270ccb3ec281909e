"""The alerts service's acknowledgement (services/alerts/commands.py) against in-memory fakes (tests/fakes/):
its refusals change nothing and emit nothing; an acknowledgement stops the repeats, tells the stream and
emits once, however often it is sent."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest

from events.clock import VN_TZ
from services.alerts.commands import acknowledge
from services.runtime.refusals import Refused
from tests.fakes import alerts as fake_alerts
from tests.fakes.runtime import fake_unit_of_work

NOW = datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Any:
    store = fake_alerts.install(monkeypatch)
    uow, outbox = fake_unit_of_work(monkeypatch, "alerts", NOW)
    return store, uow, outbox


async def test_an_unknown_alert_is_not_found(world: Any) -> None:
    _store, uow, outbox = world
    with pytest.raises(Refused) as caught:
        await acknowledge(uuid.uuid4(), "so-gddt", uow)
    assert (caught.value.status_code, caught.value.code) == (404, "alert-not-found")
    assert caught.value.detail()["message_vi"] and outbox.events == {}


async def test_only_the_recipients_agency_acknowledges(world: Any) -> None:
    store, uow, outbox = world
    alert_id = uuid.uuid4()
    store.alerts[alert_id] = fake_alerts.an_alert(alert_id)
    with pytest.raises(Refused) as caught:
        await acknowledge(alert_id, "so-tc", uow)
    assert (caught.value.status_code, caught.value.code) == (403, "not-recipient-agency")
    assert "so-gddt" in caught.value.detail()["message_vi"]
    assert outbox.events == {} and store.alerts[alert_id].acknowledged_at is None
    assert store.cancelled == [] and store.stream == []


async def test_an_acknowledgement_stops_the_repeats_tells_the_stream_and_emits_once(world: Any) -> None:
    store, uow, outbox = world
    alert_id = uuid.uuid4()
    store.alerts[alert_id] = fake_alerts.an_alert(alert_id)
    first = await acknowledge(alert_id, "so-gddt", uow)
    again = await acknowledge(alert_id, "so-gddt", uow)
    assert first == again and first.acknowledged_at == NOW and first.acknowledged_at.tzinfo == VN_TZ
    assert [e.event_type for e in outbox.events.values()] == ["AlertAcknowledged"]
    assert store.cancelled == [str(alert_id)]
    assert [(p, kind) for p, kind, _ in store.stream] == [("can-bo-1", "acknowledged")]


async def test_an_alert_with_no_known_agency_is_acknowledged_by_the_caller(world: Any) -> None:
    """recipient_agency_id NULL (a person known to no directory yet): the route's token decides."""
    store, uow, outbox = world
    alert_id = uuid.uuid4()
    store.alerts[alert_id] = fake_alerts.an_alert(alert_id, recipient_agency_id=None)
    await acknowledge(alert_id, "so-tc", uow)
    assert len(outbox.events) == 1
