"""JSON Schema of every event and an AsyncAPI document of every topic, generated from the models.

``dondoc contracts export`` writes them into ``contracts/``; they are committed. Tests check
that the committed files equal what the code generates, and ``breaking_changes`` tells whether
a change to a published (type, version) would break its readers: removing or retyping a field,
or making an optional one required, or lowering a size limit, needs a new schema_version (and the old
one kept parsing). A first size limit on a field is not breaking (see ``_LIMITS``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from events.envelope import Envelope
from events.registry import EVENT_TYPES
from events.topics import TOPICS

CONTRACTS_DIR = Path(__file__).resolve().parent.parent / "contracts"
_HEADERS = {
    "type": "object",
    "properties": {
        "event_type": {"type": "string"},
        "schema_version": {"type": "string", "description": "integer as text"},
        "correlation_id": {"type": "string", "format": "uuid"},
        "traceparent": {"type": "string", "description": "W3C trace context"},
    },
    "required": ["event_type", "schema_version", "correlation_id"],
}


def schema_file(event_type: str, version: int) -> str:
    return f"schemas/{event_type}.v{version}.json"


def event_schema(cls: type) -> dict[str, Any]:
    """The envelope's schema with this event's payload in place of the abstract one."""
    envelope = Envelope.model_json_schema(mode="serialization")
    payload = cls.model_json_schema(mode="serialization")  # type: ignore[attr-defined]
    defs = {**envelope.pop("$defs", {}), **payload.pop("$defs", {})}
    defs.pop("EventPayload", None)
    envelope["properties"]["payload"] = payload
    envelope["properties"]["event_type"] = {"const": cls.event_type, "type": "string"}  # type: ignore[attr-defined]
    envelope["properties"]["schema_version"] = {"const": cls.schema_version, "type": "integer"}  # type: ignore[attr-defined]
    envelope["title"] = f"{cls.event_type} v{cls.schema_version}"  # type: ignore[attr-defined]
    envelope["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    if defs:
        envelope["$defs"] = dict(sorted(defs.items()))
    return envelope


def asyncapi() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for cls in EVENT_TYPES:
        name = f"{cls.event_type}.v{cls.schema_version}"
        messages[name] = {
            "name": cls.event_type,
            "title": f"{cls.event_type} (schema v{cls.schema_version})",
            "contentType": "application/json",
            "headers": _HEADERS,
            "payload": {"$ref": schema_file(cls.event_type, cls.schema_version)},
        }
    for spec in TOPICS:
        on_topic = {
            f"{c.event_type}.v{c.schema_version}": {"$ref": f"#/components/messages/{c.event_type}.v{c.schema_version}"}
            for c in EVENT_TYPES
            if c.topic == spec.name
        }
        channels[spec.name] = {
            "address": spec.name,
            "description": f"{spec.description} Key: {spec.key}. Partitions: {spec.partitions}.",
            "bindings": {"kafka": {"partitions": spec.partitions, "topicConfiguration": spec.config}},
            "messages": on_topic,
        }
        if on_topic:
            operations[f"publish-{spec.name}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{spec.name}"},
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "dondoc events",
            "version": "1",
            "description": "Every message is one JSON envelope (UTF-8, NFC) as in DESIGN §3.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def generate() -> dict[str, str]:
    """Relative path -> file content of every contract document."""
    files = {schema_file(cls.event_type, cls.schema_version): _dump(event_schema(cls)) for cls in EVENT_TYPES}
    files["asyncapi.json"] = _dump(asyncapi())
    return files


def _dump(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def export(target: Path = CONTRACTS_DIR, *, allow_breaking: bool = False) -> list[str]:
    """Write the contracts; refuses to overwrite a published version with a breaking change."""
    written = []
    for rel, content in generate().items():
        path = target / rel
        if path.exists() and path.read_text(encoding="utf-8") == content:
            continue
        if path.exists() and rel.startswith("schemas/") and not allow_breaking:
            problems = breaking_changes(json.loads(path.read_text(encoding="utf-8")), json.loads(content))
            if problems:
                raise BreakingChange(rel, problems)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(rel)
    return written


class BreakingChange(ValueError):
    def __init__(self, rel: str, problems: list[str]) -> None:
        super().__init__(
            f"{rel}: a published schema version changed incompatibly: {'; '.join(problems)}. "
            "Raise the event's schema_version and keep the old class registered so the old version still parses."
        )
        self.problems = problems


def breaking_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What a reader of ``old`` would trip over in ``new`` (and a writer of old in new's readers)."""
    return _compare(old, new, old.get("$defs", {}), new.get("$defs", {}), "")


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref", "")
    if ref.startswith("#/$defs/"):
        resolved: dict[str, Any] = defs.get(ref.removeprefix("#/$defs/"), {})
        return resolved
    return node


def _types(node: dict[str, Any]) -> set[str]:
    if "type" in node:
        t = node["type"]
        return set(t) if isinstance(t, list) else {t}
    if "const" in node:
        return {type(node["const"]).__name__}
    return {json.dumps(o, sort_keys=True) for o in node.get("anyOf", [])}


_LIMITS = ("maxLength", "maxItems")
"""Size limits (events/limits.py). A first limit on a field is compatible: each was set far above any real
record (docs/limits.md), so every record a reader ever met still fits. Lowering a published limit can refuse
records that were valid, so it is breaking; raising or removing one is not."""


def _unlimited(node: dict[str, Any]) -> str:
    """A form as JSON text, without its size limits at any depth: the same form whatever its limits."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in _LIMITS}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return json.dumps(strip(node), sort_keys=True)


def _lowered_limits(old: dict[str, Any], new: dict[str, Any], path: str) -> list[str]:
    return [
        f"{path or '(root)'} lowered its {keyword} from {old[keyword]} to {new[keyword]}"
        for keyword in _LIMITS
        if keyword in old and keyword in new and new[keyword] < old[keyword]
    ]


def _compare(
    old: dict[str, Any], new: dict[str, Any], old_defs: dict[str, Any], new_defs: dict[str, Any], path: str
) -> list[str]:
    old, new = _resolve(old, old_defs), _resolve(new, new_defs)
    problems: list[str] = []
    if "anyOf" not in old and "anyOf" not in new and _types(old) != _types(new):
        problems.append(f"{path or '(root)'} changed type {sorted(_types(old))} -> {sorted(_types(new))}")
        return problems
    if "anyOf" in old or "anyOf" in new:
        old_alts = {_unlimited(_resolve(o, old_defs)): o for o in old.get("anyOf", [old])}
        new_alts = {_unlimited(_resolve(o, new_defs)): o for o in new.get("anyOf", [new])}
        if not old_alts.keys() <= new_alts.keys():
            problems.append(f"{path or '(root)'} no longer accepts every form it accepted")
            return problems
        for form, alt in old_alts.items():  # the same form: only a limit can differ, and none may be lowered
            problems += _compare(alt, new_alts[form], old_defs, new_defs, path)
        return problems
    problems += _lowered_limits(old, new, path)
    if "const" in old and old.get("const") != new.get("const"):
        problems.append(f"{path} changed constant {old['const']!r} -> {new.get('const')!r}")
    if "enum" in old and not set(old["enum"]) <= set(new.get("enum", old["enum"])):
        problems.append(f"{path} dropped enum values {sorted(set(old['enum']) - set(new.get('enum', [])))}")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, schema in old_props.items():
        if name not in new_props:
            problems.append(f"{path}.{name} removed")
        else:
            problems += _compare(schema, new_props[name], old_defs, new_defs, f"{path}.{name}")
    newly_required = set(new.get("required", [])) - set(old.get("required", []))
    for name in sorted(newly_required):
        problems.append(f"{path}.{name} became required" if name in old_props else f"{path}.{name} added as required")
    if old.get("additionalProperties") is not False and new.get("additionalProperties") is False and path:
        problems.append(f"{path} stopped accepting extra fields")
    if "items" in old and "items" in new:
        problems += _compare(old["items"], new["items"], old_defs, new_defs, f"{path}[]")
    return problems
