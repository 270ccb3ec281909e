"""Signing in as a person through the provider's own login page (authorization code + PKCE), the way a
browser does it, without one: GET the authorization endpoint, post the login form, take the code from
the redirect, exchange it. No password grant: the dashboard's client does not allow one."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx

from deploy.realm import DASHBOARD_CLIENT, REALM


async def sign_in(provider: str, username: str, password: str, redirect_uri: str) -> dict[str, str]:
    """The token response (access_token, refresh_token, id_token) for that person."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    base = f"{provider}/realms/{REALM}/protocol/openid-connect"
    # Keycloak marks its login cookies Secure even on loopback, where browsers still send them and
    # httpx's cookie jar does not: carry them by hand.
    jar: dict[str, str] = {}

    def keep(response: httpx.Response) -> httpx.Response:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            jar[name.strip()] = rest.split(";", 1)[0]
        return response

    def cookies() -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}

    async with httpx.AsyncClient(timeout=30, follow_redirects=False) as http:
        page = keep(
            await http.get(
                f"{base}/auth",
                params={
                    "client_id": DASHBOARD_CLIENT,
                    "response_type": "code",
                    "scope": "openid",
                    "redirect_uri": redirect_uri,
                    "state": secrets.token_urlsafe(8),
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                },
            )
        )
        page.raise_for_status()
        action = re.search(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"', page.text)
        assert action, "the provider's login page has no login form"
        answer = await http.post(
            html.unescape(action.group(1)), data={"username": username, "password": password}, headers=cookies()
        )
        assert answer.status_code == 302, f"sign-in refused ({answer.status_code})"
        code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
        tokens = await http.post(
            f"{base}/token",
            data={
                "grant_type": "authorization_code",
                "client_id": DASHBOARD_CLIENT,
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
        )
        tokens.raise_for_status()
        return dict(tokens.json())
