"""People, signed in through the installation's OpenID Connect provider, as principals of the access rule.

A person's access token names them, their agency and their roles (events/roles.py); the principal it
gives acts for that agency like an agency token would, and additionally carries the person, so the
events their actions cause are theirs (``acting_person``, stamped on the actor by the unit of work) and
routes can ask their roles (access.require).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from services.runtime.access import Principal
from services.runtime.oidc import OidcVerifier
from services.runtime.settings import Settings

acting_person: ContextVar[Principal | None] = ContextVar("acting_person", default=None)
"""The signed-in person a request acts for (None for machine callers and consumers)."""


def verifier_of(app: Any, settings: Settings) -> OidcVerifier:
    """One verifier per app: its cached key set is what keeps issued tokens working while the provider
    is down."""
    verifier: OidcVerifier | None = getattr(app.state, "oidc_verifier", None)
    if verifier is None or verifier.issuer != settings.oidc_issuer.rstrip("/"):
        verifier = OidcVerifier(settings.oidc_issuer, settings.oidc_audience)
        app.state.oidc_verifier = verifier
    return verifier


async def principal_of(app: Any, settings: Settings, token: str) -> Principal:
    """The person's principal; raises oidc.TokenRefused or oidc.ProviderUnavailable."""
    claims = await verifier_of(app, settings).verify(token)
    return Principal(
        agency_id=claims.agency_id,
        token_id=f"person:{claims.subject}",
        person_id=claims.person_id,
        roles=claims.roles,
    )
