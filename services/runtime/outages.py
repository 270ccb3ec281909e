"""A request that meets an outage (the database restarting, failing over, out of connections; the broker
away) is answered 503 with ``Retry-After`` and the usual bilingual body, never a bare 500.

Whether the work was done is not always knowable (the commit may have reached the server before the
connection dropped), so the answer says what is always safe: send the same request again, with the same
idempotency key — a retry of work already done changes nothing and answers as the first time.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.runtime.consuming import INFRA_ERRORS
from services.runtime.refusals import Refused

RETRY_AFTER_S = 5

RETRY_ADVICE = (
    "Any 5xx answer: send the same request again with the same idempotency key; work already done is not "
    "done twice, and the answer is the first one's."
)


def unavailable() -> Refused:
    return Refused(
        "temporarily-unavailable",
        "the service's database or broker is unreachable for a moment; send the same request again (with the "
        f"same idempotency key) in {RETRY_AFTER_S} seconds",
        "Hệ thống tạm thời không kết nối được cơ sở dữ liệu hoặc hàng đợi sự kiện; hãy gửi lại đúng yêu cầu "
        f"(cùng khóa idempotency) sau {RETRY_AFTER_S} giây",
        503,
        {"Retry-After": str(RETRY_AFTER_S)},
    )


async def _handler(_request: Request, _exc: Exception) -> JSONResponse:
    refused = unavailable()
    return JSONResponse({"detail": refused.detail()}, status_code=503, headers=refused.headers)


def install(app: FastAPI) -> None:
    for error in INFRA_ERRORS:
        if issubclass(error, Exception):  # all of them are; the check narrows the type
            app.add_exception_handler(error, _handler)
