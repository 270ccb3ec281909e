"""Intake: signed commands from agency systems on dondoc.intake, each answered by its event or by an
IntakeRejected on dondoc.intake.rejected keyed by the submitting agency (real broker and database)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer

from events.intake import signed_headers, signing_key
from events.topics import INTAKE, INTAKE_REJECTED
from services import registry
from services.assignment.tasks.rules import task_id_for
from services.assignment.tokens import IssuedToken
from services.runtime.kafka_config import producer_options
from tests.conftest import eventually, running, unique
from tests.integration.test_assignment_support import (
    body,
    clock,
    kafka_records,
    outbox_events,
    payload,
    prepared,
)

pytestmark = pytest.mark.integration


class Intake:
    def __init__(self, producer: AIOKafkaProducer, tokens: dict[str, IssuedToken], settings: Any) -> None:
        self.producer, self.tokens, self.settings = producer, tokens, settings

    async def send(
        self,
        agency: str,
        command: dict[str, Any] | bytes,
        *,
        signed_as: str | None = None,
        headers: list[tuple[str, bytes]] | None = None,
        at: float | None = None,
    ) -> tuple[int, int]:
        value = command if isinstance(command, bytes) else json.dumps(command, ensure_ascii=False).encode()
        if headers is None:
            token = self.tokens[signed_as or agency]
            key = signing_key(self.settings.token_secret, agency, token.token_id)
            headers = signed_headers(key, agency, token.token_id, value, time.time() if at is None else at)
        sent = await (await self.producer.send(INTAKE, value=value, key=agency.encode(), headers=headers))
        return sent.partition, sent.offset

    async def rejection(self, agency: str, position: tuple[int, int], within: float = 20.0) -> dict[str, Any]:
        def at(record: Any) -> bool:
            where = payload(record)["payload"]["record"]
            return record.key == agency.encode() and (where["partition"], where["offset"]) == position

        [record] = await kafka_records(
            self.settings,
            INTAKE_REJECTED,
            lambda kept: len(kept) == 1,
            keep=at,
            within=within,
        )
        return payload(record)["payload"]  # type: ignore[no-any-return]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def intake(settings: Any) -> AsyncIterator[Intake]:
    producer = AIOKafkaProducer(**producer_options(settings), enable_idempotence=True)
    await producer.start()
    try:
        async with running(registry.definition("assignment"), settings, clock()):
            intake = Intake(producer, await prepared(settings, "ubnd-bd", "bd-sgddt", "bd-stc"), settings)
            # The first consumer group of a fresh broker waits for __consumer_offsets (50 partitions) to
            # load: an answered probe says the intake consumer is up, so no test pays for it.
            await intake.rejection("probe", await intake.send("probe", b"{}", headers=[]), within=120)
            yield intake
    finally:
        await producer.stop()


def assign(command_id: str, lead: str = "bd-sgddt", **fields: Any) -> dict[str, Any]:
    task = body(lead, key=command_id, **fields)
    task.pop("idempotency_key")  # the command id is the idempotency key
    return {"command_type": "AssignTask", "command_id": command_id, "payload": task}


async def task_events(settings: Any, task_id: str, count: int = 1) -> list[dict[str, Any]]:
    async def found() -> list[dict[str, Any]]:
        events = await outbox_events(settings.database_url, task_id)
        return events if len(events) >= count else []

    return await eventually(found, what=f"{count} event(s) of {task_id}")


async def test_a_signed_assign_task_yields_task_assigned(intake: Intake, settings: Any) -> None:
    command_id = unique("c")
    await intake.send("ubnd-bd", assign(command_id))
    [event] = await task_events(settings, task_id_for("ubnd-bd", command_id))
    assert (event["event_type"], event["actor"]["agency_id"]) == ("TaskAssigned", "ubnd-bd")


async def test_malformed_json_is_rejected(intake: Intake) -> None:
    rejected = await intake.rejection("ubnd-bd", await intake.send("ubnd-bd", b'{"command_type": "AssignTask",'))
    assert rejected["code"] == "malformed-json" and rejected["message_vi"].startswith("Nội dung lệnh")


async def test_an_unknown_command_type_is_rejected(intake: Intake) -> None:
    command = {"command_type": "DeleteTask", "command_id": unique("c"), "payload": {}}
    rejected = await intake.rejection("ubnd-bd", await intake.send("ubnd-bd", command))
    assert rejected["code"] == "unknown-command-type" and "DeleteTask" in rejected["message_en"]


async def test_a_missing_signature_is_rejected(intake: Intake) -> None:
    rejected = await intake.rejection("ubnd-bd", await intake.send("ubnd-bd", assign(unique("c")), headers=[]))
    assert rejected["code"] == "missing-signature" and rejected["agency_id"] == "ubnd-bd"


async def test_a_bad_signature_is_rejected(intake: Intake, settings: Any) -> None:
    command_id = unique("c")
    signed = json.dumps(assign(command_id)).encode()
    token = intake.tokens["ubnd-bd"]
    headers = signed_headers(
        signing_key(settings.token_secret, "ubnd-bd", token.token_id),
        "ubnd-bd",
        token.token_id,
        signed,
        time.time(),
    )
    tampered = signed.replace(b"bd-sgddt", b"bd-stc")
    rejected = await intake.rejection("ubnd-bd", await intake.send("ubnd-bd", tampered, headers=headers))
    assert rejected["code"] == "bad-signature"
    assert await outbox_events(settings.database_url, task_id_for("ubnd-bd", command_id)) == []


async def test_a_key_of_another_agency_is_a_bad_signature(intake: Intake) -> None:
    position = await intake.send("ubnd-bd", assign(unique("c")), signed_as="bd-stc")
    assert (await intake.rejection("ubnd-bd", position))["code"] == "bad-signature"


async def test_a_replayed_command_is_rejected(intake: Intake, settings: Any) -> None:
    command = assign(unique("c"))
    value = json.dumps(command).encode()
    token = intake.tokens["ubnd-bd"]
    headers = signed_headers(
        signing_key(settings.token_secret, "ubnd-bd", token.token_id),
        "ubnd-bd",
        token.token_id,
        value,
        time.time(),
    )
    await intake.send("ubnd-bd", value, headers=headers)
    replay = await intake.send("ubnd-bd", value, headers=headers)  # the same signed bytes, captured and re-sent
    rejected = await intake.rejection("ubnd-bd", replay)
    assert rejected["code"] == "replayed" and rejected["command_id"] == command["command_id"]
    assert len(await outbox_events(settings.database_url, task_id_for("ubnd-bd", command["command_id"]))) == 1


async def test_a_command_signed_outside_the_window_is_rejected(intake: Intake) -> None:
    position = await intake.send("ubnd-bd", assign(unique("c")), at=time.time() - 3600)
    assert (await intake.rejection("ubnd-bd", position))["code"] == "timestamp-out-of-window"


async def test_an_unknown_agency_is_rejected(intake: Intake, settings: Any) -> None:
    value = json.dumps(assign(unique("c"))).encode()
    headers = signed_headers(
        signing_key(settings.token_secret, "so-khong-co", "k"), "so-khong-co", "k", value, time.time()
    )
    rejected = await intake.rejection("so-khong-co", await intake.send("so-khong-co", value, headers=headers))
    assert rejected["code"] == "unknown-agency"


async def test_an_out_of_authority_assignment_is_rejected(intake: Intake, settings: Any) -> None:
    command_id = unique("c")
    rejected = await intake.rejection("bd-sgddt", await intake.send("bd-sgddt", assign(command_id, "bd-stc")))
    assert rejected["code"] == "out-of-authority" and "Sở Tài chính" in rejected["message_vi"]
    assert await outbox_events(settings.database_url, task_id_for("bd-sgddt", command_id)) == []


async def test_an_impossible_deadline_is_rejected(intake: Intake) -> None:
    february_31 = await intake.send("ubnd-bd", assign(unique("c"), deadline="31/02/2023"))
    assert (await intake.rejection("ubnd-bd", february_31))["code"] == "deadline-unreadable"
    before_the_document = await intake.send("ubnd-bd", assign(unique("c"), deadline="Tháng 9/2022"))
    assert (await intake.rejection("ubnd-bd", before_the_document))["code"] == "deadline-before-document"


async def test_an_assignment_dated_in_the_future_is_rejected_in_both_languages(intake: Intake, settings: Any) -> None:
    command_id = unique("c")
    future = await intake.send("ubnd-bd", assign(command_id, assigned_on="2022-12-01"))  # the clock: 25/11/2022
    rejected = await intake.rejection("ubnd-bd", future)
    assert rejected["code"] == "effective-date-in-future" and "01/12/2022" in rejected["message_vi"]
    assert await outbox_events(settings.database_url, task_id_for("ubnd-bd", command_id)) == []


async def test_an_invalid_payload_is_rejected_with_what_is_wrong(intake: Intake) -> None:
    command = {"command_type": "AssignTask", "command_id": unique("c"), "payload": {"title": "Thiếu hết"}}
    rejected = await intake.rejection("ubnd-bd", await intake.send("ubnd-bd", command))
    assert rejected["code"] == "invalid-command" and "lead_agency_id" in rejected["message_en"]


async def test_delegation_extension_and_withdrawal_commands_yield_their_events(intake: Intake, settings: Any) -> None:
    command_id = unique("c")
    task_id = task_id_for("ubnd-bd", command_id)
    await intake.send("ubnd-bd", assign(command_id))
    await task_events(settings, task_id)
    await intake.send(
        "bd-sgddt",
        {
            "command_type": "DelegateTask",
            "command_id": unique("c"),
            "payload": {"task_id": task_id, "children": [{"lead_agency_id": "bd-thpt-binh-duong"}]},
        },
    )
    await intake.send(
        "bd-sgddt",
        {
            "command_type": "RequestExtension",
            "command_id": unique("c"),
            "payload": {"task_id": task_id, "proposed_due": "2023-06-30", "reason": "Chờ nâng cấp Cổng"},
        },
    )
    requested = (await task_events(settings, task_id, 3))[2]
    assert requested["event_type"] == "DeadlineExtensionRequested"
    await intake.send(
        "ubnd-bd",
        {
            "command_type": "DecideExtension",
            "command_id": unique("c"),
            "payload": {
                "task_id": task_id,
                "request_id": requested["payload"]["request_id"],
                "decision": "approve",
            },
        },
    )
    await intake.send(
        "ubnd-bd",
        {
            "command_type": "WithdrawTask",
            "command_id": unique("c"),
            "payload": {"task_id": task_id, "reason": "Không còn phù hợp"},
        },
    )
    events = await task_events(settings, task_id, 5)
    assert [e["event_type"] for e in events] == [
        "TaskAssigned",
        "TaskDelegated",
        "DeadlineExtensionRequested",
        "DeadlineExtended",
        "TaskWithdrawn",
    ]


async def test_progress_commands_are_left_to_the_progress_service(intake: Intake) -> None:
    progress = {"command_type": "ReportProgress", "command_id": unique("c"), "payload": {"task_id": "t-x"}}
    left = await intake.send("bd-sgddt", progress)
    after = await intake.send("bd-sgddt", b"not json")  # same agency, same partition: handled after it

    def at(record: Any) -> tuple[int, int]:
        where = payload(record)["payload"]["record"]
        return where["partition"], where["offset"]

    # Reading until the later record's rejection shows the earlier one was handled too, without one.
    answers = await kafka_records(
        intake.settings,
        INTAKE_REJECTED,
        lambda kept: any(at(r) == after for r in kept),
        keep=lambda r: at(r) in (left, after),
    )
    assert [at(r) for r in answers] == [after]
