"""Every body, field and event has a size limit (events/limits.py); too big is 413/422 with both languages."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError

from events import limits
from events.clock import VN_TZ
from events.envelope import Actor, new_envelope
from events.intake import IntakePosition, IntakeRejected
from events.tasks import ProgressReported
from services.assignment.tasks.commands import AssignTask
from services.runtime import limits as http_limits
from services.runtime import outbox, refusals

NOW = datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ)


class Note(BaseModel):
    text: limits.Text


def _app() -> FastAPI:
    app = FastAPI()
    http_limits.install(app)
    app.add_exception_handler(refusals.Refused, refusals.handler)  # as create_app registers it for every service

    @app.post("/notes")
    async def add(note: Note) -> dict[str, int]:
        return {"length": len(note.text)}

    @app.post("/events")
    async def emit() -> None:
        raise http_limits.EventTooLarge("TaskAssigned", limits.EVENT_MAX_BYTES + 1)

    return app


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def _bilingual(detail: dict[str, Any]) -> None:
    assert detail["message"] and detail["message_vi"] and detail["message"] != detail["message_vi"]


async def test_a_body_declared_over_the_limit_is_413_before_it_is_read(http: httpx.AsyncClient) -> None:
    response = await http.post("/notes", content=b"x" * (limits.HTTP_BODY_MAX_BYTES + 1))
    assert response.status_code == 413
    detail = response.json()["detail"]
    assert detail["code"] == "body-too-large" and str(limits.HTTP_BODY_MAX_BYTES) in detail["message"]
    _bilingual(detail)


async def test_a_chunked_body_over_the_limit_is_413_as_it_arrives(http: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(limits.HTTP_BODY_MAX_BYTES // 65536 + 2):
            yield b"x" * 65536

    response = await http.post("/notes", content=chunks())
    assert response.status_code == 413 and response.json()["detail"]["code"] == "body-too-large"


async def test_a_field_over_its_limit_is_422_saying_what_is_accepted_without_repeating_it(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post("/notes", json={"text": "bí mật " * 1000})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "field-too-long"
    assert f"at most {limits.TEXT_MAX} characters" in body["message"]
    assert f"tối đa {limits.TEXT_MAX} ký tự" in body["message_vi"]
    assert "bí mật" not in response.text  # the refused text is not echoed back
    assert body["detail"][0]["loc"] == ["body", "text"]


async def test_a_field_within_its_limit_is_accepted(http: httpx.AsyncClient) -> None:
    response = await http.post("/notes", json={"text": "x" * limits.TEXT_MAX})
    assert response.status_code == 200 and response.json() == {"length": limits.TEXT_MAX}


async def test_an_event_too_large_for_kafka_is_413_with_both_languages(http: httpx.AsyncClient) -> None:
    response = await http.post("/events")
    assert response.status_code == 413
    detail = response.json()["detail"]
    assert detail["code"] == "event-too-large"
    _bilingual(detail)


def _assign(**fields: Any) -> dict[str, Any]:
    return {
        "title": "Triển khai thanh toán học phí trực tuyến",
        "source_document": {"number": "131/NQ-CP", "issued_on": "2022-10-06", "issuer": "Chính phủ"},
        "lead_agency_id": "bd-sgddt",
        "deadline": "Tháng 3/2023",
        "idempotency_key": "k-1",
        **fields,
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("description", "x" * (limits.LONG_TEXT_MAX + 1)),
        ("title", "x" * (limits.TITLE_MAX + 1)),
        ("deadline", "Tháng 3/2023 " * 100),
        ("coordinating_agency_ids", [f"a-{i}" for i in range(limits.IDS_MAX + 1)]),
        ("lead_agency_id", "a" * (limits.ID_MAX + 1)),
        ("source_document", {"number": "1" * (limits.CODE_MAX + 1), "issued_on": "2022-10-06", "issuer": "CP"}),
    ],
)
def test_every_field_of_a_command_has_a_limit(field: str, value: Any) -> None:
    with pytest.raises(ValidationError, match="at most"):
        AssignTask.model_validate(_assign(**{field: value}))


def test_an_event_over_the_limit_is_refused_before_it_reaches_the_outbox() -> None:
    """As if a handler built an event past the field limits: nothing is stored, the error says why."""

    class Refusing:
        async def fetchrow(self, *_: Any) -> Any:
            raise AssertionError("an oversized event must not reach the outbox table")

    oversized = ProgressReported.model_construct(percent=10, note="x" * (limits.EVENT_MAX_BYTES + 1))
    envelope = new_envelope(
        oversized, event_id=uuid.uuid4(), occurred_at=NOW, producer="progress", actor=Actor(agency_id="bd-sgddt")
    )
    with pytest.raises(http_limits.EventTooLarge, match=f"at most {limits.EVENT_MAX_BYTES} bytes"):
        import asyncio

        asyncio.run(outbox.enqueue(Refusing(), envelope, schema="progress"))  # type: ignore[arg-type]


def test_a_rejection_clips_what_it_repeats_of_an_oversized_record_instead_of_failing() -> None:
    rejected = IntakeRejected(
        agency_id="a" * 10_000,
        command_type="AssignTask",
        command_id="c" * 10_000,
        code="invalid-command",
        message_en="invalid AssignTask: " + "x" * 100_000,
        message_vi="Nội dung lệnh không hợp lệ",
        record=IntakePosition(topic="dondoc.intake", partition=0, offset=1),
    )
    assert rejected.agency_id is not None and len(rejected.agency_id) == limits.ID_MAX
    assert rejected.agency_id.endswith("…") and len(rejected.message_en) == limits.TEXT_MAX


def test_a_dead_letter_keeps_a_bounded_copy_with_the_size_and_digest_of_the_original() -> None:
    value = b"v" * (limits.DEAD_LETTER_VALUE_MAX_BYTES * 16)
    kept, error, headers = http_limits.dead_letter(value, "boom " * 10_000)
    assert kept is not None and len(kept) == limits.DEAD_LETTER_VALUE_MAX_BYTES
    assert len(error) == limits.DEAD_LETTER_ERROR_MAX_CHARS
    found = dict(headers)
    assert found["dlq_value_bytes"] == str(len(value)).encode() and len(found["dlq_value_sha256"]) == 64
    small = b"{}"
    assert http_limits.dead_letter(small, "e") == (small, "e", [])
