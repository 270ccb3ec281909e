"""Each agency reads the rejections of its own intake commands, and no other agency's.

An ACL grants a topic or a topic prefix, never the records of one key, so the shared
``dondoc.intake.rejected`` (keyed by agency, read by dondoc itself) cannot be split by ACLs. Each
rejection is therefore also written, in the same transaction, to ``dondoc.intake.rejected.<agency>``,
which only that agency's principal may read (events/kafka_access.py). The copy has its own event id
(derived from the original's and the topic) because the outbox keeps one row per event id.

The agency's topic is made by ``dondoc kafka credentials issue``, or by the relay on first use
(``AgencyTopics``): an agency may send a command before anyone made its topic.
"""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import NoError, TopicAlreadyExistsError, for_code

from events.envelope import Envelope, deterministic_id
from events.topics import AGENCY_REJECTIONS_PREFIX, agency_rejections_spec, agency_rejections_topic, with_durability
from services.runtime import outbox
from services.runtime.kafka_config import client_options
from services.runtime.settings import Settings
from services.runtime.unit_of_work import UnitOfWork


async def copy_to_agency(uow: UnitOfWork, rejection: Envelope, agency_id: str | None) -> None:
    """Queue a copy of ``rejection`` for the agency's own topic (none for an id that cannot be one)."""
    topic = agency_rejections_topic(agency_id or "")
    if topic is None:
        return
    copy = rejection.model_copy(update={"event_id": deterministic_id(rejection.event_id, topic)})
    await outbox.enqueue(uow.conn, copy, schema=uow.schema, key=agency_id, topic=topic)


class AgencyTopics:
    """Makes agencies' rejection topics on first use, for the relay (CREATE on the prefix only)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._known: set[str] = set()

    async def ensure(self, topics: set[str]) -> dict[str, str]:
        """Make the agencies' topics among ``topics`` that are not known yet; return those that could not be
        made, with why (their rows are parked: waiting would only stall the relay)."""
        wanted = {t for t in topics if t.startswith(AGENCY_REJECTIONS_PREFIX)} - self._known
        if not wanted:
            return {}
        admin = AIOKafkaAdminClient(**client_options(self._settings))
        try:
            await admin.start()
            replicas = self._settings.topic_replication_factor
            specs = [agency_rejections_spec(t.removeprefix(AGENCY_REJECTIONS_PREFIX)) for t in sorted(wanted)]
            response = await admin.create_topics(
                [
                    NewTopic(s.name, s.partitions, replicas, topic_configs=with_durability(s.config, replicas))
                    for s in specs
                ]
            )
        finally:
            await admin.close()
        failed: dict[str, str] = {}
        for entry in response.to_object()["topic_errors"]:
            error = for_code(entry["error_code"])
            if error in (NoError, TopicAlreadyExistsError):
                self._known.add(entry["topic"])
            else:
                failed[entry["topic"]] = f"{error.__name__}: {entry.get('error_message') or error.description}"
        return failed
