"""How every dondoc process connects to Kafka, in one place.

Every Kafka client a service, a CLI command, a benchmark or a test builds takes its connection
keyword arguments from here, so none can be built without the trust boundary's settings: every
listener of dondoc's broker wants SASL SCRAM-SHA-512 (docs/kafka-security.md), over TLS when
``DONDOC_KAFKA_TLS=1``.

* ``client_options`` — aiokafka's AIOKafkaProducer / AIOKafkaConsumer / AIOKafkaAdminClient / AIOKafkaClient;
* ``broker_options`` — FastStream's KafkaBroker (same settings, its own spelling);
* ``librdkafka_config`` — confluent-kafka's clients (ACLs and SCRAM users, which aiokafka cannot manage).
"""

from __future__ import annotations

import ssl
from functools import lru_cache
from typing import Any

from events.topics import LARGEST_RECORD_BYTES
from services.runtime.settings import Settings

SASL_MECHANISM = "SCRAM-SHA-512"
# How long an aiokafka client waits before it tries again after a failed request or connection. aiokafka
# has this one knob (no reconnect_backoff_ms, no growing backoff, unlike librdkafka whose defaults already
# grow to 10 s): at its default of 100 ms every client of every service dials a down broker ten times a
# second, and logs each failure (issue 17: 1.27 GB of log in 19 minutes). Half a second costs a moving
# partition leader at most that much latency.
RETRY_BACKOFF_MS = 500


def security_protocol(settings: Settings) -> str:
    return "SASL_SSL" if settings.kafka_tls else "SASL_PLAINTEXT"


@lru_cache(maxsize=8)
def _ssl_context(ca_file: str) -> ssl.SSLContext:
    from aiokafka.helpers import create_ssl_context

    context: ssl.SSLContext = create_ssl_context(cafile=ca_file or None)
    return context


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for AIOKafkaProducer/AIOKafkaConsumer/AIOKafkaAdminClient/AIOKafkaClient."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": security_protocol(settings),
        "sasl_mechanism": SASL_MECHANISM,
        "sasl_plain_username": settings.kafka_username,
        "sasl_plain_password": settings.kafka_password,
        "retry_backoff_ms": RETRY_BACKOFF_MS,
    }
    if settings.kafka_tls:
        options["ssl_context"] = _ssl_context(settings.kafka_ca_file)
    return options


def producer_options(settings: Settings) -> dict[str, Any]:
    """``client_options`` plus what every producer shares: a request as large as the largest record a
    topic accepts (events/topics.py), so an oversized record fails at the producer, before the broker."""
    return {**client_options(settings), "max_request_size": LARGEST_RECORD_BYTES}


def broker_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for FastStream's KafkaBroker: the same principal, in FastStream's terms."""
    from faststream.security import SASLScram512

    context = _ssl_context(settings.kafka_ca_file) if settings.kafka_tls else None
    security = SASLScram512(
        username=settings.kafka_username,
        password=settings.kafka_password,
        use_ssl=settings.kafka_tls,
        ssl_context=context,
    )
    # A list: FastStream takes a string as one server, so a cluster's "a:1,b:2,c:3" would be one bad host.
    servers = [s.strip() for s in settings.kafka_bootstrap.split(",") if s.strip()]
    return {"bootstrap_servers": servers, "security": security, "retry_backoff_ms": RETRY_BACKOFF_MS}


def librdkafka_config(settings: Settings) -> dict[str, str]:
    """The same settings for confluent-kafka (librdkafka) clients."""
    config = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "security.protocol": security_protocol(settings).lower(),
        "sasl.mechanism": SASL_MECHANISM,
        "sasl.username": settings.kafka_username,
        "sasl.password": settings.kafka_password,
    }
    if settings.kafka_tls and settings.kafka_ca_file:
        config["ssl.ca.location"] = settings.kafka_ca_file
    return config


class KafkaLoginRefused(RuntimeError):
    """The broker refused this process's principal: unknown user, wrong or revoked password."""


async def check_login(settings: Settings, timeout_s: float = 10.0) -> None:
    """Authenticate once against the first bootstrap server that answers; raise ``KafkaLoginRefused``
    with the principal's name if the broker says no.

    aiokafka's own clients log a refused login and then report only that they could not bootstrap;
    this one connection tells a refusal from an unreachable broker, for readiness and the CLI."""
    from aiokafka.conn import create_conn
    from aiokafka.errors import KafkaError

    options = client_options(settings)
    bootstrap = options.pop("bootstrap_servers")
    options.pop("retry_backoff_ms")  # one connection, no retries
    last: Exception | None = None
    for item in str(bootstrap).split(","):
        host, _, port = item.strip().rpartition(":")
        try:
            conn = await create_conn(
                host.strip("[]") or "localhost", int(port or 9092), request_timeout_ms=int(timeout_s * 1000), **options
            )
        except KafkaError as err:
            if _refused(err):
                raise KafkaLoginRefused(
                    f"Kafka refused the principal {settings.kafka_username or '(none)'!r}: "
                    f"{getattr(err, 'description', '') or err} — wrong, revoked or missing password"
                ) from err
            last = err
            continue
        except (OSError, TimeoutError) as err:
            last = err
            continue
        conn.close()
        return
    raise ConnectionError(f"no Kafka broker answered at {bootstrap}: {last}")


def _refused(err: Exception) -> bool:
    from aiokafka.errors import (
        AuthenticationFailedError,
        IllegalSaslStateError,
        SaslAuthenticationFailed,
        UnsupportedSaslMechanismError,
    )

    return isinstance(
        err,
        AuthenticationFailedError | SaslAuthenticationFailed | IllegalSaslStateError | UnsupportedSaslMechanismError,
    )
