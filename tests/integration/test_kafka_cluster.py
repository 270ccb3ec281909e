"""A local cluster of three real brokers (deploy/cluster.py): the leader of a partition is killed with -9 while a
producer writes with acks=all, then started again; every acknowledged record is there exactly once.

Its own cluster in a temporary home, on free ports below the ephemeral range, with the secure profile (SASL
SCRAM, ACLs), beside the session's single broker.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.structs import TopicPartition

from deploy._proc import free_port
from deploy.cluster import KafkaCluster
from deploy.topics import ensure_topics
from events.topics import TopicSpec
from services.runtime.kafka_config import client_options, producer_options
from services.runtime.settings import Settings
from tests.conftest import eventually, unique

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    home: Path = tmp_path_factory.mktemp("kafka-cluster")
    ports = [(free_port(), free_port()) for _ in range(3)]
    node = KafkaCluster(home, ports, admin_password=secrets.token_urlsafe(16))
    try:
        node.start(180)
        yield node
    finally:
        node.stop()


async def test_topics_of_a_cluster_keep_three_copies_and_need_two_for_a_write(cluster: KafkaCluster) -> None:
    topic = unique("dondoc.test.cluster")
    await ensure_topics(cluster.admin_settings(), 3, topics=[TopicSpec(topic, 1, "test", "test")])
    assert await cluster.in_sync_replicas(topic) == [1, 2, 3]
    admin = AIOKafkaAdminClient(**client_options(cluster.admin_settings()))
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        entries = {e["config_names"]: e["config_value"] for e in response.to_object()["resources"][0]["config_entries"]}
    finally:
        await admin.close()
    assert entries["min.insync.replicas"] == "2"


async def test_every_acknowledged_record_survives_the_leader_killed_mid_load_once(cluster: KafkaCluster) -> None:
    topic = unique("dondoc.test.failover")
    settings = cluster.admin_settings()
    await ensure_topics(settings, 3, topics=[TopicSpec(topic, 1, "test", "test")])
    producer = AIOKafkaProducer(
        **producer_options(settings), enable_idempotence=True, acks="all", linger_ms=5, request_timeout_ms=30_000
    )
    await producer.start()
    acked: list[int] = []
    failed: list[int] = []
    stop = asyncio.Event()

    async def produce() -> None:
        n = 0
        while not stop.is_set():
            batch = [(n + i, await producer.send(topic, str(n + i).encode(), key=b"k")) for i in range(20)]
            n += len(batch)
            for value, future in batch:
                try:
                    await future
                    acked.append(value)
                except Exception:  # not acknowledged: the record may or may not be there, never twice
                    failed.append(value)

    load = asyncio.create_task(produce())
    try:
        await eventually(lambda: _at_least(acked, 200), timeout=30, what="records acknowledged before the fault")
        leader = await cluster.leader_of(topic, 0)
        await asyncio.to_thread(cluster.stop_broker, leader, signal.SIGKILL)
        before = len(acked)
        await eventually(lambda: _new_leader(cluster, topic, leader), timeout=60, what="another leader")
        await eventually(lambda: _at_least(acked, before + 200), timeout=60, what="records acknowledged meanwhile")
        await asyncio.to_thread(cluster.start_broker, leader)
        await eventually(lambda: _in_sync(cluster, topic, leader), timeout=60, what="the old leader in sync again")
        after = len(acked)
        await eventually(lambda: _at_least(acked, after + 200), timeout=30, what="records acknowledged after")
    finally:
        stop.set()
        await load
        await producer.stop()

    consumed = await _read_all(settings, topic, expected=len(acked) + len(failed))
    assert not [v for v in set(consumed) if consumed.count(v) > 1], "a record was written twice"
    assert set(acked) <= set(consumed), f"acknowledged but lost: {sorted(set(acked) - set(consumed))[:20]}"


async def _at_least(acked: list[int], count: int) -> bool:
    return len(acked) >= count


async def _new_leader(cluster: KafkaCluster, topic: str, old: int) -> bool:
    return (await cluster.leader_of(topic, 0)) not in (old, -1)


async def _in_sync(cluster: KafkaCluster, topic: str, node: int) -> bool:
    return node in await cluster.in_sync_replicas(topic)


async def _read_all(settings: Settings, topic: str, expected: int) -> list[int]:
    """Every record of the topic from the start, read until the end offset."""
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    values: list[int] = []
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        while await consumer.position(tp) < end:
            for records in (await consumer.getmany(tp, timeout_ms=1000)).values():
                values += [int(r.value) for r in records]
    finally:
        await consumer.stop()
    assert len(values) <= expected, f"{len(values)} records, at most {expected} were sent"
    return values
