"""Kafka is the trust boundary: every client authenticates (SASL SCRAM-SHA-512) and the broker's
StandardAuthorizer allows only what events/kafka_access.py grants (real broker, ACLs on as always)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError
from aiokafka.helpers import create_ssl_context

from deploy.acls import broker_acls, grant_agency, revoke_agency
from deploy.credentials import as_principal, with_identity
from events.intake import signed_headers, signing_key
from events.kafka_access import SERVICE_GRANTS, SERVICE_PRINCIPALS, agency_grants, agency_principal, grants_of
from events.topics import (
    ALERT_EVENTS,
    DIRECTORY,
    INTAKE,
    SERVICES,
    TASK_EVENTS,
    TOPICS,
    agency_rejections_topic,
)
from services import registry
from services.assignment.tasks.rules import task_id_for
from services.cli.kafka_cli import client_settings
from services.runtime.kafka_config import KafkaLoginRefused, check_login, client_options, producer_options
from services.runtime.service import create_app
from tests.conftest import REPO, eventually, running, unique
from tests.integration.kafka_tools import TopicReader
from tests.integration.test_assignment_support import body, clock, outbox_events, prepared

pytestmark = pytest.mark.integration


def agency_kafka(infra: Any, agency_id: str) -> Any:
    """Issue the agency's credentials; its settings, as the JSON an agency is given."""
    password = grant_agency(infra.kafka, agency_id)
    return with_identity(infra.kafka, agency_principal(agency_id), password)


async def end_offsets(infra: Any, topic: str) -> dict[int, int]:
    spec = next(s for s in TOPICS if s.name == topic)
    async with TopicReader(infra.kafka, topic, spec.partitions) as reader:
        return dict(enumerate(await reader.end_offsets()))


async def refused_read(kafka: Any, topic: str | None) -> bool:
    assert topic is not None
    consumer = AIOKafkaConsumer(topic, **client_options(kafka), group_id=None, enable_auto_commit=False)
    try:
        await consumer.start()
    except TopicAuthorizationFailedError:
        return True
    finally:
        await consumer.stop()
    return False


async def refused_write(kafka: Any, topic: str) -> bool:
    producer = AIOKafkaProducer(**producer_options(kafka), request_timeout_ms=5000)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{}", key=b"forged")
    except TopicAuthorizationFailedError:
        return True
    finally:
        await producer.stop()
    return False


def test_the_broker_holds_exactly_the_table_of_grants(infra: Any) -> None:
    """Both ways: every grant of the table is on the broker, and a service principal has nothing else."""
    on_broker = {b for b in broker_acls(infra.kafka) if b[0] in SERVICE_PRINCIPALS}
    assert on_broker == {g.binding for g in SERVICE_GRANTS}

    agency = unique("ag")
    agency_kafka(infra, agency)
    mine = {b for b in broker_acls(infra.kafka) if b[0] == agency_principal(agency)}
    assert mine == {g.binding for g in agency_grants(agency)}


async def test_an_anonymous_client_and_a_wrong_password_cannot_connect(infra: Any) -> None:
    anonymous = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, request_timeout_ms=3000)
    with pytest.raises(KafkaConnectionError):
        await anonymous.start()
    await anonymous.stop()

    wrong = with_identity(infra.kafka, "dondoc-assignment", "not-the-password")
    with pytest.raises(KafkaLoginRefused, match="dondoc-assignment"):
        await check_login(wrong)
    producer = AIOKafkaProducer(**producer_options(wrong), request_timeout_ms=3000)
    with pytest.raises(KafkaConnectionError):
        await producer.start()
    await producer.stop()


async def test_an_agency_cannot_write_internal_topics_nor_read_task_events(infra: Any) -> None:
    agency = agency_kafka(infra, unique("ag"))
    internal = (TASK_EVENTS, DIRECTORY, ALERT_EVENTS)
    before = {t: await end_offsets(infra, t) for t in internal}
    for topic in internal:
        assert await refused_write(agency, topic), topic
    assert {t: await end_offsets(infra, t) for t in internal} == before  # nothing reached the topics

    assert await refused_read(agency, TASK_EVENTS)


async def test_a_service_principal_cannot_write_outside_its_row(infra: Any) -> None:
    static = {s.name for s in TOPICS}
    for service in SERVICES:
        principal = f"dondoc-{service}"
        writes = {g.name for g in grants_of(principal) if g.operation == "write" and g.resource == "topic"}
        outside = sorted(static - writes)
        assert outside, principal
        kafka = as_principal(infra.kafka, principal)
        for topic in outside[:3] + [TASK_EVENTS] * (TASK_EVENTS not in writes):
            assert await refused_write(kafka, topic), f"{principal} wrote {topic}"


async def test_revoked_agency_credentials_stop_working_without_a_broker_restart(infra: Any) -> None:
    agency_id = unique("ag")
    agency = agency_kafka(infra, agency_id)
    await check_login(agency)
    assert revoke_agency(infra.kafka, agency_id)

    async def refused() -> bool:
        try:
            await check_login(agency)
        except KafkaLoginRefused:
            return True
        return False

    await eventually(refused, timeout=20, what="the revoked password to be refused")
    assert not {b for b in broker_acls(infra.kafka) if b[0] == agency_principal(agency_id)}


@pytest.fixture
async def assignment_and_progress(settings: Any) -> AsyncIterator[None]:
    async with (
        running(registry.definition("assignment"), settings, clock()),
        running(registry.definition("progress"), settings, clock()),
    ):
        yield


async def rejections(kafka: Any, agency_id: str) -> list[dict[str, Any]]:
    topic = agency_rejections_topic(agency_id)
    assert topic is not None
    async with TopicReader(kafka, topic) as reader:
        return [json.loads(r.value)["payload"] for r in await reader.read()]


async def test_an_agency_sends_a_command_and_reads_its_own_rejection_but_not_anothers(
    infra: Any, settings: Any, assignment_and_progress: None
) -> None:
    tokens = await prepared(settings, "ubnd-bd", "bd-sgddt")
    sender, other = agency_kafka(infra, "ubnd-bd"), agency_kafka(infra, "bd-sgddt")
    # The settings an agency is given are aiokafka's keyword arguments, as printed.
    printed: dict[str, Any] = client_settings(infra.kafka, sender.kafka_username, sender.kafka_password)
    if cafile := printed.pop("ssl_cafile", None):  # with DONDOC_KAFKA_TLS=1, as the README shows
        printed["ssl_context"] = create_ssl_context(cafile=cafile)
    producer = AIOKafkaProducer(**printed, enable_idempotence=True)
    await producer.start()
    try:
        command_id = unique("c")
        task = body("bd-sgddt", key=command_id)
        task.pop("idempotency_key")
        good = json.dumps({"command_type": "AssignTask", "command_id": command_id, "payload": task}).encode()
        bad = b'{"command_type": "AssignTask",'
        key = signing_key(settings.token_secret, "ubnd-bd", tokens["ubnd-bd"].token_id)
        sent = []
        for value in (good, bad):
            headers = signed_headers(key, "ubnd-bd", tokens["ubnd-bd"].token_id, value, time.time())
            sent.append(await producer.send_and_wait(INTAKE, value, key=b"ubnd-bd", headers=headers))
        bad_at = (sent[1].partition, sent[1].offset)
    finally:
        await producer.stop()

    async def assigned() -> list[dict[str, Any]]:
        return await outbox_events(settings.database_url, task_id_for("ubnd-bd", command_id))

    [event] = await eventually(assigned, timeout=60, what="the command's TaskAssigned")
    assert event["event_type"] == "TaskAssigned"

    async def own_rejection() -> list[dict[str, Any]]:  # of this record: other tests send as ubnd-bd too
        found = await rejections(sender, "ubnd-bd")
        return [r for r in found if (r["record"]["partition"], r["record"]["offset"]) == bad_at]

    [rejected] = await eventually(own_rejection, timeout=60, what="the agency's own rejection")
    assert rejected["agency_id"] == "ubnd-bd" and rejected["code"] == "malformed-json"
    assert await refused_read(other, agency_rejections_topic("ubnd-bd"))


async def test_a_service_with_a_wrong_password_is_not_ready_and_says_who(settings: Any) -> None:
    wrong = with_identity(settings, "dondoc-progress", "not-the-password")
    app = create_app(registry.definition("progress"), wrong, clock())
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            answer = await http.get("/readyz")
    assert answer.status_code == 503
    [problem] = answer.json()["problems"]
    assert "dondoc-progress" in problem and "refused" in problem


def test_the_cli_says_in_one_line_that_kafka_refused_a_credentials_file(infra: Any, tmp_path: Any) -> None:
    agency_id = unique("ag")
    agency = agency_kafka(infra, agency_id)
    path = tmp_path / "creds.json"
    path.write_text(json.dumps(client_settings(infra.kafka, agency.kafka_username, "wrong-password")))
    result = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "kafka", "check", str(path)],
        capture_output=True, text=True, cwd=REPO, check=False,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "400", "DONDOC_HOME": str(tmp_path / "home")},
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "từ chối" in lines[0] and "refused" in lines[0], result.stderr
