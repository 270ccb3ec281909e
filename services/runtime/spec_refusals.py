"""The refusals every service may answer: in its OpenAPI document once for all routes, and in the one
bilingual body even when the framework itself refuses (an unreadable body, an unknown path or method).

FastAPI documents what a route returns and its 422; the shared machinery adds refusals no route declares:
the token check (401/403), a lookup that finds nothing (404), a conflicting write (409), an unreadable
or too large body (400/413) and a domain rule (422, besides FastAPI's own validation errors). Each has
the one refusal body, ``{"detail": {"code", "message", "message_vi"}}``. Documented here, the document
tells an agency's developer what to expect, and the fuzzing proof (tests/integration/test_fuzz_http.py)
holds every answer to it: an undocumented status or a body of another shape fails it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

REFUSAL = "Refusal"
_REFUSAL_SCHEMA = {
    "title": REFUSAL,
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {
            "type": "object",
            "required": ["code", "message", "message_vi"],
            "properties": {
                "code": {"type": "string", "description": "Machine-readable reason, e.g. 'task-not-found'"},
                "message": {"type": "string", "description": "What was wrong and what is accepted (English)"},
                "message_vi": {"type": "string", "description": "The same, in Vietnamese"},
            },
        }
    },
}
_WRITES = {"post", "put", "patch", "delete"}
_WHY = {
    "400": "The body is not readable JSON",
    "401": "No valid agency token (missing, malformed, revoked or expired)",
    "403": "The token's agency may not do this",
    "404": "Not found, or not visible to the caller",
    "409": "Conflicts with the current state, or an idempotency key reused with another body",
    "413": "The body or what it would produce is too large",
    "422": "The request breaks a rule (a field, a deadline, an authority)",
}


def refusals_of(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    """The status codes the shared machinery may answer ``method path`` with."""
    codes = []
    if "requestBody" in operation:
        codes += ["400", "413", "422"]
    if operation.get("security"):
        codes += ["401", "403"]
    if "{" in path:
        codes += ["404"]
    if method in _WRITES:
        codes += ["409", "422"]
    return sorted(set(codes))


_FRAMEWORK = {
    400: (
        "unreadable-body",
        "the request body is not readable JSON (UTF-8 expected)",
        "Không đọc được nội dung yêu cầu: cần JSON mã hóa UTF-8",
    ),
    404: ("no-such-path", "no such path", "Không có địa chỉ này"),
    405: (
        "method-not-allowed",
        "this method is not accepted on this path",
        "Phương thức này không được chấp nhận tại địa chỉ này",
    ),
}


async def framework_refusal(request: Request, exc: Exception) -> Response:
    """FastAPI's and Starlette's own refusals carry an English string; said in the one body, both languages.
    A refusal raised with a structured detail by the code is passed on as it is."""
    assert isinstance(exc, HTTPException)
    if not isinstance(exc.detail, str):
        return await http_exception_handler(request, exc)
    code, message, message_vi = _FRAMEWORK.get(
        exc.status_code, (f"http-{exc.status_code}", exc.detail, "Yêu cầu bị từ chối")
    )
    return JSONResponse(
        {"detail": {"code": code, "message": message, "message_vi": message_vi}}, exc.status_code, headers=exc.headers
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, framework_refusal)
    document(app)


def document(app: FastAPI) -> None:
    """Add the shared refusals to every operation of ``app``'s OpenAPI document (generated once, cached)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = generate()
        spec.setdefault("components", {}).setdefault("schemas", {})[REFUSAL] = _REFUSAL_SCHEMA
        refusal = {"application/json": {"schema": {"$ref": f"#/components/schemas/{REFUSAL}"}}}
        for path, operations in spec.get("paths", {}).items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                codes = set(refusals_of(path, method, operation)) | ({"422"} & set(responses))
                for code in codes:
                    documented = responses.setdefault(code, {"description": _WHY[code], "content": refusal})
                    own = documented.get("content", {}).get("application/json", {}).get("schema")
                    if own is not None and own != refusal["application/json"]["schema"]:
                        # FastAPI's validation errors, or a route's own body: either shape may come
                        documented["content"]["application/json"]["schema"] = {
                            "anyOf": [own, refusal["application/json"]["schema"]]
                        }
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
