"""Users and ACLs on the broker, made from ``events.kafka_access`` and nothing else (the ACL job).

aiokafka has no API for ACLs or SCRAM users, so this uses confluent-kafka's admin client (librdkafka),
as the admin principal. Calls block (librdkafka futures); each is bounded by ``REQUEST_TIMEOUT_S``.

* ``sync_service_access`` — every service principal gets its password (derived per installation,
  deploy/credentials.py) and exactly its rows of the table: missing ACLs are created, ACLs of a
  service principal that the table no longer has are deleted.
* ``grant_agency`` / ``revoke_agency`` / ``agency_users`` — an agency's SCRAM user, its ACLs and
  its rejections topic (``dondoc kafka credentials …``).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from typing import Any

from deploy.errors import KafkaAccessError
from events.kafka_access import (
    AGENCY_PRINCIPAL_PREFIX,
    SERVICE_GRANTS,
    SERVICE_PRINCIPALS,
    Grant,
    agency_grants,
    agency_principal,
)
from services.runtime.kafka_config import librdkafka_config
from services.runtime.settings import Settings

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 30.0
SCRAM_ITERATIONS = 8192

Binding = tuple[str, str, str, str, str]  # principal (no "User:"), resource, name, pattern, operation


def _admin(admin: Settings) -> Any:
    from confluent_kafka.admin import AdminClient

    # Its own log lines go through logging, not straight to stderr (librdkafka's default).
    return AdminClient({**librdkafka_config(admin), "socket.timeout.ms": int(REQUEST_TIMEOUT_S * 1000)}, logger=log)


def _wait(futures: Iterable[Any], what: str) -> list[Any]:
    results = []
    for future in futures:
        try:
            results.append(future.result(timeout=REQUEST_TIMEOUT_S))
        except Exception as err:
            raise KafkaAccessError(f"{what} failed: {_reason(err)}") from err
    return results


def _reason(err: BaseException) -> str:
    inner = err.args[0] if err.args else err
    return str(getattr(inner, "str", lambda: inner)())


def _acl_binding(grant: Grant) -> Any:
    from confluent_kafka.admin import AclBinding, AclOperation, AclPermissionType, ResourcePatternType, ResourceType

    return AclBinding(
        ResourceType[grant.resource.upper()],
        grant.name,
        ResourcePatternType[grant.pattern.upper()],
        f"User:{grant.principal}",
        "*",
        AclOperation[grant.operation.upper()],
        AclPermissionType.ALLOW,
    )


def _as_binding(acl: Any) -> Binding:
    principal = acl.principal.removeprefix("User:")
    return (principal, acl.restype.name.lower(), acl.name, acl.resource_pattern_type.name.lower(),
            acl.operation.name.lower())  # fmt: skip


def broker_acls(admin: Settings) -> set[Binding]:
    """Every ALLOW ACL on the broker, as ``Grant.binding`` tuples (a DENY would be reported as an error:
    dondoc never makes one)."""
    from confluent_kafka.admin import (
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    # None matches any name, principal and host (the stubs say str).
    everything = AclBindingFilter(
        ResourceType.ANY,
        None,
        ResourcePatternType.ANY,
        None,
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,  # type: ignore[arg-type]
    )
    client = _admin(admin)  # kept referenced: a collected client cancels its pending requests
    (acls,) = _wait([client.describe_acls(everything, request_timeout=REQUEST_TIMEOUT_S)], "Reading ACLs")
    denied = [a for a in acls if a.permission_type.name != "ALLOW"]
    if denied:
        raise KafkaAccessError(f"DENY ACLs on the broker, which dondoc never makes: {denied}")
    return {_as_binding(a) for a in acls}


def _create_acls(client: Any, grants: Iterable[Grant]) -> None:
    bindings = [_acl_binding(g) for g in grants]
    if bindings:
        _wait(client.create_acls(bindings, request_timeout=REQUEST_TIMEOUT_S).values(), "Creating ACLs")


def _delete_acls(client: Any, bindings: Iterable[Binding]) -> None:
    from confluent_kafka.admin import AclBindingFilter, AclOperation, AclPermissionType, ResourcePatternType
    from confluent_kafka.admin import ResourceType as Rt

    filters = [
        AclBindingFilter(Rt[r.upper()], n, ResourcePatternType[pt.upper()], f"User:{p}", "*",
                         AclOperation[op.upper()], AclPermissionType.ALLOW)
        for p, r, n, pt, op in bindings
    ]  # fmt: skip
    if filters:
        _wait(client.delete_acls(filters, request_timeout=REQUEST_TIMEOUT_S).values(), "Deleting ACLs")


def _upsert_users(client: Any, passwords: dict[str, str]) -> None:
    from confluent_kafka.admin import ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion

    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
    upserts = [UserScramCredentialUpsertion(user, info, pw.encode()) for user, pw in passwords.items()]
    _wait(client.alter_user_scram_credentials(upserts, request_timeout=REQUEST_TIMEOUT_S).values(), "Setting passwords")


def sync_service_access(admin: Settings, passwords: dict[str, str]) -> list[str]:
    """Give each service principal its password and exactly its grants; return what changed."""
    client = _admin(admin)
    _upsert_users(client, passwords)
    wanted = {g.binding: g for g in SERVICE_GRANTS}
    current = {b for b in broker_acls(admin) if b[0] in SERVICE_PRINCIPALS}
    missing = [g for b, g in wanted.items() if b not in current]
    extra = sorted(current - set(wanted))
    _create_acls(client, missing)
    _delete_acls(client, extra)
    changes = [f"+ {' '.join(g.binding)}" for g in missing] + [f"- {' '.join(b)}" for b in extra]
    if changes:
        log.info("Kafka ACLs of the services: %d created, %d removed", len(missing), len(extra))
    return changes


def grant_agency(admin: Settings, agency_id: str, replication_factor: int = 1) -> str:
    """Create or rotate the agency's SCRAM user, its rejections topic and its ACLs; return the new password."""
    from deploy._aio import run_sync
    from deploy.topics import ensure_topics
    from events.topics import agency_rejections_spec

    grants = agency_grants(agency_id)  # refuses an id that cannot name a topic, before anything is made
    run_sync(ensure_topics(admin, replication_factor, topics=[agency_rejections_spec(agency_id)]))
    client = _admin(admin)
    password = secrets.token_urlsafe(24)
    _upsert_users(client, {agency_principal(agency_id): password})
    present = broker_acls(admin)
    _create_acls(client, [g for g in grants if g.binding not in present])
    from deploy.credentials import with_identity
    from deploy.stack import wait_for_logins

    # Printed settings work at once: the broker applies a new credential a moment after taking it.
    run_sync(wait_for_logins([with_identity(admin, agency_principal(agency_id), password)]))
    return password


def revoke_agency(admin: Settings, agency_id: str) -> bool:
    """Delete the agency's SCRAM user and ACLs; its open connections are refused from their next
    re-authentication or reconnection, new ones at once. Returns False if it had neither."""
    from confluent_kafka.admin import ScramMechanism, UserScramCredentialDeletion

    principal = agency_principal(agency_id)
    client = _admin(admin)
    had_user = principal in agency_users(admin)
    if had_user:
        deletion = UserScramCredentialDeletion(principal, ScramMechanism.SCRAM_SHA_512)
        _wait(client.alter_user_scram_credentials([deletion], request_timeout=REQUEST_TIMEOUT_S).values(),
              "Deleting the agency's password")  # fmt: skip
    acls = [b for b in broker_acls(admin) if b[0] == principal]
    _delete_acls(client, acls)
    return had_user or bool(acls)


def scram_users(admin: Settings) -> list[str]:
    client = _admin(admin)
    (described,) = _wait([client.describe_user_scram_credentials(request_timeout=REQUEST_TIMEOUT_S)], "Reading users")
    return sorted(described)


def agency_users(admin: Settings) -> list[str]:
    return [u for u in scram_users(admin) if u.startswith(AGENCY_PRINCIPAL_PREFIX)]


def revoke_inactive(admin: Settings, standing: dict[str, bool]) -> list[str]:
    """Revoke every agency user whose agency the directory (``standing``: id -> active) does not list as
    active; return the agency ids revoked."""
    revoked = []
    for user in agency_users(admin):
        agency = user.removeprefix(AGENCY_PRINCIPAL_PREFIX)
        if not standing.get(agency, False):
            revoke_agency(admin, agency)
            revoked.append(agency)
    return revoked
