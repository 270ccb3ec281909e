"""Kafka and PostgreSQL of one's own, for the test session and the benchmarks alike (one helper, so the two
never drift apart): a state folder, free ports below the ephemeral range, none of the developer's own
settings leaking in, and everything put back as it was afterwards."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from deploy import stack
from deploy._proc import free_port, free_ports

# Where a developer's own installation would be found; never used by an isolated one. DONDOC_KAFKA_TLS is
# kept: the isolated broker then listens with SASL_SSL, its CA made for it.
OWN_SETTINGS = (
    "DONDOC_KAFKA_BOOTSTRAP",
    "DONDOC_DATABASE_URL",
    "DONDOC_KAFKA_USERNAME",
    "DONDOC_KAFKA_PASSWORD",
    "DONDOC_KAFKA_CA_FILE",
)
SECRETS = ("DONDOC_TOKEN_SECRET", "DONDOC_AUDIT_KEY")


@contextmanager
def isolated_infra(
    home: Path, secrets: Callable[[], dict[str, str]], *, brokers: int = 1
) -> Iterator[stack.InfraEndpoints]:
    """Start Kafka and PostgreSQL under ``home`` and point this process's environment at them (child
    processes inherit it) until the block ends; then stop them. ``secrets`` is called once ``DONDOC_HOME``
    is set and the outer secrets are unset (an installation's own are made in its home), and gives the
    values of ``SECRETS`` the installation runs with. ``brokers`` > 1: a local cluster of that many brokers
    (deploy/cluster.py), numbered from one base port."""
    env = {
        "DONDOC_HOME": str(home),
        "DONDOC_KAFKA_PORT": str(free_ports(2 * brokers) if brokers > 1 else free_port()),
        "DONDOC_KAFKA_CONTROLLER_PORT": str(free_port()),
        "DONDOC_PG_PORT": str(free_port()),
    }
    saved = {k: os.environ.get(k) for k in (*env, *OWN_SETTINGS, *SECRETS)}
    try:
        for k in (*OWN_SETTINGS, *SECRETS):
            os.environ.pop(k, None)
        os.environ.update(env)
        made = secrets()
        if unknown := set(made) - set(SECRETS):
            raise ValueError(f"not an installation secret: {', '.join(sorted(unknown))}; known: {', '.join(SECRETS)}")
        os.environ.update(made)
        endpoints = stack.infra_up(brokers=brokers)
        try:
            os.environ["DONDOC_KAFKA_BOOTSTRAP"] = endpoints.kafka_bootstrap
            os.environ["DONDOC_DATABASE_URL"] = endpoints.database_url
            yield endpoints
        finally:
            stack.infra_down()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
