"""Every error the API answers is the executor's error payload, with an HTTP status.

``{"category", "code", "message", "retryable", ...}`` as ``executor.payload``
builds it for the ledger (redacted, capped), so a client reads one shape
whether a step failed at the vendor or the request was refused at the door.
Auth failures use the same shape: ``UNAUTHENTICATED`` (401) and
``FORBIDDEN`` (403); another tenant's object is ``NOT_FOUND`` (404), never 403,
so a probe learns nothing about what exists.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from actionkit.errors import ActionError, ActionFailure, ValidationFailed
from executor.payload import Redactor, failure_payload
from store.types import utcnow

# Error code -> HTTP status (anything else that is an ActionError: 422).
STATUS_OF: dict[str, int] = {
    "VALIDATION_ERROR": 422,
    "UNKNOWN_ACTION": 404,
    "NOT_FOUND": 404,
    "IDEMPOTENCY_CONFLICT": 409,
    "CONFLICT": 409,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "PAYLOAD_TOO_LARGE": 413,
    "BROKER_UNAVAILABLE": 503,
    "INTERNAL_ERROR": 500,
}


class ApiError(ActionError):
    """A refusal at the API's door (auth, scope, size), in the payload's shape."""

    def __init__(self, code: str, message: str, **kwargs: Any) -> None:
        super().__init__(message, code=code, **kwargs)


def payload_of(error: ActionFailure) -> dict[str, Any]:
    """The error payload of a refusal (no action ran: ``action_id`` is null)."""
    return failure_payload(
        error, action_id="", step_path=None, at=utcnow(), redactor=Redactor()
    ) | {"action_id": None}


def error_response(error: ActionFailure, *, headers: dict[str, str] | None = None) -> JSONResponse:
    """``error`` as a JSON response with its status."""
    status = STATUS_OF.get(error.code, 400 if isinstance(error, ValidationFailed) else 422)
    if error.code == "UNAUTHENTICATED":
        headers = {"WWW-Authenticate": 'Bearer realm="patchbay"', **(headers or {})}
    return JSONResponse(payload_of(error), status_code=status, headers=headers)


async def on_action_failure(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ActionFailure)
    return error_response(exc)


async def on_request_validation(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own validation (query, path, body shape) as a VALIDATION_ERROR naming the field."""
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
    return error_response(
        ValidationFailed(f"{where}: {first.get('msg', 'invalid request')}", field=where)
    )


async def on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's 404/405 and friends, in the payload's shape."""
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}.get(
        exc.status_code, "HTTP_ERROR"
    )
    error = ApiError(code, str(exc.detail))
    return JSONResponse(payload_of(error), status_code=exc.status_code)
