"""A consumer writes a record's dead letter before it moves past the record; a producer that can never send
again (Kafka error 45 after a broker outage) is replaced, as the relay's is, instead of being retried for ever
while the partition waits (issue 17: "the dead-letter producer is not replaced after a fatal error")."""

from __future__ import annotations

import asyncio
from typing import cast

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, OutOfOrderSequenceNumber

from services.runtime.consuming import Consumer, Record
from services.runtime.producers import RenewableProducer
from tests.conftest import eventually
from tests.unit.test_relay_recovery import Factory, FakeOutbox, FakeProducer

RECORD = Record("dondoc.task-events", 0, 41, b"task-1", b"not an envelope")


def consumer(dead_letters: RenewableProducer | AIOKafkaProducer) -> Consumer:
    pool = cast(asyncpg.Pool, FakeOutbox(rows=0))  # takes the dead_letters row and keeps nothing
    return Consumer("svc", "svc", {}, pool, dead_letters, clock=None, backoff_s=0.001)  # type: ignore[arg-type]


async def test_a_dead_letter_after_a_sequence_error_is_written_by_a_fresh_producer() -> None:
    factory = Factory(OutOfOrderSequenceNumber())
    dead_letters = RenewableProducer(factory, "svc.dlq")
    await asyncio.wait_for(consumer(dead_letters)._dead_letter(RECORD, "bad", attempts=3), 5)
    broken, fresh = factory.made
    assert broken.stopped and not broken.sent
    assert fresh.sent == ["task-1"] and not fresh.stopped
    assert dead_letters.renewals == 1


async def test_a_broker_away_is_retried_with_the_same_dead_letter_producer() -> None:
    factory = Factory(KafkaConnectionError())
    dead_letters = RenewableProducer(factory, "svc.dlq")
    writing = asyncio.create_task(consumer(dead_letters)._dead_letter(RECORD, "bad", attempts=3))

    async def first_try_failed() -> bool:
        return bool(factory.made)

    await eventually(first_try_failed, timeout=5, interval=0.001, what="the first try")
    factory.made[0].error = None  # the broker is back
    await asyncio.wait_for(writing, 5)
    assert [p.sent for p in factory.made] == [["task-1"]] and dead_letters.renewals == 0


async def test_a_producer_the_caller_owns_is_neither_replaced_nor_closed() -> None:
    own = FakeProducer(None)
    await asyncio.wait_for(consumer(cast(AIOKafkaProducer, own))._dead_letter(RECORD, "bad", attempts=3), 5)
    assert own.sent == ["task-1"] and not own.stopped
