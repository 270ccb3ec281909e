"""Every Kafka client backs off between retries instead of dialling a down broker ten times a second
(issue 17: while Kafka was down, assignment logged 16.7 million connection errors)."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker

from services.runtime.kafka_config import RETRY_BACKOFF_MS, broker_options, client_options, producer_options
from services.runtime.settings import Settings


def _settings() -> Settings:
    return Settings(kafka_bootstrap="127.0.0.1:1", kafka_username="u", kafka_password="p")


async def test_producers_consumers_and_admin_clients_wait_between_retries() -> None:
    settings = _settings()
    producer = AIOKafkaProducer(**producer_options(settings))
    consumer = AIOKafkaConsumer(**client_options(settings))
    admin = AIOKafkaAdminClient(**client_options(settings))
    assert RETRY_BACKOFF_MS >= 500
    for client in (producer.client, consumer._client, admin._client):
        assert client._retry_backoff == RETRY_BACKOFF_MS / 1000
    await producer.client.close()
    await consumer.stop()
    await admin.close()


def test_faststream_consumers_get_the_same_backoff() -> None:
    broker = KafkaBroker(**broker_options(_settings()))
    assert broker._connection_kwargs["retry_backoff_ms"] == RETRY_BACKOFF_MS


def test_faststream_brokers_are_given_every_server_of_a_cluster_one_by_one() -> None:
    """FastStream takes a string as one server: a cluster's "a:1,b:2" must reach aiokafka as two hosts."""
    settings = Settings(kafka_bootstrap="127.0.0.1:1, 127.0.0.1:3,127.0.0.1:5", kafka_username="u", kafka_password="p")
    broker = KafkaBroker(**broker_options(settings))
    assert broker._connection_kwargs["bootstrap_servers"] == ["127.0.0.1:1", "127.0.0.1:3", "127.0.0.1:5"]
