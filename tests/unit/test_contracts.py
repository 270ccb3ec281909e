"""The committed contracts/ match the code, and a published schema version never breaks its readers."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from events import contracts
from events.registry import BY_TYPE_AND_VERSION
from events.tasks import TaskAssigned


def test_committed_contracts_equal_what_the_code_generates() -> None:
    stale = [
        rel
        for rel, content in contracts.generate().items()
        if not (contracts.CONTRACTS_DIR / rel).exists()
        or (contracts.CONTRACTS_DIR / rel).read_text(encoding="utf-8") != content
    ]
    assert not stale, f"contracts/ is out of date for {stale}: run `dondoc contracts export` and commit"


def test_every_published_schema_version_still_has_a_class_that_parses_it() -> None:
    published = sorted((contracts.CONTRACTS_DIR / "schemas").glob("*.json"))
    assert published
    for path in published:
        event_type, version = path.stem.rsplit(".v", 1)
        assert (event_type, int(version)) in BY_TYPE_AND_VERSION, (
            f"{path.name} was published but no event class parses {event_type} v{version} any more"
        )


def test_published_versions_are_compatible_with_the_code() -> None:
    for cls in BY_TYPE_AND_VERSION.values():
        path = contracts.CONTRACTS_DIR / contracts.schema_file(cls.event_type, cls.schema_version)
        published = json.loads(path.read_text(encoding="utf-8"))
        assert contracts.breaking_changes(published, contracts.event_schema(cls)) == []


@pytest.fixture
def schema() -> dict[str, Any]:
    return contracts.event_schema(TaskAssigned)


def _payload(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["properties"]["payload"]  # type: ignore[no-any-return]


def test_adding_an_optional_field_is_compatible(schema: dict[str, Any]) -> None:
    new = copy.deepcopy(schema)
    _payload(new)["properties"]["urgency"] = {"type": "string", "default": "normal"}
    assert contracts.breaking_changes(schema, new) == []


def test_removing_a_field_is_breaking(schema: dict[str, Any]) -> None:
    new = copy.deepcopy(schema)
    del _payload(new)["properties"]["title"]
    assert any("title removed" in p for p in contracts.breaking_changes(schema, new))


def test_retyping_a_field_is_breaking(schema: dict[str, Any]) -> None:
    new = copy.deepcopy(schema)
    _payload(new)["properties"]["key_task"] = {"type": "string"}
    assert any("key_task changed type" in p for p in contracts.breaking_changes(schema, new))


def test_making_an_optional_field_required_is_breaking(schema: dict[str, Any]) -> None:
    new = copy.deepcopy(schema)
    _payload(new)["required"] = [*_payload(new).get("required", []), "description"]
    assert any("description became required" in p for p in contracts.breaking_changes(schema, new))


def test_export_refuses_to_overwrite_a_published_version_incompatibly(tmp_path: Any, schema: dict[str, Any]) -> None:
    contracts.export(tmp_path)
    path = tmp_path / contracts.schema_file("TaskAssigned", 1)
    old = json.loads(path.read_text(encoding="utf-8"))
    _payload(old)["properties"]["legacy_field"] = {"type": "string"}  # as if the code had dropped it
    path.write_text(json.dumps(old), encoding="utf-8")
    with pytest.raises(contracts.BreakingChange, match="legacy_field removed"):
        contracts.export(tmp_path)


def test_asyncapi_lists_every_declared_topic() -> None:
    from events.topics import TOPICS

    doc = contracts.asyncapi()
    assert set(doc["channels"]) == {t.name for t in TOPICS}
    assert doc["channels"]["dondoc.task-events"]["messages"]


def test_a_first_size_limit_on_a_field_is_compatible(schema: dict[str, Any]) -> None:
    """Limits (events/limits.py) sit above any real record, so readers of the published version lose nothing."""
    old = copy.deepcopy(schema)
    for props in (_payload(old)["properties"],):
        props["description"].pop("maxLength")
        props["officer_in_charge_id"]["anyOf"][0].pop("maxLength")
        props["coordinating_agency_ids"].pop("maxItems")
    assert contracts.breaking_changes(old, schema) == []


def test_lowering_a_published_size_limit_is_breaking(schema: dict[str, Any]) -> None:
    new = copy.deepcopy(schema)
    _payload(new)["properties"]["description"]["maxLength"] = 10
    _payload(new)["properties"]["officer_in_charge_id"]["anyOf"][0]["maxLength"] = 10
    problems = contracts.breaking_changes(schema, new)
    assert any(".description lowered its maxLength" in p for p in problems)
    assert any(".officer_in_charge_id lowered its maxLength" in p for p in problems)
