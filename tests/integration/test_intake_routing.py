"""One answer per intake record whichever service reads it, and whenever (events/intake_verdict.py), on the
real broker and database with both readers of dondoc.intake running. A record the assignment service
refuses is never acted on (nor answered) by the progress service too; a progress command is never left
unanswered by both, even read long after it reached the broker.

"No second answer" is proved by markers: records sent after the one under test, keyed by the same agency
(so on the same partition, read after it), one answered by each service. Once both markers are answered,
each service has handled the record under test, and every answer it will ever get is there to count."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest_asyncio
from aiokafka import AIOKafkaProducer

from events.clock import VN_TZ, ManualClock
from events.intake import AGENCY_HEADER, KEY_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature, signing_key
from events.topics import INTAKE, INTAKE_REJECTED
from services import registry
from services.assignment.intake import processor
from services.assignment.tokens import IssuedToken
from services.progress import intake as progress_intake
from services.progress.config import ProgressConfig
from services.runtime.kafka_config import producer_options
from services.runtime.raw_consumer import RawRecord
from tests.conftest import eventually, running, unique
from tests.integration.progress_alerts_kit import Events, assign, fetch, topic_events
from tests.integration.test_assignment_support import prepared

LEAD = "bd-sgddt"
Answer = tuple[str, str]  # (the answering service, the rejection code)


@dataclass
class Readers:
    settings: Any
    producer: AIOKafkaProducer
    token: IssuedToken
    rejected: Events
    runtimes: dict[str, Any]  # each service's Runtime, to hand it a record directly
    task_id: str

    def headers(self, value: bytes, timestamp: str) -> list[tuple[str, bytes]]:
        """Validly signed with the agency's live key, over ``timestamp`` exactly as written."""
        key = signing_key(self.settings.token_secret, LEAD, self.token.token_id)
        return [
            (AGENCY_HEADER, LEAD.encode()),
            (KEY_ID_HEADER, self.token.token_id.encode()),
            (TIMESTAMP_HEADER, timestamp.encode()),
            (SIGNATURE_HEADER, signature(key, timestamp, value).encode()),
        ]

    async def send(self, value: bytes, *, timestamp: str | None = None, signed: bool = True) -> dict[str, Any]:
        headers = self.headers(value, timestamp or str(int(time.time()))) if signed else []
        sent = await (await self.producer.send(INTAKE, value=value, key=LEAD.encode(), headers=headers))
        return {"topic": INTAKE, "partition": sent.partition, "offset": sent.offset}

    async def answers(self, position: dict[str, Any]) -> list[Answer]:
        envelopes = [json.loads(r.value) for r in await self.rejected.records()]
        return [(e["producer"], e["payload"]["code"]) for e in envelopes if e["payload"]["record"] == position]

    async def only_answers(self, position: dict[str, Any], timeout: float = 20.0) -> list[Answer]:
        """Every answer ``position`` gets: both services have read past it once their markers are answered."""
        by_progress = await self.send(progress_command(unique("marker"), task_id="khong-co"))
        by_assignment = await self.send(b"{}", signed=False)

        async def markers_answered() -> bool:
            return await self.answers(by_progress) == [("progress", "task-not-found")] and await self.answers(
                by_assignment
            ) == [("assignment", "missing-signature")]

        await eventually(markers_answered, timeout=timeout, what="both services to answer the records after it")
        return await self.answers(position)

    async def never_acted_on(self, command_id: str) -> bool:
        """Progress records every command it acts on (or refuses) in its ledger, in the same transaction."""
        sql = "SELECT 1 FROM intake_commands WHERE command_id = $1"
        return await fetch(self.settings, "progress", sql, command_id) == []


def progress_command(command_id: str, *, task_id: str, percent: int = 99) -> bytes:
    return json.dumps(
        {
            "command_type": "ReportProgress",
            "command_id": command_id,
            "payload": {"task_id": task_id, "percent": percent},
        }
    ).encode()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def readers(settings: Any, infra: Any) -> AsyncIterator[Readers]:
    clock = ManualClock(datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ))
    producer = AIOKafkaProducer(**producer_options(settings), enable_idempotence=True)
    await producer.start()
    try:
        async with (
            running(registry.definition("assignment"), settings, clock) as assignment,
            running(registry.definition("progress"), settings, clock) as progress,
            topic_events(infra.kafka, INTAKE_REJECTED, 3) as rejected,
        ):
            token = (await prepared(settings, LEAD))[LEAD]
            task_id, _ = await assign(infra.kafka, clock.now(), officer="p-1", lead=LEAD)

            async def known() -> bool:
                return (await progress.get(f"/v1/tasks/{task_id}")).status_code == 200

            await eventually(known, timeout=120, what="the progress service to know the task")
            runtimes = {
                name: client.app.state.runtime  # type: ignore[attr-defined]  # set by conftest.running
                for name, client in (("assignment", assignment), ("progress", progress))
            }
            found = Readers(settings, producer, token, rejected, runtimes, task_id)
            # A fresh broker's first consumer groups take a while to join: answered markers say both are up.
            await found.only_answers({}, timeout=120)
            yield found
    finally:
        await producer.stop()


async def test_a_fresh_progress_command_is_acted_on_by_progress_alone(readers: Readers) -> None:
    command_id = unique("cmd")
    sent = await readers.send(progress_command(command_id, task_id=readers.task_id, percent=20))
    assert await readers.only_answers(sent) == []
    rows = await fetch(
        readers.settings, "progress", "SELECT outcome FROM intake_commands WHERE command_id = $1", command_id
    )
    assert rows == [{"outcome": "accepted"}]


async def test_a_body_with_a_byte_order_mark_is_refused_once_and_not_acted_on(readers: Readers) -> None:
    command_id = unique("cmd")
    sent = await readers.send(b"\xef\xbb\xbf" + progress_command(command_id, task_id=readers.task_id))
    assert await readers.only_answers(sent) == [("assignment", "malformed-json")]
    assert await readers.never_acted_on(command_id)


async def test_a_command_id_too_long_or_empty_is_refused_once_and_not_acted_on(readers: Readers) -> None:
    for command_id in ("c" * 300, ""):
        sent = await readers.send(progress_command(command_id, task_id=readers.task_id))
        assert await readers.only_answers(sent) == [("assignment", "invalid-command")], len(command_id)
        assert await readers.never_acted_on(command_id)


async def test_a_timestamp_that_is_not_plain_unix_seconds_is_refused_once(readers: Readers) -> None:
    now = str(int(time.time()))
    for timestamp in (f" {now}", f"+{now}", f"{now}_0"):
        command_id = unique("cmd")
        sent = await readers.send(progress_command(command_id, task_id=readers.task_id), timestamp=timestamp)
        assert await readers.only_answers(sent) == [("assignment", "timestamp-out-of-window")], timestamp
        assert await readers.never_acted_on(command_id)


async def test_a_progress_command_signed_long_before_it_reached_the_broker_is_refused_once(
    readers: Readers,
) -> None:
    command_id = unique("cmd")
    an_hour_ago = str(int(time.time()) - 3600)
    sent = await readers.send(progress_command(command_id, task_id=readers.task_id), timestamp=an_hour_ago)
    assert await readers.only_answers(sent) == [("assignment", "timestamp-out-of-window")]
    assert await readers.never_acted_on(command_id)


async def test_a_progress_command_read_long_after_it_reached_the_broker_is_answered_by_progress(
    readers: Readers,
) -> None:
    # Both services read it an hour after the broker took it (down, lagging): the verdict is the one
    # it had on arrival, so assignment still leaves it, and progress acts on it instead of "not-ours".
    command_id, arrived_s = unique("cmd"), int(time.time()) - 3600
    value = progress_command(command_id, task_id=readers.task_id, percent=30)
    record = RawRecord(
        INTAKE,
        0,
        int(time.time() * 1000),
        LEAD.encode(),
        value,
        tuple(readers.headers(value, str(arrived_s - 2))),
        arrived_s * 1000,
    )
    left = await processor.build(readers.runtimes["assignment"]).handle(record)
    acted = await progress_intake.build(ProgressConfig())(readers.runtimes["progress"]).handle(record)
    assert (left, acted) == ("left-for-progress", "accepted:ProgressReported")
    rows = await fetch(
        readers.settings, "progress", "SELECT outcome FROM intake_commands WHERE command_id = $1", command_id
    )
    assert rows == [{"outcome": "accepted"}]


async def test_a_progress_command_that_keeps_failing_is_answered_once_with_an_internal_error(
    readers: Readers,
) -> None:
    command_id, offset = unique("cmd"), int(time.time() * 1000) + 1
    value = progress_command(command_id, task_id=readers.task_id)
    record = RawRecord(
        INTAKE,
        1,
        offset,
        LEAD.encode(),
        value,
        tuple(readers.headers(value, str(int(time.time())))),
        int(time.time() * 1000),
    )
    consumer = progress_intake.build(ProgressConfig())(readers.runtimes["progress"])
    await consumer.give_up(record, "RuntimeError: boom", 3)
    await consumer.give_up(record, "RuntimeError: boom", 3)  # a crash before the offset commit: done again
    shared = "SELECT value FROM outbox WHERE key = $1 AND topic = $2"  # not the agency's own copy
    envelopes = [
        json.loads(bytes(r["value"])) for r in await fetch(readers.settings, "progress", shared, LEAD, INTAKE_REJECTED)
    ]
    answers = [e["payload"] for e in envelopes if e["payload"].get("command_id") == command_id]
    assert [(a["code"], a["record"]["offset"]) for a in answers] == [("internal-error", offset)]
    assert "gửi lại" in answers[0]["message_vi"]
