"""The deadline lane: a passed or nearing deadline is told without waiting behind a bulk import.

TaskOverdue and DeadlineApproaching travel on ``dondoc.task-events``, keyed by their task, so in the
consumer's order they wait behind every record of an import ahead of them in their partition. This lane
reads the same partitions ahead of the consumer, from where the consumer's group stands, and applies a
deadline event at once when that cannot change what it does: every earlier event of its task that alerts
handles is already applied (its id is in the inbox, committed). Otherwise it leaves the event to the
consumer, which applies it in order as always.

* Exactly once: both paths claim the event in the one inbox (runtime/inbox.py), whichever comes first;
  the other finds it claimed and does nothing.
* Order per task: the lane applies an event only after all of its task's earlier events; what the task's
  later events do is then applied by the consumer after it, as in order.
* The lane commits no offsets and holds nothing: if it stops or falls behind, the consumer still applies
  every deadline event, only later. It reads only record headers and keys, and the ids of the events of
  tasks it has seen, so it stays ahead of a backlog the consumer is still applying; what the consumer has
  committed it forgets every ``CATCH_UP_S`` (its memory is the backlog's, not the log's).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from events.topics import TASK_EVENTS, TOPICS
from services.runtime.consuming import Consumer, Record
from services.runtime.definition import Runtime
from services.runtime.kafka_config import client_options
from services.runtime.logs import get_logger

log = get_logger(__name__)

DEADLINE_EVENTS = frozenset({"TaskOverdue", "DeadlineApproaching"})
FORGET_AFTER = 200_000
"""Event ids remembered before the lane starts over from where the consumer stands (bounded memory)."""
RESTART_S = 5.0
CATCH_UP_S = 30.0
"""How often the lane forgets what the consumer has committed since: it remembers only the backlog."""


class Lane:
    """What the lane knows of one pass over the partitions: each task's earlier events that alerts handles."""

    def __init__(self, consumer: Consumer) -> None:
        self._consumer = consumer
        # (partition, key) → the (offset, event id) of the task's events read and not yet known committed.
        self._earlier: dict[tuple[int, bytes | None], list[tuple[int, uuid.UUID]]] = {}
        self.remembered = 0

    def forget_committed(self, committed: dict[int, int]) -> None:
        """Forget the events below the consumer's committed offsets (partition → offset): applied, so
        nothing waits for them. Without this a quiet service would remember every event it ever read."""
        for where in list(self._earlier):
            below = committed.get(where[0], -1)
            kept = [e for e in self._earlier[where] if e[0] >= below]
            if kept:
                self._earlier[where] = kept
            else:
                del self._earlier[where]
        self.remembered = sum(len(events) for events in self._earlier.values())

    async def take(self, records: Iterable[Record]) -> int:
        """Read records in their partition's order; apply the deadline events whose task has nothing
        pending before them. Returns how many were applied here (the rest are the consumer's)."""
        deadlines: list[tuple[Record, uuid.UUID, list[uuid.UUID]]] = []
        for record in records:
            event_type = _event_type(record)
            if event_type not in self._consumer.handlers:
                continue  # no effect in alerts: nothing to wait for
            earlier = self._earlier.setdefault((record.partition, record.key), [])
            event_id = _event_id(record)
            if event_type in DEADLINE_EVENTS:
                deadlines.append((record, event_id, [i for _, i in earlier]))
            earlier.append((record.offset, event_id))
            self.remembered += 1
        if not deadlines:
            return 0
        async with self._consumer.pool.acquire() as conn:
            ids = list({i for _, _, earlier in deadlines for i in earlier})
            applied = {
                r["event_id"] for r in await conn.fetch("SELECT event_id FROM inbox WHERE event_id = ANY($1)", ids)
            }
        ready: list[Record] = []
        for record, event_id, earlier in deadlines:  # a task's deadline events in order: one may wait for another
            if applied.issuperset(earlier):
                ready.append(record)
                applied.add(event_id)
        if ready:
            await self._consumer.handle_batch(ready)
        return len(ready)


def _event_id(record: Record) -> uuid.UUID:
    value = record.value or b""
    # Every envelope's JSON begins with its id (events/codec.py ``encode_value``): read there, not parsed,
    # the lane keeps ahead of a backlog. Should the value hold the name twice, the parser's last one counts.
    if value.startswith(_ID_FIRST) and value[49:50] == b'"' and value.count(b'"event_id"') == 1:
        try:
            return uuid.UUID(value[13:49].decode("ascii"))
        except ValueError:
            pass
    try:
        return uuid.UUID(json.loads(value)["event_id"])
    except (ValueError, KeyError, TypeError):
        # Not an envelope the consumer can apply (it dead-letters it): an id never in the inbox, so the
        # task's deadline events behind it stay the consumer's.
        return uuid.UUID(int=0)


_ID_FIRST = b'{"event_id":"'


def _event_type(record: Record) -> str | None:
    """From the header every dondoc record carries (events/codec.py ``headers_for``), else from the value."""
    for key, value in record.headers:
        if key == "event_type":
            return value.decode("utf-8", "replace")
    try:
        event_type = json.loads(record.value or b"").get("event_type")
    except (ValueError, AttributeError):
        return None
    return event_type if isinstance(event_type, str) else None


async def run(rt: Runtime) -> None:
    """The lane of a running alerts service: all partitions of the task events, from the consumer group's
    committed offsets, started over whenever it remembers too much. A shortcut, never in the way: whatever
    stops it (the broker or the database gone), it starts over later, and meanwhile the consumer applies
    every deadline event in order."""
    while True:
        try:
            await _lane(rt)
        except Exception as exc:
            log.warning("the deadline lane stopped; starting over", error=repr(exc), retry_in_s=RESTART_S)
            await asyncio.sleep(RESTART_S)


async def _lane(rt: Runtime) -> None:
    assert rt.consumer is not None
    options = client_options(rt.settings)
    reader = AIOKafkaConsumer(**options, group_id=None, enable_auto_commit=False, max_partition_fetch_bytes=4 << 20)
    admin = AIOKafkaAdminClient(**options)
    try:
        await reader.start()
        await admin.start()
        count = next(spec.partitions for spec in TOPICS if spec.name == TASK_EVENTS)
        partitions = [TopicPartition(TASK_EVENTS, p) for p in range(count)]
        reader.assign(partitions)
        group = f"dondoc.{rt.service}"
        while True:
            await _from_the_consumer(reader, admin, partitions, group)
            lane = Lane(rt.consumer)
            caught_up = asyncio.get_running_loop().time()
            while lane.remembered < FORGET_AFTER:
                if asyncio.get_running_loop().time() - caught_up > CATCH_UP_S:
                    lane.forget_committed(await _committed(admin, partitions, group))
                    caught_up = asyncio.get_running_loop().time()
                fetched = await reader.getmany(timeout_ms=1000, max_records=5000)
                records = [
                    Record(r.topic, r.partition, r.offset, r.key, r.value, r.timestamp, tuple(r.headers or ()))
                    for batch in fetched.values()
                    for r in batch
                ]
                if records and (applied := await lane.take(records)):
                    log.info("deadline events applied ahead of the consumer", events=applied)
    finally:
        await admin.close()
        await reader.stop()


async def _from_the_consumer(
    reader: AIOKafkaConsumer, admin: AIOKafkaAdminClient, partitions: list[TopicPartition], group: str
) -> None:
    """Seek each partition to the consumer group's committed offset (its start if it has none): every
    event the consumer has not applied yet lies ahead of the lane."""
    committed = await _committed(admin, partitions, group)
    for tp in partitions:
        if tp.partition in committed:
            reader.seek(tp, committed[tp.partition])
        else:
            await reader.seek_to_beginning(tp)


async def _committed(admin: AIOKafkaAdminClient, partitions: list[TopicPartition], group: str) -> dict[int, int]:
    """The consumer group's committed offset of each partition that has one."""
    found = await admin.list_consumer_group_offsets(group, partitions=partitions)
    return {tp.partition: meta.offset for tp, meta in found.items() if meta is not None and meta.offset >= 0}
