"""The intake processor's invariants, record by record on the real database (no broker needed):
a redelivery changes nothing, a replay is refused, a record given up on is still answered."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from events.intake import signed_headers, signing_key
from events.topics import INTAKE
from services.assignment import provision
from services.assignment.intake.processor import IntakeProcessor
from services.assignment.tasks.rules import task_id_for
from services.runtime.kafka_config import client_options
from services.runtime.raw_consumer import RawRecord
from tests.conftest import unique
from tests.integration.test_assignment_support import body, clock, outbox_events, prepared

pytestmark = pytest.mark.integration


def signed_record(settings: Any, token: Any, command: dict[str, Any], offset: int) -> RawRecord:
    value = json.dumps(command).encode()
    key = signing_key(settings.token_secret, "ubnd-bd", token.token_id)
    headers = tuple(signed_headers(key, "ubnd-bd", token.token_id, value, time.time()))
    return RawRecord("dondoc.intake", 2, offset, b"ubnd-bd", value, headers, int(time.time() * 1000))


def assign_command(command_id: str) -> dict[str, Any]:
    task = body(key=command_id)
    del task["idempotency_key"]
    return {"command_type": "AssignTask", "command_id": command_id, "payload": task}


async def test_a_redelivered_command_changes_nothing_and_a_replayed_one_is_refused(settings: Any) -> None:
    token = (await prepared(settings, "ubnd-bd"))["ubnd-bd"]
    command_id = unique("c")
    command = assign_command(command_id)
    offset = int(time.time() * 1000)  # a position no other test uses
    async with provision.assignment_db(settings.database_url) as pool:
        processor = IntakeProcessor(pool, "assignment", "assignment", clock(), settings.token_secret)
        record = signed_record(settings, token, command, offset)
        assert (await processor.handle(record)).startswith("accepted")
        assert await processor.handle(record) == "duplicate"  # Kafka delivered it again
        replay = signed_record(settings, token, command, offset + 1)  # the same bytes, sent again
        assert await processor.handle(replay) == "rejected:replayed"
    assert len(await outbox_events(settings.database_url, task_id_for("ubnd-bd", command_id))) == 1
    rejections = [
        e
        for e in await outbox_events(settings.database_url, "ubnd-bd")
        if e["event_type"] == "IntakeRejected" and e["payload"]["command_id"] == command_id
    ]
    assert [e["payload"]["record"]["offset"] for e in rejections] == [offset + 1]


async def test_a_redelivery_changes_nothing_even_after_the_key_was_revoked(settings: Any) -> None:
    token = (await prepared(settings, "ubnd-bd"))["ubnd-bd"]
    command_id = unique("c")
    offset = int(time.time() * 1000) + 7
    async with provision.assignment_db(settings.database_url) as pool:
        processor = IntakeProcessor(pool, "assignment", "assignment", clock(), settings.token_secret)
        record = signed_record(settings, token, assign_command(command_id), offset)
        assert (await processor.handle(record)).startswith("accepted")
        await pool.execute("UPDATE agency_tokens SET revoked_at = now() WHERE token_id = $1", token.token_id)
        assert await processor.handle(record) == "duplicate"  # answered once, when it was read first
    answers = [
        e
        for e in await outbox_events(settings.database_url, "ubnd-bd")
        if e["event_type"] == "IntakeRejected" and e["payload"]["command_id"] == command_id
    ]
    assert answers == []


async def test_a_command_refused_for_its_key_is_not_recorded_and_may_come_again_with_a_live_key(
    settings: Any,
) -> None:
    revoked, live = (await prepared(settings, "ubnd-bd"))["ubnd-bd"], (await prepared(settings, "ubnd-bd"))["ubnd-bd"]
    command_id = unique("c")
    offset = int(time.time() * 1000) + 11
    async with provision.assignment_db(settings.database_url) as pool:
        await pool.execute("UPDATE agency_tokens SET revoked_at = now() WHERE token_id = $1", revoked.token_id)
        processor = IntakeProcessor(pool, "assignment", "assignment", clock(), settings.token_secret)
        refused = signed_record(settings, revoked, assign_command(command_id), offset)
        assert await processor.handle(refused) == "rejected:bad-signature"
        assert await processor.handle(refused) == "rejected:bad-signature"  # redelivered: the same answer
        assert await pool.fetch("SELECT 1 FROM intake_commands WHERE command_id = $1", command_id) == []
        again = signed_record(settings, live, assign_command(command_id), offset + 1)
        assert (await processor.handle(again)).startswith("accepted")
    rejections = [
        e
        for e in await outbox_events(settings.database_url, "ubnd-bd")
        if e["event_type"] == "IntakeRejected" and e["payload"]["command_id"] == command_id
    ]
    assert [(e["payload"]["code"], e["payload"]["record"]["offset"]) for e in rejections] == [("bad-signature", offset)]
    assert len(await outbox_events(settings.database_url, task_id_for("ubnd-bd", command_id))) == 1


async def test_a_record_given_up_on_is_answered_once_with_an_internal_error(settings: Any) -> None:
    record = RawRecord("dondoc.intake", 1, int(time.time() * 1000), b"bd-stc", b"{}", ())
    async with provision.assignment_db(settings.database_url) as pool:
        processor = IntakeProcessor(pool, "assignment", "assignment", clock(), settings.token_secret)
        await processor.give_up(record, "RuntimeError: boom", 3)
        await processor.give_up(record, "RuntimeError: boom", 3)  # a crash before the commit: done again
    answers = [
        e
        for e in await outbox_events(settings.database_url, "bd-stc")
        if e["event_type"] == "IntakeRejected" and e["payload"]["record"]["offset"] == record.offset
    ]
    assert [a["payload"]["code"] for a in answers] == ["internal-error"]
    assert "Lỗi hệ thống" in answers[0]["payload"]["message_vi"]


async def test_a_service_stopped_while_its_intake_consumer_starts_leaves_none_behind(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from faststream.kafka import KafkaBroker

    from services import registry
    from tests.conftest import eventually, running

    started, real_start = asyncio.Event(), KafkaBroker.start

    async def slow_start(self: KafkaBroker) -> None:
        # The consumer is up, but start() has not returned: what a fresh broker's group coordinator does.
        # Only the intake's: assignment's event consumer (completions from the task log) starts as usual.
        await real_start(self)
        if any(name == INTAKE for sub in self.subscribers for name in sub.topic_names):
            started.set()
            await asyncio.Event().wait()

    monkeypatch.setattr(KafkaBroker, "start", slow_start)
    async with running(registry.definition("assignment"), settings, clock()):
        await asyncio.wait_for(started.wait(), 60)
    monkeypatch.undo()
    assert await eventually(lambda: _group_is_empty(settings), what="the intake consumer to leave its group")


async def _group_is_empty(settings: Any) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import GroupCoordinatorNotAvailableError

    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        [described] = await admin.describe_consumer_groups(["dondoc.assignment.intake"])
    except GroupCoordinatorNotAvailableError:  # a fresh broker still loading its group coordinator
        return False
    finally:
        await admin.close()
    return all(not group[5] for group in described.groups)  # (error, id, state, type, protocol, members)
