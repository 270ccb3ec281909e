"""The service's consumer group offsets: read them, and set them without joining the group (which the
broker refuses while the group has members, so a service that came alive stops an apply)."""

from __future__ import annotations

from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata

from services.runtime.kafka_config import client_options
from services.runtime.replay.log import Position
from services.runtime.settings import Settings


async def group_offsets(settings: Settings, group: str) -> dict[Position, int]:
    """The group's committed offsets (the next offset it reads), per (topic, partition)."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}


async def set_group_offsets(settings: Settings, group: str, offsets: Mapping[Position, int]) -> None:
    """Commit offsets for a group without joining it; the broker refuses while the group has members."""
    consumer = AIOKafkaConsumer(
        **client_options(settings), group_id=group, enable_auto_commit=False, client_id="dondoc-replay-apply"
    )
    await consumer.start()
    try:
        partitions = {TopicPartition(t, p): OffsetAndMetadata(o, "dondoc replay") for (t, p), o in offsets.items()}
        consumer.assign(list(partitions))
        await consumer.commit(partitions)
    finally:
        await consumer.stop()
