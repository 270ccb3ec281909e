"""The Kafka topics of dondoc, declared once.

Topics are created by the project (``deploy.topics``), never by the broker on first use:
automatic creation gives one partition and default retention, which silently breaks
per-key ordering at scale-out and compaction of the directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TASK_EVENTS = "dondoc.task-events"
DIRECTORY = "dondoc.directory"
INTAKE = "dondoc.intake"
INTAKE_REJECTED = "dondoc.intake.rejected"
ALERT_EVENTS = "dondoc.alert-events"
REPORT_EVENTS = "dondoc.report-events"
AUDIT_CHECKPOINTS = "dondoc.audit-checkpoints"
DEAD_LETTER_PREFIX = "dondoc.dead-letter."

SERVICES = ("assignment", "progress", "alerts", "reporting", "audit")


def is_compacted(topic: str) -> bool:
    """A null value on a compacted topic is a tombstone; anywhere else it is a malformed message."""
    return any(spec.name == topic and "compact" in spec.config.get("cleanup.policy", "") for spec in TOPICS)


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

TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        TASK_EVENTS,
        partitions=6,
        key="task_id",
        description="Every lifecycle event of a task, keyed by task id so each task's history is ordered. "
        "Kept forever and never compacted: it is the log every projection is rebuilt from.",
        config=_KEEP_FOREVER,
    ),
    TopicSpec(
        DIRECTORY,
        partitions=3,
        key="agency_id, person_id, group_id, or token:<token_id>",
        description="Agencies, people, groups and revoked tokens; compacted so a new consumer reads the "
        "latest state of each (a revocation is never superseded).",
        config={"cleanup.policy": "compact", "min.compaction.lag.ms": "3600000"},
    ),
    TopicSpec(
        INTAKE,
        partitions=3,
        key="submitting agency id",
        description="Commands from agency systems that cannot call HTTP. Each record is stamped with the time "
        "the broker received it, against which its signed timestamp is judged.",
        # The broker's clock, not the sender's nor a reader's: every service judges freshness alike.
        config={"retention.ms": str(30 * 24 * 3600 * 1000), "message.timestamp.type": "LogAppendTime"},
    ),
    TopicSpec(
        INTAKE_REJECTED,
        partitions=3,
        key="submitting agency id",
        description="Rejections of intake commands, with a machine-readable code and a reason.",
        config=_KEEP_FOREVER,
    ),
    TopicSpec(
        ALERT_EVENTS,
        partitions=3,
        key="task_id",
        description="Alerts raised, delivered, acknowledged, escalated and resolved.",
        config=_KEEP_FOREVER,
    ),
    TopicSpec(
        REPORT_EVENTS,
        partitions=1,
        key="report id",
        description="Published report snapshots.",
        config=_KEEP_FOREVER,
    ),
    TopicSpec(
        AUDIT_CHECKPOINTS,
        partitions=1,
        key="audit",
        description="Signed checkpoints of the audit chain (head hash, count, offsets); only audit writes it.",
        config=_KEEP_FOREVER,
    ),
    *(
        TopicSpec(
            dead_letter_topic(service),
            partitions=1,
            key="original key",
            description=f"Messages the {service} service could not handle, with the error; "
            "kept for inspection and replay.",
            config=_KEEP_FOREVER,
        )
        for service in SERVICES
    ),
)
