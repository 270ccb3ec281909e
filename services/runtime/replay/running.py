"""Whether the service is running, which --apply must refuse: its /readyz answering, or members in its
consumer group."""

from __future__ import annotations

import httpx
from aiokafka.admin import AIOKafkaAdminClient

from services.runtime.definition import ServiceDefinition
from services.runtime.kafka_config import client_options
from services.runtime.settings import Settings


async def running_signs(definition: ServiceDefinition, settings: Settings, service_url: str | None = None) -> list[str]:
    """What shows the service is running: its /readyz answering, members in its consumer group."""
    signs: list[str] = []
    url = service_url or (settings.url_of(definition.name) if settings.port_of(definition.name) else None)
    if url:
        try:
            async with httpx.AsyncClient(timeout=3.0) as client:
                answer = await client.get(f"{url}/readyz")
            signs.append(f"{url}/readyz answered {answer.status_code}")
        except httpx.HTTPError:
            pass
    members = await group_members(settings, f"dondoc.{definition.name}")
    if members:
        signs.append(f"consumer group dondoc.{definition.name} has {len(members)} member(s): {', '.join(members)}")
    return signs


async def group_members(settings: Settings, group: str) -> list[str]:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        responses = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    # Each described group: (error_code, group, state, protocol_type, protocol, members, …); a member:
    # (member_id, client_id, client_host, …).
    return [f"{m[1]}@{m[2]}" for response in responses for g in response.groups if g[1] == group for m in g[5]]
