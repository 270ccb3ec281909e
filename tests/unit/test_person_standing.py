"""A signed-in person's token counts only while the directory has them active in the token's agency
(services/runtime/auth.py ``person_refusal``): left, disabled or moved is a 401 on the next request, with a
bilingual message that names nobody. No broker or database: the directory is a fake lookup."""

from __future__ import annotations

from typing import Any, cast

import pytest

from services.runtime import auth
from services.runtime.access import Principal

PERSON = Principal(agency_id="bd-sgddt", token_id="person:x", person_id="p-bd-sgddt-head", roles=frozenset({"head"}))


def directory(entry: tuple[str, bool] | None) -> auth.PersonStanding:
    async def lookup(_db: Any, person_id: str) -> tuple[str, bool] | None:
        assert person_id == PERSON.person_id
        return entry

    return lookup


async def refusal(entry: tuple[str, bool] | None) -> auth.InvalidToken | None:
    return await auth.person_refusal(cast(auth.Db, None), PERSON, directory(entry))


async def test_an_active_person_of_the_tokens_agency_stands() -> None:
    assert await refusal(("bd-sgddt", True)) is None


@pytest.mark.parametrize("entry", [("bd-sgddt", False), ("bd-stc", True), ("bd-stc", False)])
async def test_a_person_who_left_was_disabled_or_moved_is_refused_as_401(entry: tuple[str, bool]) -> None:
    refused = await refusal(entry)
    assert isinstance(refused, auth.DepartedPerson)
    answer = refused.refusal()
    assert answer.status_code == 401
    assert "no longer active" in answer.detail()["message"] and "danh bạ" in answer.detail()["message_vi"]
    # It names neither the person nor an agency.
    assert not any(name in str(answer.detail()) for name in ("p-bd-sgddt-head", "bd-sgddt", "bd-stc"))


async def test_a_person_the_service_has_not_read_yet_is_judged_by_the_token_alone() -> None:
    assert await refusal(None) is None
