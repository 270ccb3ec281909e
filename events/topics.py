"""The Kafka topics of dondoc, declared once.

Topics are created by the project (``deploy.topics``), never by the broker on first use:
automatic creation gives one partition and default retention, which silently breaks
per-key ordering at scale-out and compaction of the directory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TASK_EVENTS = "dondoc.task-events"
DIRECTORY = "dondoc.directory"
INTAKE = "dondoc.intake"
INTAKE_REJECTED = "dondoc.intake.rejected"
ALERT_EVENTS = "dondoc.alert-events"
REPORT_EVENTS = "dondoc.report-events"
AUDIT_CHECKPOINTS = "dondoc.audit-checkpoints"
DEAD_LETTER_PREFIX = "dondoc.dead-letter."
# One topic per agency holding credentials, with a copy of the rejections of its own commands: an ACL
# can grant a topic (or a prefix), never the records of one key, so the shared INTAKE_REJECTED, keyed
# by agency, could only be read whole (docs/kafka-security.md).
AGENCY_REJECTIONS_PREFIX = "dondoc.intake.rejected."

KIB = 1024
MIB = 1024 * KIB

SERVICES = ("assignment", "progress", "alerts", "reporting", "audit")


def is_compacted(topic: str) -> bool:
    """A null value on a compacted topic is a tombstone; anywhere else it is a malformed message."""
    return any(spec.name == topic and "compact" in spec.config.get("cleanup.policy", "") for spec in TOPICS)


def agency_rejections_topic(agency_id: str) -> str | None:
    """The topic an agency reads its own rejections from; None when the id cannot name a topic
    (such an id is no agency's: the rejection stays on the shared topic only)."""
    if not _TOPIC_SUFFIX.fullmatch(agency_id or ""):
        return None
    return f"{AGENCY_REJECTIONS_PREFIX}{agency_id}"


def agency_rejections_spec(agency_id: str) -> TopicSpec:
    topic = agency_rejections_topic(agency_id)
    if topic is None:
        raise ValueError(f"{agency_id!r} cannot name a Kafka topic (letters, digits, '.', '_', '-'; at most 200)")
    return TopicSpec(
        topic,
        partitions=1,
        key="submitting agency id",
        description=f"Rejections of the intake commands of {agency_id}, readable by that agency only.",
        config={**_KEEP_FOREVER, "max.message.bytes": str(256 * KIB)},
    )


def with_durability(config: dict[str, str], replication_factor: int) -> dict[str, str]:
    """With three replicas or more, a write needs two of them: acks=all then survives a broker loss."""
    if replication_factor >= 3:
        return {"min.insync.replicas": "2", **config}
    return dict(config)


def max_message_bytes(topic: str) -> int:
    """The largest record ``topic`` accepts (its declared ``max.message.bytes``; the broker default else)."""
    if topic.startswith(AGENCY_REJECTIONS_PREFIX):
        return 256 * KIB
    for spec in TOPICS:
        if spec.name == topic and "max.message.bytes" in spec.config:
            return int(spec.config["max.message.bytes"])
    return _BROKER_DEFAULT_MAX_MESSAGE_BYTES


def dead_letter_topic(service: str) -> str:
    """One dead-letter topic per consuming service, so each team can inspect and replay its own."""
    return f"{DEAD_LETTER_PREFIX}{service}"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    key: str
    description: str
    config: dict[str, str] = field(default_factory=dict)


_KEEP_FOREVER = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}
_TOPIC_SUFFIX = re.compile(r"[A-Za-z0-9._-]{1,200}")
_BROKER_DEFAULT_MAX_MESSAGE_BYTES = 1048588


def _limit(size: int) -> dict[str, str]:
    """Every topic says how large a record may be: the broker refuses larger ones, whoever sends them."""
    return {"max.message.bytes": str(size)}


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        TASK_EVENTS,
        partitions=6,
        key="task_id",
        description="Every lifecycle event of a task, keyed by task id so each task's history is ordered. "
        "Kept forever and never compacted: it is the log every projection is rebuilt from.",
        config={**_KEEP_FOREVER, **_limit(1 * MIB)},
    ),
    TopicSpec(
        DIRECTORY,
        partitions=3,
        key="agency_id, person_id, group_id, or token:<token_id>",
        description="Agencies, people, groups and revoked tokens; compacted so a new consumer reads the "
        "latest state of each (a revocation is never superseded).",
        config={"cleanup.policy": "compact", "min.compaction.lag.ms": "3600000", **_limit(256 * KIB)},
    ),
    TopicSpec(
        INTAKE,
        partitions=3,
        key="submitting agency id",
        description="Commands from agency systems that cannot call HTTP. Each record is stamped with the time "
        "the broker received it, against which its signed timestamp is judged.",
        # The broker's clock, not the sender's nor a reader's: every service judges freshness alike.
        # Small: an agency's command is a few fields; anything near this size is a mistake or an attack.
        config={
            "retention.ms": str(30 * 24 * 3600 * 1000),
            "message.timestamp.type": "LogAppendTime",
            **_limit(256 * KIB),
        },
    ),
    TopicSpec(
        INTAKE_REJECTED,
        partitions=3,
        key="submitting agency id",
        description="Rejections of intake commands, with a machine-readable code and a reason; read by dondoc "
        "itself (audit). Each agency reads the copies of its own on dondoc.intake.rejected.<agency id>.",
        config={**_KEEP_FOREVER, **_limit(256 * KIB)},
    ),
    TopicSpec(
        ALERT_EVENTS,
        partitions=3,
        key="task_id",
        description="Alerts raised, delivered, acknowledged, escalated and resolved.",
        config={**_KEEP_FOREVER, **_limit(1 * MIB)},
    ),
    TopicSpec(
        REPORT_EVENTS,
        partitions=1,
        key="report id",
        description="Published report snapshots.",
        config={**_KEEP_FOREVER, **_limit(4 * MIB)},
    ),
    TopicSpec(
        AUDIT_CHECKPOINTS,
        partitions=1,
        key="audit",
        description="Signed checkpoints of the audit chain (head hash, count, offsets); only audit writes it.",
        config={**_KEEP_FOREVER, **_limit(256 * KIB)},
    ),
    *(
        TopicSpec(
            dead_letter_topic(service),
            partitions=1,
            key="original key",
            description=f"Messages the {service} service could not handle, with the error; "
            "kept for inspection and replay.",
            # The original record (up to the largest topic's limit) travels with its error.
            config={**_KEEP_FOREVER, **_limit(4 * MIB + 64 * KIB)},
        )
        for service in SERVICES
    ),
)

LARGEST_RECORD_BYTES = max(int(spec.config["max.message.bytes"]) for spec in TOPICS)
"""Producers' ``max_request_size``: no record a topic accepts is refused by the producer itself."""
