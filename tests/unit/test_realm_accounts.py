"""What of an account follows the directory (deploy/realm.py): a change of agency, name, e-mail or standing
is written to the provider in place; an account as the directory has it is left alone (no write, so no
password hashing and no session touched). No provider: account representations as Keycloak returns them."""

from __future__ import annotations

from typing import Any

from deploy.realm import Account, _changed, _user

OFFICER = Account("p-bd-thpt-binh-duong-officer-1", "bd-thpt-binh-duong", "Lâm Thị Thu Phương", None, ("officer",))


def as_stored(account: Account, **changes: Any) -> dict[str, Any]:
    """The account as the provider answers it: an id, its own extra fields, attributes as lists."""
    user = {"id": "3f1c", "createdTimestamp": 1, "totp": False, **_user(account, None), **changes}
    user.pop("realmRoles")
    return user


def test_an_account_as_the_directory_has_it_is_not_written() -> None:
    assert not _changed(as_stored(OFFICER), _user(OFFICER, None))


def test_a_move_a_rename_or_a_departure_is_written() -> None:
    wanted = _user(OFFICER, None)
    moved = as_stored(OFFICER, attributes={"agency_id": ["bd-sgddt"], "person_id": [OFFICER.person_id]})
    assert _changed(moved, wanted)
    assert _changed(as_stored(OFFICER, lastName="Phượng"), wanted)
    left = Account(OFFICER.person_id, OFFICER.agency_id, OFFICER.full_name, None, OFFICER.roles, enabled=False)
    assert _changed(as_stored(OFFICER), _user(left, None))
