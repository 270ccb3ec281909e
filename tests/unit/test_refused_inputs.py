"""Input a route only finds wrong after reading it — a path id that is no id, text the database cannot
store — is the sender's fault, refused with both languages, never a 500 (found by the HTTP fuzzer)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field

from services.runtime import limits, refusals


class Record(BaseModel):
    record_id: str = Field(pattern=r"^[a-z0-9-]+$")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    limits.install(app)
    app.add_exception_handler(refusals.Refused, refusals.handler)

    @app.put("/records/{record_id}")
    async def put(record_id: str) -> dict[str, str]:
        return Record(record_id=record_id).model_dump()

    @app.post("/store")
    async def store() -> None:
        raise asyncpg.CharacterNotInRepertoireError("invalid byte sequence for encoding UTF8: 0x00")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client


async def test_a_record_built_from_a_path_that_is_no_id_is_422_not_500(http: httpx.AsyncClient) -> None:
    response = await http.put("/records/%C3%93")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid-request" and "record_id" in body["message"] and body["message_vi"]


async def test_text_the_database_cannot_store_is_422_not_500(http: httpx.AsyncClient) -> None:
    response = await http.post("/store")
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail["code"] == "unstorable-text" and "U+0000" in detail["message"] and detail["message_vi"]
