"""The access kernel (services/runtime/access.py, auth.py, refusals.py): the rule, the token and the
refusal, each written once and judged here without a broker or a database."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from events.clock import VN_TZ
from services.runtime import access, auth
from services.runtime.refusals import Refused, handler

SECRET = "a-secret-of-sixteen+"
ISSUED = datetime(2026, 1, 5, 9, 0, tzinfo=VN_TZ)


@pytest.mark.parametrize("classification", [None, "", "MAT", "tối-mật", "unknown"])
def test_an_unknown_classification_is_secret(classification: str | None) -> None:
    assert access.is_secret(classification)
    assert not access.may_see(classification, {"bd-stc"}, "bd-sxd")
    assert not access.may_see(classification, {"bd-stc"}, None)


def test_a_public_task_is_seen_by_anyone_and_a_secret_one_by_the_involved_only() -> None:
    parties = access.involved("ubnd-bd", "bd-stc", ["bd-sxd"])
    assert all(access.may_see(c, parties, v) for c in ("cong-khai", "noi-bo") for v in (None, "bd-snv", "bd-stc"))
    assert [v for v in (None, "bd-snv", "ubnd-bd", "bd-stc", "bd-sxd") if access.may_see("mat", parties, v)] == [
        "ubnd-bd",
        "bd-stc",
        "bd-sxd",
    ]


def test_the_sql_rule_names_the_same_public_classifications_and_fails_closed_on_null() -> None:
    sql = access.visible_sql("$1", "t")
    assert "t.classification IN ('cong-khai', 'noi-bo')" in sql
    assert sql.startswith("coalesce(") and sql.endswith(", false)")  # NULL classification or viewer: not shown


def test_authority_granted_never_exceeds_the_granters_own() -> None:
    chains = {
        "bd-sgddt-vp": ["bd-sgddt-vp", "bd-sgddt", "ubnd-bd", "cp"],
        "cp": ["cp"],
        "bd-stc": ["bd-stc", "ubnd-bd", "cp"],
        "bd-cuc-thue": ["bd-cuc-thue", "tct", "btc", "cp"],
    }
    granted = ["bd-sgddt-vp", "cp", "bd-stc", "bd-cuc-thue", "not-in-directory"]
    assert access.beyond_authority("bd-sgddt", (), granted, chains) == [
        "cp",
        "bd-stc",
        "bd-cuc-thue",
        "not-in-directory",
    ]
    # Along its own can_assign_to edge, the province may grant that edge on.
    assert access.beyond_authority("ubnd-bd", ("bd-cuc-thue",), granted[:4], chains) == ["cp"]


def test_a_token_expires_and_says_when() -> None:
    token, principal = auth.issue(SECRET, "bd-stc", ISSUED, timedelta(days=30))
    assert auth.verify(SECRET, token, ISSUED + timedelta(days=29)) == principal
    with pytest.raises(auth.ExpiredToken) as expired:
        auth.verify(SECRET, token, ISSUED + timedelta(days=30))
    assert "expired" in str(expired.value) and "hết hạn" in expired.value.message_vi
    assert auth.expires_at(token) == ISSUED + timedelta(days=30)


def test_a_token_issued_before_expiry_existed_expires_the_default_lifetime_after_its_issue() -> None:
    payload = auth._b64(json.dumps({"a": "bd-stc", "t": "old1", "i": ISSUED.isoformat()}).encode())
    token = f"dd1.{payload}.{auth._sign(SECRET, payload)}"
    assert auth.verify(SECRET, token, ISSUED + auth.DEFAULT_TTL - timedelta(seconds=1)).token_id == "old1"
    with pytest.raises(auth.ExpiredToken):
        auth.verify(SECRET, token, ISSUED + auth.DEFAULT_TTL)


@pytest.mark.parametrize(
    "token",
    [
        "dd1.é.ü",
        "Mật-khẩu",
        "dd1." + "a" * 5000 + ".b",
        "dd1..",
        "dd1.%%%.x",
        "",
        "dd1." + base64.urlsafe_b64encode(b"[1,2]").decode() + ".sig",
    ],
)
def test_any_text_that_is_not_a_valid_token_is_an_invalid_token_never_a_crash(token: str) -> None:
    with pytest.raises(auth.InvalidToken):
        auth.verify(SECRET, token, ISSUED)


def test_a_token_signed_with_a_payload_that_is_not_an_object_is_refused_as_unreadable() -> None:
    payload = auth._b64(b"[1, 2]")
    with pytest.raises(auth.InvalidToken, match="unreadable"):
        auth.verify(SECRET, f"dd1.{payload}.{auth._sign(SECRET, payload)}")


def test_a_refusal_is_one_bilingual_body_with_its_status_and_headers() -> None:
    app = FastAPI()
    app.add_exception_handler(Refused, handler)

    @app.get("/x")
    async def refuse() -> None:
        raise auth.InvalidToken("bad").refusal()

    response = TestClient(app).get("/x")
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {
        "detail": {"code": "unauthorized", "message": "bad", "message_vi": auth.InvalidToken.message_vi}
    }


def test_the_principal_can_carry_a_person_and_roles_for_person_sign_in() -> None:
    principal = access.Principal("bd-stc", "t1", person_id="p-1", roles=frozenset({"leader"}))
    assert access.viewer_of(principal) == "bd-stc" and "leader" in principal.roles


def test_an_audit_history_whose_assignment_was_not_read_is_secret_to_everyone() -> None:
    from services.audit.adapters import HistoryEntry
    from services.audit.routes import _assignment

    def recorded(event: dict[str, object]) -> HistoryEntry:
        return HistoryEntry(seq=1, topic="dondoc.task-events", partition=0, offset=0, hash="", event=event)

    progress_only = [recorded({"event_type": "ProgressReported", "payload": {"percent": 5}})]
    classification, parties = _assignment(progress_only)
    assert (classification, parties) == (None, set())
    assert not any(access.may_see(classification, parties, v) for v in (None, "bd-stc", "ubnd-bd"))
    assigned = [
        recorded(
            {
                "event_type": "TaskAssigned",
                "payload": {
                    "classification": "mat",
                    "assigning_agency_id": "ubnd-bd",
                    "lead_agency_id": "bd-stc",
                    "coordinating_agency_ids": ["bd-sxd"],
                },
            }
        )
    ]
    classification, parties = _assignment(assigned)
    assert access.may_see(classification, parties, "bd-sxd") and not access.may_see(classification, parties, "bd-snv")
