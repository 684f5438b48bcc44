"""The FastAPI application: ``/v1`` routes, vendors' inbound endpoints, one error shape.

``create_app(ctx)`` builds it around one executor (``api.context``); nothing
here reads global settings. ``/openapi.json`` describes every route. Every
request body is capped (``ApiContext.max_body_bytes``, 413 beyond it) before
any route reads it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from actionkit.errors import ActionFailure
from api.context import ApiContext
from api.errors import ApiError, on_action_failure, on_http_exception, on_request_validation
from api.errors import payload_of as _payload_of
from api.routes import v1_router

VERSION = "1"


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is 413 before the route sees it.

    Checks ``Content-Length`` first, and counts the bytes as they arrive
    (a chunked body names no length).
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
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        import json

        body = json.dumps(
            _payload_of(ApiError("PAYLOAD_TOO_LARGE", f"request body over {self.limit} bytes"))
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


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
    app.include_router(v1_router(ctx))
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
