"""How an inbound endpoint says no, and how it reads a body it may refuse for its size.

Refusals answer in the API's one error shape (``api.errors``: the executor's
error payload) with the status the endpoint chose and, in ``details.reason``,
the short reason (``bad_signature``, ``expired``, ...). A message never quotes
a token, a signature, a secret or the body.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from api.errors import ApiError, ErrorPayload, payload_of

CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    503: "UNAVAILABLE",
}


class InboundRefused(Exception):
    """The request was refused; nothing in it was recorded."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message

    def response(self) -> JSONResponse:
        """The refusal as the API's error payload, with ``WWW-Authenticate`` on a 401."""
        error = ApiError(
            CODES.get(self.status, "BAD_REQUEST"),
            self.message,
            retryable=self.status == 503,
            details={"reason": self.reason},
        )
        headers: dict[str, str] = {}
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="patchbay"'
        if self.status == 503:
            headers["Retry-After"] = "30"
        return JSONResponse(payload_of(error), status_code=self.status, headers=headers)


def check_declared_length(request: Request, limit: int) -> None:
    """413 when ``Content-Length`` says the body is over ``limit`` (nothing read yet)."""
    declared = request.headers.get("content-length")
    if declared is None:
        return
    if not declared.strip().isdigit():
        raise InboundRefused(400, "malformed", "the Content-Length header is not a number")
    if int(declared) > limit:
        raise too_large(limit)


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The raw body, counted as it arrives: 413 past ``limit`` whatever the headers said."""
    check_declared_length(request, limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large(limit)
    return bytes(body)


def refusal_docs(descriptions: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for an endpoint's refusals (the error payload, its reasons)."""
    return {
        status: {"model": ErrorPayload, "description": text}
        for status, text in descriptions.items()
    }


RAW_JSON_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
        "description": "The vendor's JSON, read raw (its signature covers the exact bytes).",
    }
}
"""``openapi_extra`` for a route that reads its JSON body itself."""


def too_large(limit: int) -> InboundRefused:
    return InboundRefused(413, "too_large", f"the request body is over {limit} bytes; refused")


def json_answer(data: Any, status: int = 200) -> JSONResponse:
    """A successful answer."""
    return JSONResponse(data, status_code=status)
