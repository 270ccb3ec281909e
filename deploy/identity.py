"""The local stack's identity provider: Keycloak started beside Kafka and PostgreSQL, its ``dondoc``
realm provisioned from the directory, and demo accounts for the invented people of the seed directory.

``DONDOC_OIDC_ISSUER`` names any other OpenID Connect provider instead (production): it is then only
checked for its discovery document, never started or provisioned.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from deploy.keycloak import KeycloakError, KeycloakNode
from deploy.realm import REALM, RealmAdmin, accounts_from_directory, realm_document

Progress = Callable[[str], None] | None

SEED_DIRECTORY = Path(__file__).resolve().parent.parent / "services" / "assignment" / "seed" / "directory.json"


@dataclass(frozen=True)
class IdentityEndpoints:
    issuer: str
    provider_url: str | None  # the local provider's base URL; None for an external one


def keycloak_node(home: Path, port: int, management_port: int) -> KeycloakNode:
    return KeycloakNode(home / "keycloak", port=port, management_port=management_port)


def demo_passwords(home: Path, person_ids: list[str]) -> dict[str, str]:
    """One password per demo person, made once per installation and kept 0600 beside its data: the
    people are invented, but a password written in the repo would be a password known to everyone."""
    path = home / "demo-accounts.json"
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [p for p in person_ids if p not in known]
    if missing:
        known.update({p: secrets.token_urlsafe(9) for p in missing})
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(known, out, ensure_ascii=False, indent=1)
    return {p: known[p] for p in person_ids}


def identity_up(
    home: Path,
    *,
    port: int,
    management_port: int,
    redirect_uris: list[str],
    directory: Mapping[str, Any] | None = None,
    on_progress: Progress = None,
) -> IdentityEndpoints:
    """Start (or reuse) the local provider and bring its realm in step with ``directory`` (the seed's
    by default). Demo passwords are set for the seed's people, who are all marked demo."""
    if external := os.environ.get("DONDOC_OIDC_ISSUER"):
        check_issuer(external)
        return IdentityEndpoints(issuer=external.rstrip("/"), provider_url=None)
    node = keycloak_node(home, port, management_port)
    node.start(on_progress=on_progress)
    directory = directory if directory is not None else json.loads(SEED_DIRECTORY.read_text(encoding="utf-8"))
    admin = RealmAdmin(node.url, *node.admin_credentials())
    try:
        admin.ensure_realm(realm_document(redirect_uris))
        follow_directory(admin, home, directory, on_progress)
    finally:
        admin.close()
    return IdentityEndpoints(issuer=f"{node.url}/realms/{REALM}", provider_url=node.url)


def follow_directory(
    admin: RealmAdmin,
    home: Path,
    directory: Mapping[str, Any],
    on_progress: Progress = None,
    *,
    complete: bool = True,
) -> bool:
    """Bring the realm's accounts in step with ``directory`` (people added, moved, renamed, left; agencies
    abolished) when it changed since the last time; True if it wrote. Accounts are updated in place
    (RealmAdmin.sync_accounts), so nobody still in the directory is signed out by a change. Demo people
    get their passwords when their account is made. ``complete``: the realm is the directory's alone, so
    an account the directory no longer names is disabled."""
    accounts = accounts_from_directory(directory)
    fingerprint = json.dumps(
        sorted((a.person_id, a.agency_id, a.full_name, a.email or "", a.roles, a.enabled) for a in accounts)
    )
    marker = home / "keycloak" / "accounts.synced"
    if marker.exists() and marker.read_text() == fingerprint:
        return False
    if on_progress:
        on_progress(f"Identity: {len(accounts)} accounts in realm {REALM} follow the directory")
    demo = [a.person_id for a in accounts if _is_demo(directory, a.person_id)]
    admin.sync_accounts(accounts, demo_passwords(home, demo), complete=complete)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(fingerprint)
    return True


def follow_directory_now(home: Path, node: KeycloakNode) -> bool:
    """``follow_directory`` with the directory as the assignment service holds it now (the launcher's
    periodic step; production runs the same from its scheduler)."""
    import asyncio

    from deploy.stack import database_url
    from services.assignment.provision import directory_now

    directory = asyncio.run(directory_now(database_url()))
    if directory is None or not node.is_running():
        return False
    admin = RealmAdmin(node.url, *node.admin_credentials())
    try:
        return follow_directory(admin, home, directory)
    finally:
        admin.close()


def _is_demo(directory: Mapping[str, Any], person_id: str) -> bool:
    return any(p["person_id"] == person_id and p.get("demo") for p in directory.get("people", ()))


def check_issuer(issuer: str) -> None:
    try:
        response = httpx.get(f"{issuer.rstrip('/')}/.well-known/openid-configuration", timeout=10)
        response.raise_for_status()
    except httpx.HTTPError as err:
        raise KeycloakError(f"the OpenID Connect provider at {issuer} does not answer: {err}") from err
