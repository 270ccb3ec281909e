"""The consumer (services/runtime/consuming.py), broken on purpose against the real broker and database.

Every test runs its own probe service (tests/integration/probe_service.py): a unique name, hence its own
schema, consumer group ``dondoc.<name>`` and dead-letter topic, reading a one-partition topic of its own,
so "the next message" is always the next offset of the same partition."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord

from deploy.credentials import principal_env
from events.codec import encode_value, key_for
from events.envelope import Envelope
from events.kafka_access import ADMIN_PRINCIPAL
from events.topics import dead_letter_topic
from services.runtime.kafka_config import producer_options
from tests.conftest import REPO, eventually, running
from tests.integration.kafka_tools import TopicReader, committed_offsets, create_topic, header, unique_topic
from tests.integration.probe_service import Probe, ProbeSettings, probe_event

pytestmark = pytest.mark.integration

Effect = tuple[uuid.UUID, str, int]  # event id, note, offset


@dataclass
class Harness:
    probe: Probe
    settings: ProbeSettings
    producer: AIOKafkaProducer
    conn: asyncpg.Connection

    @property
    def name(self) -> str:
        return self.probe.name

    def event(self, note: str, seq: int = 0, key: str = "") -> Envelope:
        return probe_event(note, seq=seq, salt=self.name, key=key)

    async def publish(self, *messages: Envelope | bytes | None) -> None:
        """Envelopes as the relay writes them; bytes and None (a tombstone) as they are."""
        for m in messages:
            if isinstance(m, Envelope):
                await self.producer.send_and_wait(self.probe.topic, encode_value(m), key=key_for(m))
            else:
                await self.publish_raw(m)

    async def publish_raw(self, value: bytes | None, headers: list[tuple[str, bytes]] | None = None) -> None:
        await self.producer.send_and_wait(self.probe.topic, value, key=b"raw", headers=headers)

    def run(self) -> Any:
        return running(self.probe.definition(), self.settings)

    async def effects(self) -> list[Effect]:
        rows = await self.conn.fetch(f'SELECT event_id, note, "offset" FROM "{self.name}".effects ORDER BY applied_at')
        return [(r["event_id"], r["note"], r["offset"]) for r in rows]

    async def applied(self, *events: Envelope) -> list[Effect]:
        """The effects once every one of ``events`` has one (raises AssertionError before: for eventually)."""
        try:
            rows = await self.effects()
        except asyncpg.UndefinedTableError as exc:
            raise AssertionError("the service has not migrated its schema yet") from exc
        missing = {e.event_id for e in events} - {event_id for event_id, _, _ in rows}
        assert not missing, f"not applied yet: {len(missing)} of {len(events)}"
        return rows

    async def count(self, table: str, event: Envelope | None = None) -> int:
        where = "WHERE event_id = $1" if event else ""
        return int(
            await self.conn.fetchval(
                f'SELECT count(*) FROM "{self.name}".{table} {where}', *([event.event_id] if event else [])
            )
        )

    async def committed(self) -> int | None:
        offsets = await committed_offsets(self.settings, f"dondoc.{self.name}")
        return offsets.get((self.probe.topic, 0))

    def dead_letters(self) -> TopicReader:
        return TopicReader(self.settings, dead_letter_topic(self.name))


@pytest.fixture
async def harness(infra: Any, settings: Any) -> AsyncIterator[Harness]:
    name = f"t_consume_{uuid.uuid4().hex[:10]}"
    topic = await create_topic(infra.kafka, unique_topic("consume"))
    # The runtime dead-letters to dead_letter_topic(service); only the five services' are declared.
    await create_topic(infra.kafka, dead_letter_topic(name))
    producer = AIOKafkaProducer(**producer_options(infra.kafka), enable_idempotence=True)
    await producer.start()
    conn = await asyncpg.connect(infra.database_url)
    try:
        yield Harness(Probe(name, topic, infra.database_url), ProbeSettings(**settings.model_dump()), producer, conn)
    finally:
        await producer.stop()
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        await conn.close()


async def until_committed(h: Harness, offset: int) -> None:
    async def check() -> bool:
        committed = await h.committed()
        assert committed == offset, f"committed: {committed}"
        return True

    await eventually(check, what=f"the group to commit offset {offset}")


async def dead_letters(h: Harness, n: int) -> list[ConsumerRecord[bytes, bytes]]:
    async def at_least() -> list[ConsumerRecord[bytes, bytes]]:
        records = await dlq.read()
        assert len(records) >= n, f"{len(records)} so far"
        return list(records)

    async with h.dead_letters() as dlq:
        letters = await eventually(at_least, what=f"{n} dead letter(s)")
        assert await dlq.end_offsets() == [n]  # and no more
    return letters


async def holds(value: bool) -> bool:
    return value


async def test_malformed_messages_are_dead_lettered_with_their_error_and_the_next_one_is_handled(
    harness: Harness,
) -> None:
    h = harness
    shape = json.loads(encode_value(h.event("ok shape")))
    # A TaskAssigned whose recurring deadline makes the Deadline validator overflow: decode() raises
    # OverflowError, not DecodeError, and the consumer must dead-letter it all the same.
    overflowing = {
        **shape,
        "event_type": "TaskAssigned",
        "payload": {
            "code": "131/NQ-CP/UBND-BD#13",
            "title": "Triển khai thanh toán học phí trực tuyến",
            "source_document": {"number": "131/NQ-CP", "issued_on": "2022-10-06", "issuer": "Chính phủ"},
            "assigning_agency_id": "ubnd-bd",
            "lead_agency_id": "bd-sgddt",
            "deadline": {
                "kind": "recurring",
                "due": "0001-02-01",
                "recurrence": "monthly",
                "anchor_day": 1,
                "anchor_day_before": True,
                "text": "trước ngày 1 hằng tháng",
            },
        },
    }
    out_of_range = {**shape, "payload": {**shape["payload"], "percent": 150}}
    poison: list[tuple[bytes | None, tuple[str, ...]]] = [
        (b"this is not JSON {", ("DecodeError: message is not valid JSON",)),
        (b"\xff\xfe not utf-8", ("DecodeError: message is not UTF-8",)),
        (
            json.dumps({"xin chào": "thế giới"}).encode(),
            ("DecodeError: envelope needs a string 'event_type'",),
        ),
        (
            json.dumps({**shape, "event_type": "TaskTeleported"}).encode(),
            ("DecodeError: unknown event type 'TaskTeleported' version 1",),
        ),
        (
            json.dumps(out_of_range).encode(),
            ("DecodeError: invalid ProgressReported v1: payload.percent: Input should be less than or equal to 100",),
        ),
        (None, ("DecodeError: empty message",)),
        (
            json.dumps(overflowing).encode(),
            ("OverflowError: date value out of range", "DecodeError: invalid TaskAssigned"),
        ),
    ]
    # Valid, but nothing this service handles: not poison, just not its business.
    not_ours = {
        **shape,
        "event_type": "TaskOverdue",
        "payload": {"due": "2022-11-30", "overdue_since": "2022-12-01T00:00:00+07:00"},
    }
    good = h.event("ok after the poison")
    await h.publish(*(value for value, _ in poison), json.dumps(not_ours).encode(), good)

    async with h.run():
        await eventually(lambda: h.applied(good), what="the good message after the poison")
        await until_committed(h, len(poison) + 2)

    letters = await dead_letters(h, len(poison))
    for offset, (letter, (value, errors)) in enumerate(zip(letters, poison, strict=True)):
        assert letter.value == value
        assert (header(letter, "dlq_error") or "").startswith(errors), (offset, header(letter, "dlq_error"))
        assert header(letter, "dlq_original_topic") == h.probe.topic
        assert header(letter, "dlq_original_offset") == str(offset)
        assert (header(letter, "dlq_service"), header(letter, "dlq_attempts")) == (h.name, "1")
    stored = await h.conn.fetch(f'SELECT "offset", error FROM "{h.name}".dead_letters ORDER BY "offset"')
    assert [r["offset"] for r in stored] == list(range(len(poison)))
    assert [r["error"] for r in stored] == [header(letter, "dlq_error") for letter in letters]
    assert h.probe.calls == {"ok after the poison": 1}


async def test_a_handler_failing_every_time_is_retried_then_dead_lettered_and_the_consumer_moves_on(
    harness: Harness,
) -> None:
    h = harness
    doomed, after = h.event("fail always"), h.event("ok after the failure")
    await h.publish(doomed, after)

    async with h.run():
        effects = await eventually(lambda: h.applied(after), what="the message after the failing one")
        await until_committed(h, 2)

    assert h.probe.calls["fail always"] == h.settings.handler_attempts
    assert [note for _, note, _ in effects] == ["ok after the failure"]  # every attempt rolled back
    assert await h.count("inbox", doomed) == 0
    [letter] = await dead_letters(h, 1)
    assert letter.value == encode_value(doomed)
    assert header(letter, "dlq_error") == "ValueError: refused on purpose: fail always"
    assert header(letter, "dlq_attempts") == str(h.settings.handler_attempts)


async def test_a_redelivered_event_changes_nothing(harness: Harness) -> None:
    h = harness
    twice, marker = h.event("ok delivered twice"), h.event("ok marker")
    await h.publish(twice, twice, marker)

    async with h.run():
        effects = await eventually(lambda: h.applied(twice, marker), what="both events applied")
        await until_committed(h, 3)

    assert sorted(note for _, note, _ in effects) == ["ok delivered twice", "ok marker"]
    assert h.probe.calls["ok delivered twice"] == 1  # the inbox answered before the handler ran
    inbox = await h.conn.fetch(f'SELECT "offset" FROM "{h.name}".inbox WHERE event_id = $1', twice.event_id)
    assert [r["offset"] for r in inbox] == [0]


async def test_a_stop_mid_batch_commits_only_what_was_handled_and_the_restart_loses_nothing(
    harness: Harness,
) -> None:
    h = harness
    events = [h.event(f"{'gate' if i == 5 else 'ok'} {i}", seq=i) for i in range(40)]
    await h.publish(*events)
    h.probe.gate = asyncio.Event()

    run = h.run()
    http = await run.__aenter__()
    stopping: asyncio.Task[Any] | None = None
    try:
        await eventually(lambda: holds(h.probe.calls["gate 5"] == 1), what="the handler of offset 5 running")
        stopping = asyncio.create_task(run.__aexit__(None, None, None))
        [subscriber] = http.app.state.runtime.broker.subscribers
        await eventually(lambda: holds(not subscriber.running), what="the stop to begin")
    finally:
        h.probe.gate.set()  # the stop waits for the running handler, then consumes nothing more
        await (stopping or run.__aexit__(None, None, None))
    # The stop lets the batch in hand finish (offset 5 and whatever was fetched with it), and commits
    # exactly what was handled: no gap below the commit, nothing handled above it.
    handled = [offset for _, _, offset in await h.effects()]
    assert len(handled) >= 6 and handled == list(range(len(handled)))
    assert await h.committed() == len(handled)

    async with h.run():
        effects = await eventually(lambda: h.applied(*events), what="every event after the restart")
        await until_committed(h, len(events))
    assert sorted(offset for _, _, offset in effects) == list(range(len(events)))  # each once
    assert h.probe.calls["ok 0"] == 1 and h.probe.calls["gate 5"] == 1


async def test_keys_are_handled_side_by_side_each_in_order_and_the_batch_commits_when_all_are_done(
    harness: Harness,
) -> None:
    h = harness
    h.probe.concurrency, h.probe.gate = 4, asyncio.Event()
    slow = [h.event("gate a0", seq=0, key="a"), h.event("ok a1", seq=1, key="a"), h.event("ok a2", seq=2, key="a")]
    quick = [h.event("ok b0", seq=3, key="b"), h.event("ok b1", seq=4, key="b")]
    await h.publish(slow[0], quick[0], slow[1], quick[1], slow[2])  # one partition, keys interleaved

    async with h.run():
        # Key b does not wait behind key a's held event, although it comes later in the partition…
        await eventually(lambda: h.applied(*quick), what="key b's events while key a's first one is held")
        assert not {e.event_id for e in slow} & {event_id for event_id, _, _ in await h.effects()}
        # …and nothing is committed while a record of the batch is still in hand.
        assert await h.committed() is None
        h.probe.gate.set()
        effects = await eventually(lambda: h.applied(*slow), what="key a's events once released")
        await until_committed(h, 5)

    assert [note for _, note, _ in effects if note.endswith(("a0", "a1", "a2"))] == ["gate a0", "ok a1", "ok a2"]
    assert [note for _, note, _ in effects if note.endswith(("b0", "b1"))] == ["ok b0", "ok b1"]


async def test_a_batch_failing_outside_the_handlers_is_rewound_not_committed_past(harness: Harness) -> None:
    """Consumer.handle never raises by design; should it, the batch must come again, not be committed."""
    h = harness
    events = [h.event(f"ok {i}", seq=i) for i in range(6)]
    async with h.run() as http:
        consumer = http.app.state.runtime.consumer
        original, failures = consumer.handle, []

        async def fails_once_on_the_third(record: Any) -> str:
            if record.offset == 2 and not failures:
                failures.append(record.offset)
                raise RuntimeError("a bug outside the handlers (simulated)")
            return await original(record)

        consumer.handle = fails_once_on_the_third
        await h.publish(*events)
        effects = await eventually(lambda: h.applied(*events), what="every event, the failed batch again")
        await until_committed(h, len(events))
    assert failures == [2]
    assert sorted(offset for _, _, offset in effects) == list(range(len(events)))  # each once


@pytest.fixture
async def probe_process(harness: Harness, tmp_path: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """The probe service as a process of its own, hanging in the handler of a ``hang`` event."""
    log = tmp_path / "probe.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.integration.probe_service",
            harness.name,
            harness.probe.topic,
            "--hang",
            cwd=REPO,
            # The probe is test scaffolding, not a service of the table: it runs as the admin.
            env={**os.environ, **principal_env(ADMIN_PRINCIPAL)},
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def test_a_consumer_killed_mid_handler_loses_nothing_after_restart(
    harness: Harness, probe_process: asyncio.subprocess.Process
) -> None:
    """The offset of a message is committed only after its handler: kill -9 while it runs, restart,
    and that message and every later one are applied, each once."""
    h = harness
    events = [h.event("hang here" if i == 5 else f"ok {i}", seq=i) for i in range(10)]
    await h.publish(*events)

    async def hanging() -> bool:
        try:
            return await h.count("handler_started", events[5]) == 1
        except asyncpg.UndefinedTableError:
            return False

    await eventually(hanging, timeout=30, what="the probe process to hang on offset 5 (see probe.log)")
    assert [offset for _, _, offset in await h.effects()] == [0, 1, 2, 3, 4]
    # Nothing at or past the message in hand is committed (the batch commits when all of it is done).
    assert (await h.committed() or 0) <= 5

    probe_process.kill()  # SIGKILL: no shutdown, no commit, the transaction dies with the connection
    await probe_process.wait()

    async with h.run():  # same name: same schema, same consumer group
        effects = await eventually(lambda: h.applied(*events), timeout=40, what="all events after restart")
        await until_committed(h, len(events))
    assert sorted(offset for _, _, offset in effects) == list(range(len(events)))
    assert h.probe.calls["hang here"] == 1
    assert h.probe.calls["ok 0"] == 0  # done before the crash: committed, or recognised by the inbox


async def test_an_infrastructure_error_is_retried_without_dead_lettering(harness: Harness) -> None:
    h = harness
    failures = h.settings.handler_attempts + 1  # more than a deterministic error is allowed
    flaky, after = h.event(f"infra:{failures} database away"), h.event("ok after the outage")
    await h.publish(flaky, after)

    async with h.run():
        effects = await eventually(lambda: h.applied(flaky, after), what="both events applied")
        await until_committed(h, 2)

    assert h.probe.calls[f"infra:{failures} database away"] == failures + 1
    assert [note for _, note, _ in effects] == [f"infra:{failures} database away", "ok after the outage"]
    assert await h.count("dead_letters") == 0
    async with h.dead_letters() as dlq:
        assert await dlq.end_offsets() == [0]


async def test_a_record_faststream_itself_cannot_parse_is_dead_lettered_too(harness: Harness) -> None:
    """FastStream parses every record before our handler; a failure there would be acked and skipped.
    The runtime's parser and decoder (service.py) leave decoding to the consumer, which dead-letters."""
    h = harness
    bad_header = h.event("ok, with a garbled header")
    await h.publish_raw(b"[" * 100_000)
    await h.publish_raw(b"not json", headers=[("content-type", b"application/json")])
    await h.publish_raw(encode_value(bad_header), headers=[("traceparent", b"\xff\xfe")])
    good = h.event("ok after the unparseable")
    await h.publish(good)

    async with h.run():
        await eventually(lambda: h.applied(good), what="the good message")
        await until_committed(h, 4)
    # Dead letters are written before the offset is committed: by now every one of them is there.
    async with h.dead_letters() as dlq:
        [dead] = await dlq.end_offsets()
    # The two broken bodies are dead-lettered; the valid event with a garbled optional header is
    # handled or dead-lettered, but never dropped.
    handled = bad_header.event_id in {event_id for event_id, _, _ in await h.effects()}
    assert (dead, handled) in {(3, False), (2, True)}
