"""Who may do what on dondoc's Kafka: the one table ACLs are made from.

Kafka is dondoc's trust boundary: every service trusts what it reads on the internal topics, so the
broker itself must refuse a write from anyone who is not that topic's producer. The broker runs with
``allow.everyone.if.no.acl.found=false`` and a single super-user (the admin principal, which creates
topics, users and ACLs); every other principal holds exactly the grants below, created by
``deploy.acls.sync_acls`` — nothing else creates ACLs — and rendered into docs/kafka-security.md
(``dondoc kafka acls --markdown``). tests/integration/test_kafka_access.py reads the broker's ACLs
back and compares them with this table both ways.

Rules of thumb encoded here: a consumer gets READ on its topics and on its own consumer groups
(``dondoc.<service>`` and the prefix ``dondoc.<service>.``); a producer gets WRITE on exactly the
topics its events declare (``EventPayload.topic``) and on its own dead-letter topic. WRITE implies
DESCRIBE and lets an idempotent producer start (KIP-679), so no cluster-level grant is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from events.topics import (
    AGENCY_REJECTIONS_PREFIX,
    ALERT_EVENTS,
    AUDIT_CHECKPOINTS,
    DIRECTORY,
    INTAKE,
    INTAKE_REJECTED,
    REPORT_EVENTS,
    SERVICES,
    TASK_EVENTS,
    agency_rejections_topic,
    dead_letter_topic,
)

ResourceType = Literal["topic", "group"]
PatternType = Literal["literal", "prefixed"]
Operation = Literal["read", "write", "create", "describe"]

ADMIN_PRINCIPAL = "dondoc-admin"
"""The only super-user: formats the broker's storage with its credential, and creates topics, users, ACLs."""
AGENCY_PRINCIPAL_PREFIX = "agency-"


@dataclass(frozen=True, order=True)
class Grant:
    """ALLOW ``operation`` on ``resource``:``name`` (matched ``pattern``-wise) to ``User:<principal>``."""

    principal: str
    resource: ResourceType
    name: str
    pattern: PatternType
    operation: Operation
    why: str = ""

    @property
    def binding(self) -> tuple[str, str, str, str, str]:
        """What identifies the ACL on the broker (the reason is ours)."""
        return (self.principal, self.resource, self.name, self.pattern, self.operation)


def service_principal(service: str) -> str:
    return f"dondoc-{service}"


def agency_principal(agency_id: str) -> str:
    return f"{AGENCY_PRINCIPAL_PREFIX}{agency_id}"


def _reads(service: str, *topics: str) -> list[Grant]:
    principal = service_principal(service)
    return [
        *(Grant(principal, "topic", t, "literal", "read", "consumes it") for t in topics),
        Grant(principal, "group", f"dondoc.{service}", "literal", "read", "its consumer group"),
        Grant(principal, "group", f"dondoc.{service}.", "prefixed", "read", "its other consumer groups"),
    ]


def _writes(service: str, *topics: str, why: str = "publishes its events there") -> list[Grant]:
    return [Grant(service_principal(service), "topic", t, "literal", "write", why) for t in topics]


def _dead_letters(service: str) -> list[Grant]:
    return _writes(service, dead_letter_topic(service), why="its own dead letters")


def _agency_copies(service: str) -> list[Grant]:
    """Intake answerers copy each rejection to the submitting agency's own topic, which they create on
    first use (an agency may submit before anyone made its topic)."""
    principal = service_principal(service)
    return [
        Grant(principal, "topic", AGENCY_REJECTIONS_PREFIX, "prefixed", op, "copies of rejections, per agency")
        for op in ("write", "create")
    ]


SERVICE_GRANTS: tuple[Grant, ...] = tuple(
    sorted(
        [
            # assignment: the front door; it owns tasks as assigned and the directory.
            *_reads("assignment", INTAKE, TASK_EVENTS),  # task events: whether a task is still open
            *_writes("assignment", TASK_EVENTS, DIRECTORY, INTAKE_REJECTED),
            *_dead_letters("assignment"),
            *_agency_copies("assignment"),
            # progress: task status and deadlines; answers the progress commands of intake.
            *_reads("progress", TASK_EVENTS, DIRECTORY, INTAKE),
            *_writes("progress", TASK_EVENTS, INTAKE_REJECTED),
            *_dead_letters("progress"),
            *_agency_copies("progress"),
            # alerts: raises alerts from task events, for people of the directory.
            *_reads("alerts", TASK_EVENTS, DIRECTORY),
            *_writes("alerts", ALERT_EVENTS),
            *_dead_letters("alerts"),
            # reporting: read models; publishes report snapshots.
            *_reads("reporting", TASK_EVENTS, DIRECTORY),
            *_writes("reporting", REPORT_EVENTS),
            *_dead_letters("reporting"),
            # audit: reads everything an inspector may ask about; writes only its checkpoints.
            *_reads("audit", TASK_EVENTS, ALERT_EVENTS, DIRECTORY, INTAKE_REJECTED, REPORT_EVENTS, AUDIT_CHECKPOINTS),
            *_writes("audit", AUDIT_CHECKPOINTS, why="the signed checkpoints of its chain"),
            *_dead_letters("audit"),
        ]
    )
)
"""Every grant of every service principal; nothing else is granted to them."""

SERVICE_PRINCIPALS: tuple[str, ...] = tuple(service_principal(s) for s in SERVICES)


def agency_grants(agency_id: str) -> tuple[Grant, ...]:
    """What an agency system may do: send commands, read the rejections of its own, nothing more.

    No READ on ``dondoc.intake``: an agency would see the other agencies' (signed) commands there.
    Its rejections topic has one partition, read without a consumer group or with groups under its
    own prefix."""
    topic = agency_rejections_topic(agency_id)
    if topic is None:
        raise ValueError(f"{agency_id!r} cannot name a Kafka topic")
    principal = agency_principal(agency_id)
    return (
        Grant(principal, "topic", INTAKE, "literal", "write", "sends intake commands"),
        Grant(principal, "topic", topic, "literal", "read", "reads the rejections of its own commands"),
        Grant(principal, "group", f"{agency_principal(agency_id)}.", "prefixed", "read", "its consumer groups"),
    )


def grants_of(principal: str) -> tuple[Grant, ...]:
    return tuple(g for g in SERVICE_GRANTS if g.principal == principal)


def render_markdown() -> str:
    """The table as docs/kafka-security.md shows it (``dondoc kafka acls --markdown``)."""
    lines = [
        "| principal | operation | resource | name | pattern | why |",
        "|---|---|---|---|---|---|",
        *(
            f"| `{g.principal}` | {g.operation.upper()} | {g.resource} | `{g.name}` | {g.pattern} | {g.why} |"
            for g in SERVICE_GRANTS
        ),
        *(
            f"| `agency-<id>` | {g.operation.upper()} | {g.resource} | `{g.name.replace(_EXAMPLE, '<id>')}` "
            f"| {g.pattern} | {g.why} |"
            for g in agency_grants(_EXAMPLE)
        ),
    ]
    return "\n".join(lines) + "\n"


_EXAMPLE = "example-agency"
