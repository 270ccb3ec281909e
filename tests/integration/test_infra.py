"""The local infrastructure (deploy/): a real Kafka broker and PostgreSQL in a temporary home.

Free ports, not the defaults, so the test runs beside a developer's `dondoc infra up`.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import UnknownTopicOrPartitionError

from deploy import stack
from deploy.errors import TopicError
from deploy.kafka import KAFKA_VERSION, KafkaNode, ensure_jars, new_cluster_id
from deploy.postgres import LocalPostgres
from deploy.topic_config import align_configs
from deploy.topics import ensure_topics
from events.topics import DIRECTORY, INTAKE, TASK_EVENTS, TOPICS, TopicSpec
from services.runtime.kafka_config import KafkaLoginRefused, check_login, client_options
from services.runtime.settings import Settings

pytestmark = pytest.mark.integration


def free_ports(count: int) -> list[int]:
    """Ports the kernel reports free now (held open together so they are distinct)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[KafkaNode, LocalPostgres]]:
    kafka_port, controller_port, pg_port = free_ports(3)
    node = KafkaNode(
        tmp_path / "kafka", port=kafka_port, controller_port=controller_port, admin_password=secrets.token_urlsafe(16)
    )
    pg = LocalPostgres(tmp_path / "postgres", port=pg_port)
    try:
        yield node, pg
    finally:
        # Stops are idempotent: this only matters when the test failed before its own stops.
        node.stop()
        pg.stop()


async def topic_config(kafka: Settings, topic: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    [resource] = response.to_object()["resources"]
    return {entry["config_names"]: entry["config_value"] for entry in resource["config_entries"]}


async def test_local_kafka_and_postgres_lifecycle(servers: tuple[KafkaNode, LocalPostgres]) -> None:
    node, pg = servers

    bootstrap = await asyncio.to_thread(node.start)
    database_url = await asyncio.to_thread(pg.start)
    assert bootstrap == f"127.0.0.1:{node.port}"
    assert database_url.endswith(f":{pg.port}/dondoc")
    kafka_pid, pg_pid = node.status()["pid"], pg.status()["pid"]
    assert kafka_pid and pg_pid

    # Idempotent start: the same processes answer, at once.
    began = time.monotonic()
    assert await asyncio.to_thread(node.start) == bootstrap
    assert await asyncio.to_thread(pg.start) == database_url
    assert time.monotonic() - began < 5
    status = node.status()
    assert (status["running"], status["pid"], status["version"]) == (True, kafka_pid, KAFKA_VERSION)
    assert pg.status()["pid"] == pg_pid

    # The database exists and the server options were applied.
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT current_database()") == "dondoc"
        assert await conn.fetchval("SHOW max_connections") == "200"
    finally:
        await conn.close()

    # Topics: all created once with their declared layout, then nothing to do.
    kafka = node.admin_settings()
    created = await ensure_topics(kafka)
    assert sorted(created) == sorted(spec.name for spec in TOPICS)
    assert await ensure_topics(kafka) == []
    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        described = {t["topic"]: t for t in await admin.describe_topics([s.name for s in TOPICS])}
    finally:
        await admin.close()
    for spec in TOPICS:
        assert len(described[spec.name]["partitions"]) == spec.partitions, spec.name
    assert (await topic_config(kafka, DIRECTORY))["cleanup.policy"] == "compact"
    assert (await topic_config(kafka, TASK_EVENTS))["retention.ms"] == "-1"
    assert (await topic_config(kafka, INTAKE))["max.message.bytes"] == str(256 * 1024)

    # A topic with fewer partitions than declared is reported, not silently accepted.
    small = TopicSpec("dondoc.test.small", partitions=1, key="k", description="test")
    assert await ensure_topics(kafka, topics=[small]) == ["dondoc.test.small"]
    with pytest.raises(TopicError, match=r"dondoc\.test\.small has 1 partitions, 2 declared"):
        await ensure_topics(kafka, topics=[TopicSpec(small.name, 2, "k", "test")])

    # auto.create.topics.enable=false: producing to an unknown topic fails and creates nothing.
    unknown = "dondoc.no-such-topic"
    producer = AIOKafkaProducer(**client_options(kafka), request_timeout_ms=2000)
    await producer.start()
    try:
        with pytest.raises(UnknownTopicOrPartitionError):
            await producer.send_and_wait(unknown, b"lost")
    finally:
        await producer.stop()
    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        assert unknown not in await admin.list_topics()
    finally:
        await admin.close()

    # A data dir of an older dondoc trusted every local connection: the next start asks for passwords.
    await asyncio.to_thread(pg.stop)
    (pg.pgdata / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")
    assert await asyncio.to_thread(pg.start) == database_url
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(f"postgresql://postgres:wrong@127.0.0.1:{pg.port}/dondoc")

    await asyncio.to_thread(node.stop)
    await asyncio.to_thread(pg.stop)
    assert node.status()["running"] is False and node.status()["pid"] is None
    assert pg.status()["running"] is False
    assert not node.pid_file.exists()
    # Stopping a stopped server is a no-op.
    await asyncio.to_thread(node.stop)
    await asyncio.to_thread(pg.stop)


async def test_an_existing_topic_is_given_its_declared_config_and_keeps_its_other_overrides(infra: Any) -> None:
    kafka = infra.kafka
    # As the session's stack made it: the intake topic's records carry the broker's time of arrival.
    assert (await topic_config(kafka, INTAKE))["message.timestamp.type"] == "LogAppendTime"

    name = f"dondoc.test.config-{uuid.uuid4().hex[:10]}"
    tuned = {"retention.ms": "86400000", "segment.ms": "3600000"}  # segment.ms: an operator's, not declared
    await ensure_topics(kafka, topics=[TopicSpec(name, 1, "k", "test", config=tuned)])
    assert (await topic_config(kafka, name))["message.timestamp.type"] == "CreateTime"

    declared = TopicSpec(
        name, 1, "k", "test", config={"retention.ms": "86400000", "message.timestamp.type": "LogAppendTime"}
    )
    assert await ensure_topics(kafka, topics=[declared]) == []  # nothing created: it exists
    config = await topic_config(kafka, name)
    assert (config["message.timestamp.type"], config["retention.ms"], config["segment.ms"]) == (
        "LogAppendTime",
        "86400000",
        "3600000",
    )
    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        assert await align_configs(admin, [declared, *TOPICS]) == []  # as declared already: not touched
    finally:
        await admin.close()


async def test_stack_with_external_servers(
    servers: tuple[KafkaNode, LocalPostgres], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With DONDOC_KAFKA_BOOTSTRAP / DONDOC_DATABASE_URL set, infra_up only checks and creates topics."""
    node, pg = servers
    bootstrap = await asyncio.to_thread(node.start)
    database_url = await asyncio.to_thread(pg.start)
    monkeypatch.setenv("DONDOC_HOME", str(tmp_path / "unused-home"))
    monkeypatch.setenv("DONDOC_KAFKA_BOOTSTRAP", bootstrap)
    monkeypatch.setenv("DONDOC_DATABASE_URL", database_url)
    # An external cluster's operator provides its admin password and the installation's Kafka secret.
    monkeypatch.setenv("DONDOC_KAFKA_ADMIN_PASSWORD", node.admin_password)
    monkeypatch.setenv("DONDOC_KAFKA_SECRET", "external-installation-secret")

    endpoints = await asyncio.to_thread(stack.infra_up)

    assert endpoints == stack.InfraEndpoints(kafka_bootstrap=bootstrap, database_url=database_url)
    status = stack.infra_status()
    for component in ("kafka", "postgres"):
        assert status[component]["external"] and status[component]["running"], status
        assert not status[component]["local"]["running"]
    assert not (tmp_path / "unused-home").exists()
    # infra_down leaves external servers alone.
    await asyncio.to_thread(stack.infra_down)
    assert node.is_running() and pg.is_running()


def status_url() -> str:
    return str(stack.infra_status()["postgres"]["url"])


async def test_stack_local_up_status_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kafka_port, controller_port, pg_port = free_ports(3)
    monkeypatch.setenv("DONDOC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DONDOC_KAFKA_PORT", str(kafka_port))
    monkeypatch.setenv("DONDOC_KAFKA_CONTROLLER_PORT", str(controller_port))
    monkeypatch.setenv("DONDOC_PG_PORT", str(pg_port))
    monkeypatch.delenv("DONDOC_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.delenv("DONDOC_DATABASE_URL", raising=False)
    messages: list[str] = []
    try:
        endpoints = await asyncio.to_thread(stack.infra_up, messages.append)
        assert endpoints.kafka_bootstrap == f"127.0.0.1:{kafka_port}"
        pg = stack.local_postgres()
        # The services' role and the audit service's own, each with this installation's password.
        assert (
            endpoints.database_url
            == pg.url
            == f"postgresql://dondoc:{pg.passwords()['dondoc']}@127.0.0.1:{pg_port}/dondoc"
        )
        assert endpoints.audit_database_url == pg.audit_url
        assert "***" in status_url() and pg.passwords()["dondoc"] not in status_url()
        assert any("Topics:" in m for m in messages)
        status = stack.infra_status()
        assert status["kafka"]["running"] and status["postgres"]["running"]
        assert Path(status["kafka"]["data_dir"]).is_relative_to(tmp_path / "home")
        # A second `up` finds everything in place.
        assert await asyncio.to_thread(stack.infra_up) == endpoints
    finally:
        await asyncio.to_thread(stack.infra_down)
    status = stack.infra_status()
    assert not status["kafka"]["running"] and not status["postgres"]["running"]


async def test_storage_formatted_before_authentication_gets_the_admin_credential_and_keeps_its_data(
    servers: tuple[KafkaNode, LocalPostgres],
) -> None:
    """A `.dondoc/kafka` from before the secure profile: formatted without any SCRAM credential."""
    node, _ = servers
    lib = ensure_jars()
    node.write_config(secure=False)
    node.data_dir.mkdir(parents=True, exist_ok=True)
    config = str(node.config_file)
    fmt = [*node._java_cmd(lib), "kafka.tools.StorageTool", "format", "-t", new_cluster_id(), "-c", config]
    formatted = await asyncio.to_thread(subprocess.run, fmt, capture_output=True, text=True, check=False)
    assert formatted.returncode == 0, formatted.stderr
    meta = (node.data_dir / "meta.properties").read_text()

    await asyncio.to_thread(node.start)

    assert (node.data_dir / "meta.properties").read_text() == meta  # the same storage, not a new one
    await check_login(node.admin_settings())  # the secure broker takes the admin's login
    with pytest.raises(KafkaLoginRefused):
        await check_login(node.admin_settings().model_copy(update={"kafka_password": "not-it"}))
