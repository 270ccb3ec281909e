"""The local infrastructure as a whole: Kafka + PostgreSQL + topics, for the CLI and the tests.

``DONDOC_KAFKA_BOOTSTRAP`` / ``DONDOC_DATABASE_URL`` point at servers run by someone else (CI service,
staging): they are then only checked, never started or stopped. Otherwise local ones run with their
state under ``state_home()``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from deploy import credentials, identity
from deploy._aio import run_sync
from deploy._proc import port_in_use
from deploy._secrets import made_once
from deploy.acls import sync_service_access
from deploy.cluster import KafkaCluster, cluster_ports
from deploy.errors import InfraError, PostgresError
from deploy.kafka import KafkaNode, kafka_hosts, wait_until_ready
from deploy.keycloak import KeycloakNode
from deploy.postgres import LocalPostgres
from deploy.topics import ensure_topics
from events.kafka_access import ADMIN_PRINCIPAL, SERVICE_PRINCIPALS
from services.runtime.settings import Settings

log = logging.getLogger(__name__)

Progress = Callable[[str], None] | None

KAFKA_READY_TIMEOUT = 90.0
DATABASE_CONNECT_TIMEOUT = 15.0


@dataclass(frozen=True)
class InfraEndpoints:
    kafka_bootstrap: str
    database_url: str
    # The audit service's own role (it alone writes the audit schema); "" with an external server.
    audit_database_url: str = ""


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def state_home() -> Path:
    """Where local servers keep data, logs and pids (git-ignored ``.dondoc/`` by default)."""
    env = os.environ.get("DONDOC_HOME")
    return Path(env).expanduser().resolve() if env else repo_root() / ".dondoc"


def token_secret() -> str:
    """The secret that signs agency tokens: ``DONDOC_TOKEN_SECRET``, else one made once per local
    installation and kept (0600) in the state folder, so tokens survive restarts."""
    return os.environ.get("DONDOC_TOKEN_SECRET") or _installation_secret("token-secret")


def audit_key() -> str:
    """The key of the audit chain: ``DONDOC_AUDIT_KEY``, else one made once per local installation and kept
    (0600) in the state folder — never in PostgreSQL, which is what it guards against."""
    return os.environ.get("DONDOC_AUDIT_KEY") or _installation_secret("audit-key")


def _installation_secret(name: str) -> str:
    return private_secret(state_home() / name)


def private_secret(path: Path) -> str:
    """A random secret kept (0600) at ``path``, made on first use (deploy/_secrets.py)."""
    import secrets

    return made_once(path, lambda: secrets.token_urlsafe(32)).strip()


def _env_port(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise InfraError(f"{name}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise InfraError(f"{name}={port} is not a valid port")
    return port


def _env_replication_factor() -> int:
    """``DONDOC_TOPIC_REPLICATION_FACTOR``: 1 for the local broker, 3 on a production cluster."""
    raw = os.environ.get("DONDOC_TOPIC_REPLICATION_FACTOR", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise InfraError(f"DONDOC_TOPIC_REPLICATION_FACTOR={raw!r}: expected a whole number of at least 1")
    return int(raw)


def kafka_node() -> KafkaNode:
    return KafkaNode(
        state_home() / "kafka",
        port=_env_port("DONDOC_KAFKA_PORT", 9092),
        controller_port=_env_port("DONDOC_KAFKA_CONTROLLER_PORT", 9093),
        admin_password=credentials.password_of(ADMIN_PRINCIPAL),
        tls=credentials.tls_enabled(),
    )


def kafka_cluster(brokers: int = 3) -> KafkaCluster:
    """The local cluster of ``dondoc infra up --brokers N``: broker n on ``DONDOC_KAFKA_PORT`` + 2(n-1) and the
    next port for its controller (9092/9093, 9094/9095, 9096/9097 by default), below the ephemeral range."""
    return KafkaCluster(
        state_home() / "kafka-cluster",
        cluster_ports(_env_port("DONDOC_KAFKA_PORT", 9092), brokers),
        admin_password=credentials.password_of(ADMIN_PRINCIPAL),
        tls=credentials.tls_enabled(),
    )


def local_kafka_bootstrap() -> str:
    """The local Kafka's address: the cluster's brokers when it runs, else the single node's."""
    cluster = _existing_cluster()
    return cluster.bootstrap if cluster is not None and cluster.is_running() else kafka_node().bootstrap


def kafka_admin(bootstrap: str | None = None) -> Settings:
    """The admin principal's settings for this installation's broker (external or local)."""
    return credentials.admin_settings(bootstrap or external_kafka() or local_kafka_bootstrap())


def local_postgres() -> LocalPostgres:
    return LocalPostgres(state_home() / "postgres", port=_env_port("DONDOC_PG_PORT", 55432))


def database_url() -> str:
    """What the command line connects with: DONDOC_DATABASE_URL, else the local PostgreSQL of ``infra up``."""
    return os.environ.get("DONDOC_DATABASE_URL") or local_postgres().url


def external_kafka() -> str | None:
    return os.environ.get("DONDOC_KAFKA_BOOTSTRAP") or None


def external_database() -> str | None:
    """DONDOC_DATABASE_URL, unless it is the local server's own URL (the CLI passes that on)."""
    url = os.environ.get("DONDOC_DATABASE_URL") or None
    pg = local_postgres()
    if url and pg.passwords_file.exists() and url == pg.url:
        return None
    return url


def redact(url: str) -> str:
    """The URL without its password, for messages and status output."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


async def check_database(url: str, timeout: float = DATABASE_CONNECT_TIMEOUT) -> None:  # noqa: ASYNC109
    """Connect once and run a trivial query; raise ``PostgresError`` if the server is not usable."""
    import asyncpg

    try:
        conn = await asyncpg.connect(url, timeout=timeout)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
        raise PostgresError(f"Cannot connect to {redact(url)}: {type(err).__name__}: {err}") from err
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()


def _say(on_progress: Progress, message: str) -> None:
    log.info(message)
    if on_progress is not None:
        on_progress(message)


def infra_up(on_progress: Progress = None, *, brokers: int = 1) -> InfraEndpoints:
    """Make Kafka and PostgreSQL available (starting local ones if needed) and create the topics.

    ``brokers`` > 1 starts a local cluster of that many brokers instead of the single node (deploy/cluster.py):
    topics then have 3 replicas and ``min.insync.replicas=2``."""
    check_brokers(brokers)  # before anything starts: a wrong count starts nothing
    database_url = external_database()
    if database_url:
        _say(on_progress, f"PostgreSQL: using external server {redact(database_url)}")
        run_sync(check_database(database_url))
        audit_database_url = ""
    else:
        database_url = local_postgres().start()
        audit_database_url = local_postgres().audit_url
        _say(on_progress, f"PostgreSQL ready: {redact(database_url)}")

    bootstrap = external_kafka()
    if bootstrap:
        _say(on_progress, f"Kafka: using external broker {bootstrap}")
        run_sync(wait_until_ready(kafka_admin(bootstrap), KAFKA_READY_TIMEOUT))
        replication = _env_replication_factor()
    else:
        bootstrap, replication = _local_kafka(brokers, on_progress)
        _say(on_progress, f"Kafka ready: {bootstrap}")

    admin = kafka_admin(bootstrap)
    created = run_sync(ensure_topics(admin, replication))
    _say(on_progress, f"Topics: {len(created)} created" + (f" ({', '.join(created)})" if created else ""))
    # The ACL job: each service's user and exactly its grants (events/kafka_access.py).
    changes = sync_service_access(admin, {p: credentials.password_of(p) for p in SERVICE_PRINCIPALS})
    # The broker applies new credentials from its metadata log a moment later: a service started at once
    # must not be refused.
    run_sync(wait_for_logins([credentials.as_principal(admin, p) for p in SERVICE_PRINCIPALS]))
    _say(on_progress, f"Kafka access: {len(SERVICE_PRINCIPALS)} service principals, {len(changes)} ACL changes")
    return InfraEndpoints(bootstrap, database_url, audit_database_url)


def check_brokers(brokers: int) -> None:
    """1 broker, or a cluster of 3 or more: two could not lose one and keep a controller majority."""
    if brokers != 1 and brokers < 3:
        raise InfraError(
            f"--brokers {brokers}: expected 1 (one broker) or at least 3 (a cluster that survives losing one) — "
            f"cần 1 broker, hoặc từ 3 broker trở lên (cụm chịu được mất một broker)"
        )


def _local_kafka(brokers: int, on_progress: Progress) -> tuple[str, int]:
    """Start the local single node or cluster; its bootstrap address and the topics' replication factor."""
    single, cluster = kafka_node(), kafka_cluster(max(brokers, 3))
    if brokers == 1:
        if (running := _existing_cluster()) is not None and running.is_running():
            raise InfraError(f"the local Kafka cluster runs ({running.bootstrap}): stop it first (dondoc infra down)")
        return single.start(KAFKA_READY_TIMEOUT, on_progress=on_progress), 1
    if single.is_running():
        raise InfraError(f"the single local Kafka runs ({single.bootstrap}): stop it first (dondoc infra down)")
    return cluster.start(KAFKA_READY_TIMEOUT, on_progress=on_progress), min(brokers, 3)


async def wait_for_logins(principals: list[Settings], timeout: float = 30.0) -> None:  # noqa: ASYNC109
    """Until the broker takes each principal's login (credentials are applied asynchronously)."""
    import asyncio
    import time

    from services.runtime.kafka_config import KafkaLoginRefused, check_login

    deadline = time.monotonic() + timeout
    for settings in principals:
        while True:
            try:
                await check_login(settings)
                break
            except KafkaLoginRefused:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)


def keycloak_node() -> KeycloakNode:
    """The local identity provider (people sign in); outside the ephemeral port range like the broker."""
    return identity.keycloak_node(
        state_home(),
        port=_env_port("DONDOC_KEYCLOAK_PORT", 8180),
        management_port=_env_port("DONDOC_KEYCLOAK_MANAGEMENT_PORT", 9180),
    )


def identity_up(redirect_uris: list[str], on_progress: Progress = None) -> identity.IdentityEndpoints:
    """The identity provider people sign in with: ``DONDOC_OIDC_ISSUER``'s, else the local Keycloak with
    the realm provisioned from the demo directory (deploy/identity.py). Apart from ``infra_up``: a test
    session or a bench needs no provider, and the one that does starts its own."""
    node = keycloak_node()
    return identity.identity_up(
        state_home(), port=node.port, management_port=node.management_port, redirect_uris=redirect_uris,
        on_progress=on_progress,
    )  # fmt: skip


def infra_down(on_progress: Progress = None) -> None:
    """Stop the local servers of ``state_home()``; external ones are never touched."""
    provider = keycloak_node()
    if provider.is_running():
        _say(on_progress, "Stopping the identity provider")
        provider.stop()
    node = kafka_node()
    if node.is_running():
        _say(on_progress, "Stopping Kafka")
        node.stop()
    cluster = _existing_cluster()
    if cluster is not None and cluster.is_running():
        _say(on_progress, "Stopping the Kafka cluster")
        cluster.stop()
    pg = local_postgres()
    if pg.is_running():
        _say(on_progress, "Stopping PostgreSQL")
        pg.stop()


def infra_status() -> dict[str, Any]:
    """``{"kafka": {...}, "postgres": {...}}``, each with ``running``; cheap enough for the CLI to poll.

    Local servers are judged by their pid (no network round trip). External ones can only be judged
    by reachability, so ``running`` there means "accepts TCP connections"; the local server's own
    status is nested under ``local`` in case one was left running.
    """
    kafka: dict[str, Any] = {**kafka_node().status(), "external": False}
    if (cluster := _existing_cluster()) is not None and (cluster.is_running() or not kafka["running"]):
        kafka = {**cluster.status(), "external": False}
    postgres: dict[str, Any] = {**local_postgres().status(), "external": False}
    if bootstrap := external_kafka():
        reachable = any(port_in_use(host, port) for host, port in kafka_hosts(bootstrap))
        kafka = {"running": reachable, "external": True, "bootstrap": bootstrap, "local": kafka}
    if url := external_database():
        parts = urlsplit(url)
        reachable = port_in_use(parts.hostname or "localhost", parts.port or 5432)
        postgres = {"running": reachable, "external": True, "url": redact(url), "local": postgres}
    return {"kafka": kafka, "postgres": postgres, "identity": keycloak_node().status()}


def _existing_cluster() -> KafkaCluster | None:
    """The local cluster if one was ever started here, with as many brokers as its folder holds."""
    home = state_home() / "kafka-cluster"
    brokers = len(list(home.glob("broker-*"))) if home.is_dir() else 0
    return kafka_cluster(brokers) if brokers >= 3 else None
