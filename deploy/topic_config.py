"""Bring the config of existing topics to what ``events.topics.TOPICS`` declares.

A topic made before a setting was declared keeps its old config unless someone changes it:
``dondoc.intake`` made before ``message.timestamp.type=LogAppendTime`` was declared would keep the
producers' timestamps, and then an agency, not the broker, would say when its command arrived.

Invariants (tests/integration/test_infra.py):
* Only declared keys change; a topic already as declared is not touched.
* The AlterConfigs request replaces a topic's whole set of overrides, so the overrides it has that are
  not declared (an operator's tuning) are sent along unchanged. A topic whose overrides cannot be read
  back (a sensitive value) is not altered: ``TopicError`` says what to set by hand.
"""

from __future__ import annotations

import logging
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import NoError, for_code

from deploy.errors import TopicError
from events.topics import TopicSpec

log = logging.getLogger(__name__)

_DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs v1+ config_source: set on this topic


async def align_configs(admin: AIOKafkaAdminClient, specs: list[TopicSpec]) -> list[str]:
    """Set each declared config that differs on the topic; return ``topic: key=value`` of what changed."""
    declared = {spec.name: spec.config for spec in specs if spec.config}
    if not declared:
        return []
    overrides = await _overrides(admin, list(declared))
    changes: dict[str, dict[str, str]] = {}
    changed: list[str] = []
    for name, config in declared.items():
        current = overrides[name]
        if differing := {k: v for k, v in config.items() if current.get(k) != v}:
            if unreadable := sorted(k for k, v in current.items() if v is None):
                raise TopicError(
                    f"{name} needs {differing} but its overrides {unreadable} cannot be read back "
                    "to keep them: set the declared values with kafka-configs --alter by hand"
                )
            changes[name] = {**{k: v for k, v in current.items() if v is not None}, **config}
            changed += [f"{name}: {k}={v}" for k, v in differing.items()]
    if changes:
        resources = [ConfigResource(ConfigResourceType.TOPIC, name, configs=c) for name, c in changes.items()]
        failures = [
            f"{entry['resource_name']}: {for_code(entry['error_code']).__name__} ({entry['error_message']})"
            for response in await admin.alter_configs(resources)
            for entry in response.to_object()["resources"]
            if for_code(entry["error_code"]) is not NoError
        ]
        if failures:
            raise TopicError("Could not alter topic configs: " + "; ".join(failures))
        log.info("Altered topic configs: %s", "; ".join(changed))
    return changed


async def _overrides(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, dict[str, str | None]]:
    """The configs set on each topic itself (not broker or default values)."""
    found: dict[str, dict[str, str | None]] = {}
    for response in await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names]):
        for resource in response.to_object()["resources"]:
            if for_code(resource["error_code"]) is not NoError:
                raise TopicError(
                    f"Could not read the config of {resource['resource_name']}: {resource['error_message']}"
                )
            found[resource["resource_name"]] = {
                entry["config_names"]: entry["config_value"]
                for entry in resource["config_entries"]
                if _is_override(entry)
            }
    return found


def _is_override(entry: dict[str, Any]) -> bool:
    if "config_source" in entry:
        return bool(entry["config_source"] == _DYNAMIC_TOPIC_CONFIG)
    return not entry["is_default"]  # DescribeConfigs v0
