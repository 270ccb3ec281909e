"""The one way any service refuses something: a stable code, English and Vietnamese, an HTTP status.

Raised anywhere below a route (rules, handlers, the token check), it becomes the same HTTP error body
in every service (``{"detail": {"code", "message", "message_vi"}}``, by ``handler``, registered for
every app in runtime/service.py create_app); intake turns it into an ``IntakeRejected`` event and the
importer into a reason in its report, so an agency reads the same explanation whichever door it came
through. A refusal names nothing it protects (no agency of a secret task, no title): see access.py.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request, status
from fastapi.responses import JSONResponse


class Refused(ValueError):
    def __init__(
        self,
        code: str,
        message_en: str,
        message_vi: str,
        status_code: int = status.HTTP_422_UNPROCESSABLE_CONTENT,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message_en)
        self.code, self.message_en, self.message_vi = code, message_en, message_vi
        self.status_code = status_code
        self.headers = dict(headers or {})

    def detail(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message_en, "message_vi": self.message_vi}


async def handler(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI exception handler: a ``Refused`` raised under any route, as its HTTP answer."""
    assert isinstance(exc, Refused)
    return JSONResponse({"detail": exc.detail()}, exc.status_code, headers=exc.headers or None)


def not_found(kind_en: str, kind_vi: str, ident: str, code: str) -> Refused:
    return Refused(code, f"no {kind_en} {ident!r}", f"Không tìm thấy {kind_vi} {ident!r}", status.HTTP_404_NOT_FOUND)


def forbidden(code: str, message_en: str, message_vi: str) -> Refused:
    return Refused(code, message_en, message_vi, status.HTTP_403_FORBIDDEN)


def conflict(code: str, message_en: str, message_vi: str) -> Refused:
    return Refused(code, message_en, message_vi, status.HTTP_409_CONFLICT)


def unauthorized(message_en: str, message_vi: str) -> Refused:
    return Refused("unauthorized", message_en, message_vi, status.HTTP_401_UNAUTHORIZED, {"WWW-Authenticate": "Bearer"})
