"""The FastAPI application: ``/v1`` routes, vendors' inbound endpoints, one error shape.

``create_app(ctx)`` builds it around one executor (``api.context``); nothing
here reads global settings. ``/openapi.json`` describes every route. Every
request body is capped (``ApiContext.max_body_bytes``, 413 beyond it) before
any route reads it.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from actionkit.errors import ActionFailure
from api.console import console_router
from api.context import ApiContext
from api.errors import (
    ApiError,
    on_action_failure,
    on_http_exception,
    on_request_validation,
    on_unexpected,
    payload_of,
)
from api.routes import v1_router

VERSION = "1"


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is 413 before the route sees it.

    A declared ``Content-Length`` over the limit is refused unread; otherwise
    the body is read here, counting the bytes as they arrive (a chunked body
    declares no length), and handed on whole once it is known to fit. Reading
    it first (at most ``limit`` bytes) keeps the refusal out of the app's own
    body parsing, which would turn any error there into a 400.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client left before sending its body: nothing to answer.
                return
            chunk: bytes = message.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()  # after the body: the disconnect, when it comes

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        error = ApiError("PAYLOAD_TOO_LARGE", f"request body over {self.limit} bytes")
        body = json.dumps(payload_of(error)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    # The rest of the body is not read: this connection cannot carry another.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def create_app(ctx: ApiContext) -> FastAPI:
    """The API around ``ctx``'s executor."""
    app = FastAPI(
        title="patchbay",
        version=VERSION,
        description="Act on the tools an MSP already runs: the designer's catalog and "
        "palette, actions and their JSON Schemas, steps run exactly once, the ledger.",
    )
    app.add_exception_handler(ActionFailure, on_action_failure)
    app.add_exception_handler(RequestValidationError, on_request_validation)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)
    app.add_exception_handler(Exception, on_unexpected)
    app.include_router(v1_router(ctx))
    app.include_router(console_router(ctx))
    for router in _inbound_routers(ctx):
        app.include_router(router)
    app.add_middleware(BodyLimit, limit=ctx.max_body_bytes)
    app.state.ctx = ctx
    return app


def _inbound_routers(ctx: ApiContext) -> list[Any]:
    """The vendors' inbound endpoints (``api.inbound``), when that package is there."""
    import importlib

    try:
        inbound = importlib.import_module("api.inbound")
    except ModuleNotFoundError as exc:
        if exc.name != "api.inbound":
            raise
        return []
    routers: list[Any] = inbound.inbound_routers(ctx)
    return routers
