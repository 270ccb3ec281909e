"""The ACL table (events/kafka_access.py) is the one source of grants, and what the docs show."""

from __future__ import annotations

from events.kafka_access import SERVICE_GRANTS, agency_grants, grants_of, render_markdown, service_principal
from events.topics import AUDIT_CHECKPOINTS, INTAKE, SERVICES, TASK_EVENTS, TOPICS
from tests.conftest import REPO


def test_the_docs_show_the_table_as_the_code_declares_it() -> None:
    doc = (REPO / "docs" / "kafka-security.md").read_text()
    shown = doc.split("<!-- acl-table:begin -->\n", 1)[1].split("<!-- acl-table:end -->", 1)[0]
    assert shown == render_markdown()


def test_every_granted_topic_is_declared() -> None:
    declared = {spec.name for spec in TOPICS}
    literal = {g.name for g in SERVICE_GRANTS if g.resource == "topic" and g.pattern == "literal"}
    assert literal <= declared


def test_only_assignment_and_progress_write_task_events_and_only_audit_writes_its_checkpoints() -> None:
    assert {g.principal for g in SERVICE_GRANTS if g.operation == "write" and g.name == TASK_EVENTS} == {
        "dondoc-assignment",
        "dondoc-progress",
    }
    assert {g.principal for g in SERVICE_GRANTS if g.operation == "write" and g.name == AUDIT_CHECKPOINTS} == {
        "dondoc-audit"
    }


def test_an_agency_may_write_intake_and_read_only_its_own_rejections() -> None:
    grants = agency_grants("ubnd-bd")
    assert {(g.operation, g.name) for g in grants if g.resource == "topic"} == {
        ("write", INTAKE),
        ("read", "dondoc.intake.rejected.ubnd-bd"),
    }
    assert all(g.pattern == "literal" for g in grants if g.resource == "topic")


def test_no_service_can_manage_the_cluster() -> None:
    assert not [g for s in SERVICES for g in grants_of(service_principal(s)) if g.resource not in ("topic", "group")]


def test_each_topic_is_declared_once_with_a_size_limit() -> None:
    names = [spec.name for spec in TOPICS]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    assert all("max.message.bytes" in spec.config for spec in TOPICS)
