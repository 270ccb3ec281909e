"""Create dondoc's topics from their declaration (``events.topics.TOPICS``).

The broker runs with ``auto.create.topics.enable=false``, so this is the only way topics come to
exist: each gets its declared partition count and config rather than broker defaults.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import NoError, TopicAlreadyExistsError, for_code

from deploy.errors import TopicError
from deploy.topic_config import align_configs
from events.topics import TOPICS, TopicSpec, with_durability
from services.runtime.kafka_config import client_options
from services.runtime.settings import Settings

log = logging.getLogger(__name__)


async def ensure_topics(
    admin_settings: Settings,
    replication_factor: int = 1,
    *,
    topics: Iterable[TopicSpec] = TOPICS,
    timeout: float = 30,  # noqa: ASYNC109 (also the admin client's request timeout)
) -> list[str]:
    """As the admin principal (``admin_settings``), create the declared topics that are missing, set the
    declared config on those that exist (deploy/topic_config.py); return the names created.

    Returns once every declared topic is visible in the metadata with all partitions led, so a
    producer started next does not race the creation. Raises ``TopicError`` if a topic exists with
    fewer partitions than declared: per-key ordering would then differ from what the code assumes,
    and only an operator can decide how to repartition.
    """
    specs = list(topics)
    deadline = time.monotonic() + timeout
    admin = AIOKafkaAdminClient(**client_options(admin_settings), request_timeout_ms=int(timeout * 1000))
    try:
        await admin.start()  # inside the try: a failed bootstrap still closes the client's connections
        existing = set(await admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        created = await _create(admin, missing, replication_factor) if missing else []
        partitions = await _wait_visible(admin, [spec.name for spec in specs], deadline)
        await align_configs(admin, [spec for spec in specs if spec.name in existing])
    finally:
        await admin.close()

    too_few = [
        f"{spec.name} has {partitions[spec.name]} partitions, {spec.partitions} declared"
        for spec in specs
        if partitions[spec.name] < spec.partitions
    ]
    if too_few:
        raise TopicError(
            "Topics exist with fewer partitions than declared in events/topics.py: "
            + "; ".join(too_few)
            + ". Add partitions with kafka-topics --alter (keys will move between partitions) "
            "or delete and recreate the topics on a dev broker."
        )
    if created:
        log.info("Created topics: %s", ", ".join(created))
    return created


async def _create(admin: AIOKafkaAdminClient, specs: list[TopicSpec], replication_factor: int) -> list[str]:
    response = await admin.create_topics(
        [
            NewTopic(
                name=spec.name,
                num_partitions=spec.partitions,
                replication_factor=replication_factor,
                topic_configs=with_durability(spec.config, replication_factor),
            )
            for spec in specs
        ]
    )
    created: list[str] = []
    failures: list[str] = []
    for entry in response.to_object()["topic_errors"]:
        error = for_code(entry["error_code"])
        if error is NoError:
            created.append(entry["topic"])
        elif error is TopicAlreadyExistsError:
            pass  # created meanwhile by a concurrent caller (another service or test session)
        else:
            message = entry.get("error_message") or error.description
            failures.append(f"{entry['topic']}: {error.__name__} ({message})")
    if failures:
        raise TopicError("Could not create topics: " + "; ".join(failures))
    return created


async def _wait_visible(admin: AIOKafkaAdminClient, names: list[str], deadline: float) -> dict[str, int]:
    """Poll the metadata until every topic is known with a leader per partition; map name -> partitions."""
    while True:
        described: list[dict[str, Any]] = await admin.describe_topics(names)
        ready = {
            t["topic"]: len(t["partitions"])
            for t in described
            if t["error_code"] == 0 and t["partitions"] and all(p["leader"] >= 0 for p in t["partitions"])
        }
        if len(ready) == len(names):
            return ready
        if time.monotonic() >= deadline:
            pending = sorted(set(names) - set(ready))
            raise TopicError(f"Topics not available in time: {', '.join(pending)}")
        await asyncio.sleep(0.1)
