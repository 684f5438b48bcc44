"""Every error the API answers is the executor's error payload, with an HTTP status.

``{"category", "code", "message", "retryable", ...}`` as ``executor.payload``
builds it for the ledger (redacted, capped), so a client reads one shape
whether a step failed at the vendor or the request was refused at the door.
Auth failures use the same shape: ``UNAUTHENTICATED`` (401) and
``FORBIDDEN`` (403); another tenant's object is ``NOT_FOUND`` (404), never 403,
so a probe learns nothing about what exists.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
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
    "CONNECTION_CHECK_FAILED": 422,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "PAYLOAD_TOO_LARGE": 413,
    "BROKER_UNAVAILABLE": 503,
    "INTERNAL_ERROR": 500,
}


class VendorDetail(BaseModel):
    """What the vendor answered, when a step failed there."""

    status: int | None = None
    message: str | None = None


class ErrorPayload(BaseModel):
    """The executor's error payload: a refused request or a failed step.

    ``action_id`` and ``step_path`` are null when the API refused the request
    itself (no step ran). Optional keys are left out when they do not apply.
    """

    category: str = Field(description="ValidationError, ActionError or TransientError.")
    code: str = Field(description="e.g. UNAUTHENTICATED, NOT_FOUND, IDEMPOTENCY_CONFLICT.")
    message: str
    retryable: bool
    retry_after: float | None = Field(default=None, description="Seconds to wait first.")
    vendor: VendorDetail | None = None
    details: dict[str, Any] | None = Field(
        default=None, description="What was wrong, e.g. the field that failed validation."
    )
    action_id: str | None
    step_path: str | None
    at: datetime


_DESCRIPTIONS = {
    400: "The request could not be read.",
    401: "No API token, or an unknown or revoked one (UNAUTHENTICATED).",
    403: "The token's scope does not allow this request (FORBIDDEN).",
    404: "No such object for the token's tenant (NOT_FOUND, UNKNOWN_ACTION).",
    409: "The idempotency key was first used with another request (IDEMPOTENCY_CONFLICT), "
    "or the request conflicts with what is stored (CONFLICT).",
    413: "The request body is over the limit (PAYLOAD_TOO_LARGE).",
    422: "The request failed validation; details.field names what (VALIDATION_ERROR). A "
    "vendor's connection check that failed is CONNECTION_CHECK_FAILED.",
    503: "The broker did not accept the step; send it again (BROKER_UNAVAILABLE).",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` documenting ``statuses`` as the error payload."""
    return {
        status: {"model": ErrorPayload, "description": _DESCRIPTIONS[status]} for status in statuses
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


_LOCATIONS = ("body", "query", "path", "header", "cookie")


async def on_request_validation(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own validation (query, path, body shape) as a VALIDATION_ERROR naming the field."""
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        # loc is ("body", <character offset>): name the body, not the offset.
        where = "body"
    else:
        # loc starts with where the value came from (body, query, path, header): the
        # field is what follows, as the client spelled it.
        loc = list(first.get("loc", ()))
        if loc and loc[0] in _LOCATIONS:
            loc = loc[1:]
        # A mapping's key that failed (its pattern): name the key, not pydantic's marker.
        loc = [p for p in loc if p != "[key]"]
        where = ".".join(str(p) for p in loc) or "body"
    return error_response(
        ValidationFailed(f"{where}: {first.get('msg', 'invalid request')}", field=where)
    )


async def on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's 404/405 and friends, in the payload's shape (with their headers: Allow)."""
    assert isinstance(exc, StarletteHTTPException)
    code = {
        400: "BAD_REQUEST",
        404: "NOT_FOUND",
        405: "METHOD_NOT_ALLOWED",
        413: "PAYLOAD_TOO_LARGE",
    }.get(exc.status_code, "HTTP_ERROR")
    error = ApiError(code, str(exc.detail))
    return JSONResponse(payload_of(error), status_code=exc.status_code, headers=exc.headers)


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """Anything unforeseen: 500 INTERNAL_ERROR in the payload's shape, saying nothing more.

    Starlette logs the traceback after this answer; the message names only the
    exception's type (its text may hold request data).
    """
    return error_response(
        ApiError("INTERNAL_ERROR", f"the request failed unexpectedly ({type(exc).__name__})")
    )
