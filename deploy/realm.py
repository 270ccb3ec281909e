"""The ``dondoc`` realm of the local identity provider, as code, from the directory.

One account per person of the directory, named by their person id, with their agency and person id as
token claims and their roles (events/roles.py) as realm roles; one public client for the dashboard
(authorization code with PKCE, no password grant). Provisioning goes through Keycloak's Admin REST API
and is idempotent: re-running it brings the realm in step with the directory (people added, moved,
disabled), so the same call serves the first start and every later change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from deploy.keycloak import KeycloakError
from events.roles import ROLE_NAMES, roles_of_person

REALM = "dondoc"
DASHBOARD_CLIENT = "dondoc-dashboard"
AUDIENCE = "dondoc"

# The login pages in Vietnamese: Keycloak ships no Vietnamese bundle, so the realm carries the texts a
# person meets when signing in (realm localization overrides the theme's messages).
LOGIN_TEXTS_VI = {
    "loginAccountTitle": "Đăng nhập dondoc",
    "loginTitle": "Đăng nhập {0}",
    "loginTitleHtml": "{0}",
    "username": "Tên đăng nhập",
    "usernameOrEmail": "Tên đăng nhập hoặc thư điện tử",
    "password": "Mật khẩu",
    "doLogIn": "Đăng nhập",
    "rememberMe": "Ghi nhớ đăng nhập",
    "doForgotPassword": "Quên mật khẩu?",
    "invalidUserMessage": "Tên đăng nhập hoặc mật khẩu không đúng.",
    "invalidPasswordMessage": "Mật khẩu không đúng.",
    "accountDisabledMessage": "Tài khoản đã bị khóa; hãy liên hệ bộ phận quản trị.",
    "accountTemporarilyDisabledMessage": "Tài khoản tạm thời bị khóa; hãy thử lại sau.",
    "expiredActionMessage": "Phiên đăng nhập đã hết hạn; hãy đăng nhập lại.",
    "cookieNotFoundMessage": "Không tìm thấy cookie đăng nhập; hãy bật cookie và thử lại.",
    "logoutConfirmTitle": "Đăng xuất",
    "logoutConfirmHeader": "Bạn có muốn đăng xuất không?",
    "doLogout": "Đăng xuất",
    "doLogOut": "Đăng xuất",
    "backToApplication": "« Quay lại ứng dụng",
    "errorTitle": "Đã có lỗi",
}


@dataclass(frozen=True)
class Account:
    person_id: str
    agency_id: str
    full_name: str
    email: str | None
    roles: tuple[str, ...]
    enabled: bool = True


def accounts_from_directory(directory: Mapping[str, Any]) -> list[Account]:
    """People of a directory document (services/assignment/seed/directory.json's shape) as accounts."""
    tracking = {a["agency_id"] for a in directory.get("agencies", ()) if a.get("tracking_office")}
    # A person of an abolished or merged agency no longer signs in for it, whatever their own record says.
    inactive = {a["agency_id"] for a in directory.get("agencies", ()) if not a.get("active", True)}
    return [
        Account(
            person_id=p["person_id"],
            agency_id=p["agency_id"],
            full_name=p["full_name"],
            email=p.get("email"),
            roles=roles_of_person(p.get("role", "officer"), in_tracking_office=p["agency_id"] in tracking),
            enabled=bool(p.get("active", True)) and p["agency_id"] not in inactive,
        )
        for p in directory.get("people", ())
    ]


def realm_document(redirect_uris: Iterable[str]) -> dict[str, Any]:
    """The realm without its users (they come with ``sync_accounts``)."""
    uris = sorted(set(redirect_uris))
    origins = sorted({u.split("/", 3)[0] + "//" + u.split("/", 3)[2] for u in uris if "://" in u})
    return {
        "realm": REALM,
        "enabled": True,
        "displayName": "dondoc — theo dõi, đôn đốc nhiệm vụ",
        "internationalizationEnabled": True,
        "supportedLocales": ["vi", "en"],
        "defaultLocale": "vi",
        # Short access tokens: a disabled person or a moved one loses access within minutes.
        "accessTokenLifespan": 300,
        "ssoSessionIdleTimeout": 1800,
        "ssoSessionMaxLifespan": 36000,
        "bruteForceProtected": True,
        "roles": {"realm": [{"name": name, "description": label} for name, label in ROLE_NAMES.items()]},
        "clients": [
            {
                "clientId": DASHBOARD_CLIENT,
                "name": "dondoc — bảng điều khiển",
                "publicClient": True,
                "standardFlowEnabled": True,
                "directAccessGrantsEnabled": False,
                "implicitFlowEnabled": False,
                "redirectUris": uris,
                "webOrigins": origins,
                "attributes": {"pkce.code.challenge.method": "S256", "post.logout.redirect.uris": "##".join(uris)},
                "protocolMappers": [
                    _audience_mapper(),
                    _attribute_mapper("agency_id"),
                    _attribute_mapper("person_id"),
                ],
            }
        ],
    }


def _audience_mapper() -> dict[str, Any]:
    return {
        "name": "audience",
        "protocol": "openid-connect",
        "protocolMapper": "oidc-audience-mapper",
        "config": {"included.custom.audience": AUDIENCE, "access.token.claim": "true", "id.token.claim": "false"},
    }


def _attribute_mapper(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "protocol": "openid-connect",
        "protocolMapper": "oidc-usermodel-attribute-mapper",
        "config": {
            "user.attribute": name,
            "claim.name": name,
            "jsonType.label": "String",
            "access.token.claim": "true",
            "id.token.claim": "true",
            "userinfo.token.claim": "true",
        },
    }


def _user(account: Account, password: str | None) -> dict[str, Any]:
    *given, family = account.full_name.split(" ") if " " in account.full_name else ("", account.full_name)
    user: dict[str, Any] = {
        "username": account.person_id,
        "enabled": account.enabled,
        "firstName": " ".join(given),
        "lastName": family,
        "attributes": {"agency_id": [account.agency_id], "person_id": [account.person_id]},
        "realmRoles": list(account.roles),
        "requiredActions": [],
    }
    if account.email:
        user["email"] = account.email
        user["emailVerified"] = True
    if password is not None:
        user["credentials"] = [{"type": "password", "value": password, "temporary": False}]
    return user


_SYNCED = ("enabled", "firstName", "lastName", "email", "emailVerified", "attributes")
"""What of an account follows the directory; the rest (password, sessions, id) stays the provider's."""


def _changed(user: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    ours = {k: v for k, v in (user.get("attributes") or {}).items() if k in wanted["attributes"]}
    return ours != wanted["attributes"] or any(
        (user.get(k) or None) != (wanted.get(k) or None) for k in _SYNCED if k != "attributes"
    )


class RealmAdmin:
    """Keycloak's Admin REST API, as the bootstrap admin of the master realm."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30) -> None:
        self._base = base_url.rstrip("/")
        self._credentials = {"username": username, "password": password}
        self._http = httpx.Client(timeout=timeout, event_hooks={"response": [self._note_expiry]})
        self._expired = False
        self._sign_in()

    def _sign_in(self) -> None:
        response = httpx.post(
            f"{self._base}/realms/master/protocol/openid-connect/token",
            data={"grant_type": "password", "client_id": "admin-cli", **self._credentials},
            timeout=self._http.timeout,
        )
        if response.status_code != 200:
            raise KeycloakError(f"the identity provider refused its admin ({response.status_code})")
        self._http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def _note_expiry(self, response: httpx.Response) -> None:
        self._expired = response.status_code == 401

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One Admin API call; the admin's token lives a minute, so a 401 signs in again once."""
        response = self._http.request(method, f"{self._base}/admin/realms{path}", **kwargs)
        if self._expired:
            self._sign_in()
            response = self._http.request(method, f"{self._base}/admin/realms{path}", **kwargs)
        return response

    def close(self) -> None:
        self._http.close()

    def _check(self, response: httpx.Response, what: str) -> httpx.Response:
        if response.status_code >= 400:
            raise KeycloakError(f"{what}: {response.status_code} {response.text[:300]}")
        return response

    def ensure_realm(self, document: Mapping[str, Any]) -> bool:
        """Create the realm if missing (True), else bring its settings and clients up to date (False)."""
        exists = self._send("GET", f"/{REALM}").status_code == 200
        if not exists:
            self._check(self._send("POST", "", json=document), "creating the realm")
        else:
            settings = {k: v for k, v in document.items() if k not in ("clients", "roles")}
            self._check(self._send("PUT", f"/{REALM}", json=settings), "updating the realm")
            self._update_clients(document["clients"])
            # Roles only added, never overwritten: a role imported again is a new role, and every
            # person's mapping to the old one would be gone (everyone signed in without a role).
            self._partial_import({"roles": document["roles"]}, if_exists="SKIP")
        self._allow_directory_attributes()
        self._profile_is_the_directorys()
        self._check(
            self._send("POST", f"/{REALM}/localization/vi", json=LOGIN_TEXTS_VI),
            "setting the Vietnamese login texts",
        )
        return not exists

    def _allow_directory_attributes(self) -> None:
        """Keycloak's user profile drops attributes it does not declare: let admins set ours."""
        path = f"/{REALM}/users/profile"
        profile = self._check(self._send("GET", path), "reading the user profile").json()
        if profile.get("unmanagedAttributePolicy") != "ADMIN_EDIT":
            profile["unmanagedAttributePolicy"] = "ADMIN_EDIT"
            self._check(self._send("PUT", path, json=profile), "updating the user profile")

    def _profile_is_the_directorys(self) -> None:
        """People do not edit their profile at the provider (their name, agency and e-mail are the
        directory's), so signing in never stops at a "complete your profile" page."""
        path = f"/{REALM}/authentication/required-actions/VERIFY_PROFILE"
        action = self._check(self._send("GET", path), "reading the profile check").json()
        if action.get("enabled"):
            self._check(self._send("PUT", path, json={**action, "enabled": False}), "turning the profile check off")

    def sync_accounts(
        self, accounts: Iterable[Account], password_of: Mapping[str, str] | None = None, *, complete: bool = False
    ) -> int:
        """Bring the accounts in step, in place: a new person is created (with their password, where given);
        an existing account keeps its id, password and sessions and gets only what changed (agency, name,
        e-mail, roles; disabled when they left, and signed out everywhere then). ``complete``: ``accounts``
        is the whole directory, so a realm account it does not name is disabled too. Returns how many
        accounts were created or changed."""
        existing = {u["username"]: u for u in self._users()}
        written = 0
        for account in accounts:
            wanted = _user(account, None)
            user = existing.pop(account.person_id.lower(), None)
            if user is None:
                created = _user(account, (password_of or {}).get(account.person_id))
                self._check(self._send("POST", f"/{REALM}/users", json=created), "creating an account")
                user = self.account(account.person_id)
                written += 1
            elif _changed(user, wanted):
                self._update(user, wanted)
                written += 1
            written += self._map_roles(user["id"], account.roles)
        if complete:
            for user in existing.values():
                if user.get("enabled"):
                    self._update(user, {**user, "enabled": False})
                    written += 1
        return written

    def _users(self) -> list[dict[str, Any]]:
        users: list[dict[str, Any]] = []
        while True:
            params = {"first": len(users), "max": 500, "briefRepresentation": "false"}
            page = self._check(self._send("GET", f"/{REALM}/users", params=params), "listing accounts").json()
            users.extend(page)
            if len(page) < 500:
                return users

    def account(self, username: str) -> dict[str, Any]:
        params = {"username": username, "exact": "true", "briefRepresentation": "false"}
        found = self._check(self._send("GET", f"/{REALM}/users", params=params), "finding an account").json()
        if not found:
            raise KeycloakError(f"account {username} was not created")
        return found[0]  # type: ignore[no-any-return]

    def _update(self, user: Mapping[str, Any], wanted: Mapping[str, Any]) -> None:
        fields = {k: wanted[k] for k in _SYNCED if k in wanted}
        path = f"/{REALM}/users/{user['id']}"
        self._check(self._send("PUT", path, json={**fields, "requiredActions": []}), "updating an account")
        if user.get("enabled") and not wanted.get("enabled", True):
            # Who left is signed out at once: their refresh tokens stop working now, not at session end.
            self._check(self._send("POST", f"{path}/logout"), "ending a departed person's sessions")

    def _map_roles(self, user_id: str, roles: tuple[str, ...]) -> int:
        """The account's realm roles made exactly ``roles`` (of the dondoc roles); 1 if that changed any."""
        if not hasattr(self, "_roles"):
            known = self._check(self._send("GET", f"/{REALM}/roles"), "reading the realm roles").json()
            self._roles: dict[str, Any] = {r["name"]: r for r in known}
        path = f"/{REALM}/users/{user_id}/role-mappings/realm"
        held = {r["name"] for r in self._check(self._send("GET", path), "reading role mappings").json()}
        add = [self._roles[r] for r in roles if r not in held]
        remove = [self._roles[r] for r in held & set(ROLE_NAMES) if r not in roles]
        if add:
            self._check(self._send("POST", path, json=add), "granting roles")
        if remove:
            self._check(self._send("DELETE", path, json=remove), "taking roles back")
        return int(bool(add or remove))

    def _update_clients(self, clients: Iterable[Mapping[str, Any]]) -> None:
        """Each client brought up to date in place (its id, and the sessions held through it, stay); its
        protocol mappers are added where missing. A client not there yet is created."""
        for client in clients:
            params = {"clientId": client["clientId"]}
            found = self._check(self._send("GET", f"/{REALM}/clients", params=params), "finding a client").json()
            if not found:
                self._check(self._send("POST", f"/{REALM}/clients", json=client), "creating a client")
                continue
            path = f"/{REALM}/clients/{found[0]['id']}"
            settings = {k: v for k, v in client.items() if k != "protocolMappers"}
            self._check(self._send("PUT", path, json={**found[0], **settings}), "updating a client")
            held = {m["name"] for m in found[0].get("protocolMappers", ())}
            for mapper in client.get("protocolMappers", ()):
                if mapper["name"] not in held:
                    models = f"{path}/protocol-mappers/models"
                    self._check(self._send("POST", models, json=mapper), "adding a token mapper")

    def _partial_import(self, body: Mapping[str, Any], if_exists: str) -> None:
        body = {"ifResourceExists": if_exists, **body}
        self._check(self._send("POST", f"/{REALM}/partialImport", json=body), "importing into the realm")
