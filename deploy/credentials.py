"""The Kafka credentials of one installation: the admin's, and one per service.

Like the token secret, a random Kafka secret is made once per installation and kept (0600) in the
state folder (``DONDOC_KAFKA_SECRET`` overrides it); each principal's password is derived from it, so
nothing else is stored and nothing is committed. Only the launcher (``dondoc up``, the test fixture)
knows the secret; each service process is handed its own principal's password alone
(``DONDOC_KAFKA_USERNAME`` / ``DONDOC_KAFKA_PASSWORD``). Agencies' passwords are random and are not
derived (services/cli/kafka_cli.py).

Against an external broker (``DONDOC_KAFKA_BOOTSTRAP`` with ``DONDOC_KAFKA_ADMIN_PASSWORD``), the ACL job
(``dondoc infra up``) sets each service's password from ``DONDOC_KAFKA_PASSWORD_<PRINCIPAL>`` if given
(deploy/production keeps one Kubernetes secret per service), else from the same derivation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

from events.kafka_access import ADMIN_PRINCIPAL, service_principal
from services.runtime.settings import Settings


def _state_home() -> Path:
    from deploy.stack import state_home

    return state_home()


def kafka_secret() -> str:
    if env := os.environ.get("DONDOC_KAFKA_SECRET"):
        return env
    from deploy.stack import private_secret

    return private_secret(_state_home() / "kafka-secret")


def password_of(principal: str) -> str:
    """The password of ``principal`` (admin or a service) in this installation."""
    if principal == ADMIN_PRINCIPAL and (env := os.environ.get("DONDOC_KAFKA_ADMIN_PASSWORD")):
        return env
    # A deployment that keeps each password in its own secret store entry (deploy/production) names it.
    if env := os.environ.get(password_variable(principal)):
        return env
    digest = hmac.new(kafka_secret().encode(), f"kafka-principal:{principal}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def password_variable(principal: str) -> str:
    """``DONDOC_KAFKA_PASSWORD_DONDOC_ASSIGNMENT`` for ``dondoc-assignment``: read by the ACL job."""
    return "DONDOC_KAFKA_PASSWORD_" + principal.upper().replace("-", "_")


def tls_enabled() -> bool:
    return os.environ.get("DONDOC_KAFKA_TLS", "").lower() in ("1", "true", "yes", "on")


def ca_file() -> str:
    if env := os.environ.get("DONDOC_KAFKA_CA_FILE"):
        return env
    return str(_state_home() / "kafka" / "tls" / "ca.pem") if tls_enabled() else ""


def principal_env(principal: str) -> dict[str, str]:
    """The ``DONDOC_KAFKA_*`` variables a process running as ``principal`` needs."""
    env = {"DONDOC_KAFKA_USERNAME": principal, "DONDOC_KAFKA_PASSWORD": password_of(principal)}
    if tls_enabled():
        env |= {"DONDOC_KAFKA_TLS": "1", "DONDOC_KAFKA_CA_FILE": ca_file()}
    return env


def service_env(service: str) -> dict[str, str]:
    return principal_env(service_principal(service))


def as_principal(settings: Settings, principal: str) -> Settings:
    """``settings`` with the Kafka identity of ``principal``."""
    return settings.model_copy(
        update={
            "kafka_username": principal,
            "kafka_password": password_of(principal),
            "kafka_tls": tls_enabled(),
            "kafka_ca_file": ca_file(),
        }
    )


def with_identity(settings: Settings, username: str, password: str) -> Settings:
    return settings.model_copy(update={"kafka_username": username, "kafka_password": password})


def admin_settings(bootstrap: str) -> Settings:
    """Settings of the admin principal for ``bootstrap`` (deploy tools, CLI operator commands)."""
    return as_principal(Settings(kafka_bootstrap=bootstrap), ADMIN_PRINCIPAL)
