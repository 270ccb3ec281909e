"""Kafka at arm's length for the reliability tests: make topics, read what is on them, see a group's
committed offsets. No consumer group of our own, so reading never disturbs what is under test."""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from deploy.topics import ensure_topics
from events.topics import TopicSpec
from services.runtime.kafka_config import client_options
from services.runtime.replay.offsets import group_offsets
from services.runtime.settings import Settings


def unique_topic(purpose: str) -> str:
    return f"dondoc.test.{purpose}-{uuid.uuid4().hex[:10]}"


async def create_topic(kafka: Settings, name: str, partitions: int = 1) -> str:
    """Create a topic and return once it is led (the broker never creates topics on its own)."""
    await ensure_topics(kafka, topics=[TopicSpec(name, partitions, key="test", description="test")])
    return name


def header(record: ConsumerRecord[Any, Any], name: str) -> str | None:
    values = [v for k, v in record.headers if k == name]
    return values[-1].decode() if values else None


class TopicReader:
    """Every record of a topic from its first offset, over all partitions; ``read()`` returns what has
    arrived so far, in partition order, so ``eventually(...)`` can poll it."""

    def __init__(self, kafka: Settings, topic: str, partitions: int = 1) -> None:
        self.topic = topic
        self._partitions = [TopicPartition(topic, p) for p in range(partitions)]
        self._consumer = AIOKafkaConsumer(
            **client_options(kafka), group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        self.records: list[ConsumerRecord[bytes, bytes]] = []

    async def __aenter__(self) -> TopicReader:
        await self._consumer.start()
        self._consumer.assign(self._partitions)
        await self._consumer.seek_to_beginning(*self._partitions)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._consumer.stop()

    async def end_offsets(self) -> list[int]:
        ends = await self._consumer.end_offsets(self._partitions)
        return [ends[tp] for tp in self._partitions]

    async def read(self) -> list[ConsumerRecord[bytes, bytes]]:
        batches = await self._consumer.getmany(timeout_ms=100)
        for tp in sorted(batches, key=lambda tp: tp.partition):
            self.records.extend(batches[tp])
        return self.records


async def committed_offsets(kafka: Settings, group: str) -> dict[tuple[str, int], int]:
    """The group's committed offsets (the next offset it will read), per (topic, partition)."""
    return await group_offsets(kafka, group)
