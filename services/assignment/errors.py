"""The one way the assignment service refuses something: a stable code, both languages, an HTTP status.

The same ``Rejected`` becomes an HTTP error body (``{"code", "message", "message_vi"}``), an
``IntakeRejected`` event for agency systems, and a reason in the import report, so an agency reads
the same explanation whichever door it came through.
"""

from __future__ import annotations

from fastapi import HTTPException, status


class Rejected(ValueError):
    def __init__(self, code: str, message_en: str, message_vi: str,
                 status_code: int = status.HTTP_422_UNPROCESSABLE_CONTENT) -> None:
        super().__init__(message_en)
        self.code, self.message_en, self.message_vi = code, message_en, message_vi
        self.status_code = status_code

    def as_http(self) -> HTTPException:
        return HTTPException(
            self.status_code, {"code": self.code, "message": self.message_en, "message_vi": self.message_vi}
        )


def not_found(kind_en: str, kind_vi: str, ident: str, code: str) -> Rejected:
    return Rejected(code, f"no {kind_en} {ident!r}", f"Không tìm thấy {kind_vi} {ident!r}",
                    status.HTTP_404_NOT_FOUND)


def forbidden(code: str, message_en: str, message_vi: str) -> Rejected:
    return Rejected(code, message_en, message_vi, status.HTTP_403_FORBIDDEN)


def conflict(code: str, message_en: str, message_vi: str) -> Rejected:
    return Rejected(code, message_en, message_vi, status.HTTP_409_CONFLICT)
