"""Who is asking for a report, when they say so.

Reports are readable without a token (the public figures). With an agency token, the secret (mật)
tasks that agency is involved in are added to its figures and lists; a token that is present but
invalid is refused rather than silently treated as anonymous, so a misconfigured client notices.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.runtime.auth import InvalidToken, RevokedToken, verify_unrevoked

_bearer = HTTPBearer(
    auto_error=False, description="Optional agency token: adds the secret tasks it is involved in"
)


async def optional_agency(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> str | None:
    if credentials is None:
        return None
    try:
        rt = request.app.state.runtime
        return (await verify_unrevoked(rt.settings.token_secret, rt.pool, credentials.credentials)).agency_id
    except InvalidToken as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            {
                "code": "unauthorized",
                "message": str(exc),
                "message_vi": exc.message_vi if isinstance(exc, RevokedToken)
                else "Mã xác thực của cơ quan không hợp lệ; bỏ trống để xem số liệu công khai",
            },
            headers={"WWW-Authenticate": "Bearer"},
        ) from exc


Viewer = Annotated[str | None, Depends(optional_agency)]
