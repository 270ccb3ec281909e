"""Whether this process may do on Kafka what its service needs, checked once at start.

A service started with wrong credentials, or whose grants are missing on the broker, would otherwise
loop quietly: aiokafka logs a refused login and retries, a consumer without READ waits forever. Instead
the service stays up without its runtime and ``/readyz`` answers 503 naming the principal and what it
lacks, so an operator sees the cause at once.
"""

from __future__ import annotations

from aiokafka import AIOKafkaClient

from events.kafka_access import grants_of
from services.runtime.kafka_config import KafkaLoginRefused, check_login, client_options
from services.runtime.settings import Settings


async def access_problems(settings: Settings) -> list[str]:
    """What stops this principal from working: a refused login, or a topic of its row of the table
    (events/kafka_access.py) that the broker does not let it see. An unreachable broker is not an access
    problem: the service starts and its clients retry, as before."""
    principal = settings.kafka_username
    try:
        await check_login(settings)
    except KafkaLoginRefused as err:
        return [str(err)]
    except ConnectionError:
        return []
    needed = {(g.name, g.operation) for g in grants_of(principal) if g.resource == "topic" and g.pattern == "literal"}
    if not needed:
        return []
    client = AIOKafkaClient(**client_options(settings))
    try:
        await client.bootstrap()
        # Metadata lists only the topics this principal may DESCRIBE, which READ or WRITE imply.
        visible = (await client.fetch_all_metadata()).topics()
    except Exception:  # the broker went away meanwhile: not an access problem
        return []
    finally:
        await client.close()
    return [
        f"Kafka principal {principal!r} lacks {operation.upper()} on topic {topic} "
        "(the broker does not show it to this principal: no ACL, or no such topic)"
        for topic, operation in sorted(needed)
        if topic not in visible
    ]
