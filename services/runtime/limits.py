"""The size limits (events/limits.py) where the outside world comes in: HTTP bodies, request fields, events.

``install(app)`` is called once by ``service.create_app``: every service refuses a body over
``HTTP_BODY_MAX_BYTES`` with 413 before reading it whole, answers a field or list over its limit with
422, and an event too large for Kafka with 413. Every refusal says, in English and Vietnamese, what was
wrong and what is accepted, and never repeats what was sent (a refused field may be a secret task's text).
"""

from __future__ import annotations

import hashlib
from typing import Any

import asyncpg
from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from events.limits import (
    DEAD_LETTER_ERROR_MAX_CHARS,
    DEAD_LETTER_VALUE_MAX_BYTES,
    EVENT_MAX_BYTES,
    HTTP_BODY_MAX_BYTES,
    clip,
)
from services.runtime.refusals import Refused


class EventTooLarge(Refused):
    """An event whose encoding is over EVENT_MAX_BYTES: refused before it reaches the outbox (and Kafka)."""

    def __init__(self, event_type: str, size: int, limit: int = EVENT_MAX_BYTES) -> None:
        super().__init__(
            "event-too-large",
            f"the {event_type} event this request makes would be {size} bytes; at most {limit} bytes are accepted "
            "(shorten the longest texts or split the lists)",
            f"Sự kiện {event_type} tạo ra sẽ có {size} byte, vượt giới hạn {limit} byte; "
            "hãy rút gọn nội dung hoặc chia nhỏ danh sách",
            413,
        )


def body_too_large(limit: int = HTTP_BODY_MAX_BYTES) -> HTTPException:
    """The Refused body as an HTTPException: raised while FastAPI reads the body, only an HTTPException
    passes through its parsing (anything else becomes a 400 "error parsing the body")."""
    refused = Refused(
        "body-too-large",
        f"the request body is larger than the {limit} bytes accepted",
        f"Nội dung yêu cầu vượt quá {limit} byte cho phép",
        413,
    )
    return HTTPException(refused.status_code, refused.detail())


class BodyLimit:
    """ASGI middleware: a body declared or found to be over ``max_bytes`` is refused with 413.

    Not FastAPI's own ``max_body_size``: its 413 is a plain-text "Content Too Large", in English only and
    unlike every other refusal of the API (``detail`` with a code and both languages).

    A declared Content-Length is judged before anything is read; a chunked body is counted as it
    arrives, and the read fails as soon as it passes the limit (FastAPI passes an HTTPException from
    the body read through, so it answers 413, not 400)."""

    def __init__(self, app: ASGIApp, max_bytes: int = HTTP_BODY_MAX_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _answer(scope, send, body_too_large(self.max_bytes))
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise body_too_large(self.max_bytes)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except HTTPException as exc:  # read outside FastAPI's body parsing, e.g. by a route itself
            if exc.status_code != 413 or started:
                raise
            await _answer(scope, send, exc)


async def _answer(scope: Scope, send: Send, exc: HTTPException) -> None:
    response = JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
    await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


_TOO_LONG = ("string_too_long", "url_too_long", "too_long")


def refusal_of(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """A 422 body: FastAPI's ``detail`` list (without the refused input) plus a code and the two messages."""
    too_long = [e for e in errors if e.get("type") in _TOO_LONG]
    shown = [_explain(e) for e in (too_long or errors)[:5]]
    return {
        "detail": [{k: v for k, v in e.items() if k not in ("input", "url")} for e in jsonable_encoder(errors)],
        "code": "field-too-long" if too_long else "invalid-request",
        "message": "the request was refused: " + "; ".join(en for en, _ in shown),
        "message_vi": "Yêu cầu bị từ chối: " + "; ".join(vi for _, vi in shown),
    }


def _explain(error: dict[str, Any]) -> tuple[str, str]:
    """What was wrong with one field and what is accepted: (English, Vietnamese)."""
    loc = [str(p) for p in error.get("loc", ())]
    where = ".".join(loc[1:] if loc[:1] in (["body"], ["query"], ["path"], ["header"]) else loc) or "body"
    kind, limit = error.get("type"), (error.get("ctx") or {}).get("max_length")
    if kind in ("string_too_long", "url_too_long"):
        return f"{where} is too long: at most {limit} characters are accepted", f"{where} quá dài: tối đa {limit} ký tự"
    if kind == "too_long":
        return (
            f"{where} has too many items: at most {limit} are accepted",
            f"{where} có quá nhiều phần tử: tối đa {limit}",
        )
    if kind == "missing":
        return f"{where}: {error.get('msg')}", f"{where}: thiếu trường bắt buộc"
    return f"{where}: {error.get('msg')}", f"{where}: giá trị không hợp lệ ({error.get('msg')})"


async def _invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(refusal_of(list(exc.errors())), status_code=422)


async def _invalid_record(_request: Request, exc: Exception) -> JSONResponse:
    """A record a route builds from the path and the body (e.g. a directory id in the path that is not an
    id) is refused like the body itself would be, not answered with a 500."""
    assert isinstance(exc, ValidationError)
    return JSONResponse(refusal_of([dict(e) for e in exc.errors()]), status_code=422)


async def _unstorable_text(_request: Request, exc: Exception) -> JSONResponse:
    """Text PostgreSQL cannot store (U+0000, an unpaired surrogate) that no model refused earlier: the
    sender's fault, said as such, never a 500."""
    refused = Refused(
        "unstorable-text",
        "a text in the request holds a character that cannot be stored (U+0000 or an unpaired surrogate)",
        "Nội dung yêu cầu chứa ký tự không lưu được (U+0000 hoặc ký tự thay thế đơn lẻ)",
    )
    return JSONResponse({"detail": refused.detail()}, status_code=refused.status_code)


def install(app: FastAPI, max_body_bytes: int = HTTP_BODY_MAX_BYTES) -> None:
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(ValidationError, _invalid_record)
    app.add_exception_handler(asyncpg.CharacterNotInRepertoireError, _unstorable_text)
    app.add_exception_handler(asyncpg.UntranslatableCharacterError, _unstorable_text)


def check_event_size(event_type: str, value: bytes) -> None:
    if len(value) > EVENT_MAX_BYTES:
        raise EventTooLarge(event_type, len(value))


def dead_letter(value: bytes | None, error: str) -> tuple[bytes | None, str, list[tuple[str, bytes]]]:
    """What a dead letter keeps of a record: at most DEAD_LETTER_VALUE_MAX_BYTES of its value (with the
    full size and SHA-256 in headers, so the original can still be identified on its topic) and a
    bounded error text. A dead letter is for a person to read, never a way to move a large record again."""
    error = clip(error, DEAD_LETTER_ERROR_MAX_CHARS)
    if value is None or len(value) <= DEAD_LETTER_VALUE_MAX_BYTES:
        return value, error, []
    headers = [
        ("dlq_value_truncated", b"true"),
        ("dlq_value_bytes", str(len(value)).encode()),
        ("dlq_value_sha256", hashlib.sha256(value).hexdigest().encode()),
    ]
    return value[:DEAD_LETTER_VALUE_MAX_BYTES], error, headers
