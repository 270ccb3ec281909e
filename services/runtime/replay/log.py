"""Reading the log for a replay: no consumer group (the live service's offsets are never touched), every
partition from its first offset up to the end offsets taken at start, merged by record timestamp."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.runtime.kafka_config import client_options
from services.runtime.replay.policy import ReplayRefused
from services.runtime.settings import Settings

Position = tuple[str, int]  # (topic, partition)


class LogReader:
    """Every record of some topics from their first offset up to the end offsets taken at start, with no
    consumer group; the partitions merged by timestamp, each in its own order, in bounded memory."""

    def __init__(self, settings: Settings, topics: Sequence[str], *, client_id: str, buffer: int = 2000) -> None:
        self._settings, self._topics, self._buffer = settings, list(topics), buffer
        self._consumer = AIOKafkaConsumer(
            **client_options(settings),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=client_id,
        )
        self.starts: dict[TopicPartition, int] = {}
        self.ends: dict[TopicPartition, int] = {}

    async def __aenter__(self) -> LogReader:
        partitions = await _partitions(self._settings, self._topics)
        await self._consumer.start()
        try:
            self._consumer.assign(partitions)
            self.starts = await self._consumer.beginning_offsets(partitions)
            self.ends = await self._consumer.end_offsets(partitions)
            await self._consumer.seek_to_beginning(*partitions)
        except BaseException:
            await self._consumer.stop()
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._consumer.stop()

    @property
    def total(self) -> int:
        return sum(self.ends[tp] - self.starts[tp] for tp in self.ends)

    async def batches(self, size: int) -> AsyncIterator[list[ConsumerRecord[bytes, bytes]]]:
        buffers: dict[TopicPartition, deque[ConsumerRecord[bytes, bytes]]] = {tp: deque() for tp in self.ends}
        exhausted = {tp for tp in self.ends if self.starts[tp] >= self.ends[tp]}
        batch: list[ConsumerRecord[bytes, bytes]] = []
        while True:
            # A head can go out once every partition that may still bring records has one buffered.
            while len(batch) < size and all(buffers[tp] or tp in exhausted for tp in buffers):
                heads = [(q[0].timestamp, tp.topic, tp.partition, tp) for tp, q in buffers.items() if q]
                if not heads:
                    break
                batch.append(buffers[min(heads)[3]].popleft())
            done = len(exhausted) == len(buffers) and not any(buffers.values())
            # Full batches only (but the last): a partition running dry fetches more into the same batch,
            # so a replay's transactions are as long as its batch size says, not as one fetch happens to be.
            if batch and (len(batch) >= size or done):
                yield batch
                batch = []
                continue
            if done:
                return
            await self._fetch(buffers, exhausted)

    async def _fetch(
        self, buffers: dict[TopicPartition, deque[ConsumerRecord[bytes, bytes]]], exhausted: set[TopicPartition]
    ) -> None:
        full = {tp for tp, q in buffers.items() if tp in exhausted or len(q) >= self._buffer}
        self._consumer.pause(*full)
        self._consumer.resume(*(set(buffers) - full))
        fetched = await self._consumer.getmany(timeout_ms=200, max_records=self._buffer)
        for tp, records in fetched.items():
            buffers[tp].extend(r for r in records if r.offset < self.ends[tp])
        for tp in set(buffers) - exhausted:
            if await self._consumer.position(tp) >= self.ends[tp]:
                exhausted.add(tp)


async def _partitions(settings: Settings, topics: Sequence[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        described: list[dict[str, Any]] = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    found = {t["topic"]: t for t in described if t["error_code"] == 0 and t["partitions"]}
    missing = [t for t in topics if t not in found]
    if missing:
        raise ReplayRefused(
            f"topic(s) {', '.join(missing)} do not exist on {settings.kafka_bootstrap}; `dondoc infra up` creates them"
        )
    return sorted(TopicPartition(t, p["partition"]) for t in topics for p in found[t]["partitions"])
