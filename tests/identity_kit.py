"""The session's OpenID Connect provider: a real Keycloak started by the project (deploy/keycloak.py) in
the session's temporary folder, with the ``dondoc`` realm, like the broker the session starts. Accounts are
added by the tests that need them (``Identity.add``), each with a fresh random password."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from deploy.keycloak import KeycloakNode
from deploy.realm import REALM, Account, RealmAdmin, realm_document

REDIRECT = "http://127.0.0.1:8000/"


@dataclass
class Identity:
    url: str
    issuer: str
    admin: RealmAdmin
    passwords: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    redirects: set[str] = field(default_factory=lambda: {REDIRECT})

    def add(self, accounts: Iterable[Account]) -> None:
        accounts = list(accounts)
        for a in accounts:
            self.passwords.setdefault(a.person_id, secrets.token_urlsafe(12))
            self.accounts[a.person_id] = a
        self.admin.sync_accounts(accounts, self.passwords)

    def allow_redirect(self, uri: str) -> None:
        """A dashboard on another port signs people in too (the client lists its redirect URIs)."""
        if uri not in self.redirects:
            self.redirects.add(uri)
            self.admin.ensure_realm(realm_document(self.redirects))


@pytest.fixture(scope="session")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Identity]:
    from tests.conftest import free_port

    node = KeycloakNode(tmp_path_factory.mktemp("keycloak"), port=free_port(), management_port=free_port())
    node.start(300)
    try:
        admin = RealmAdmin(node.url, *node.admin_credentials())
        admin.ensure_realm(realm_document([REDIRECT]))
        yield Identity(node.url, f"{node.url}/realms/{REALM}", admin)
        admin.close()
    finally:
        node.stop()


def settings_with_sign_in(settings: Any, identity: Identity, **overrides: Any) -> Any:
    return settings.model_copy(update={"oidc_issuer": identity.issuer, **overrides})
