"""How every dondoc process connects to Kafka, in one place.

Every Kafka client a service, a CLI command, a benchmark or a test builds takes its connection
keyword arguments from ``client_options`` — bootstrap servers today; the security settings
(SASL, TLS) of the Kafka trust boundary are added here, so no client can be built without them.
"""

from __future__ import annotations

from typing import Any

from services.runtime.settings import Settings


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for AIOKafkaProducer/AIOKafkaConsumer/AIOKafkaAdminClient/KafkaBroker."""
    return {"bootstrap_servers": settings.kafka_bootstrap}
