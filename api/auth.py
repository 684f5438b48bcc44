"""Who is calling: a tenant-scoped bearer token, and the scope a route needs.

``Authorization: Bearer pb_...`` is looked up by its hash (``store.tokens``):
a missing, malformed, unknown or revoked token is 401 ``UNAUTHENTICATED``,
a token whose scope is below the route's 403 ``FORBIDDEN``. Every route
then acts on the token's tenant only: no route takes a tenant. The token is
never logged, stored or echoed (errors say only what was wrong with it).

Routes of a router built with ``route_class=AuthFirstRoute`` check the token
before anything else, their body included: a caller without a valid token
(or scope) learns nothing about what the route would have accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from weakref import WeakKeyDictionary

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.context import ApiContext
from api.errors import ApiError
from store.tokens import Principal, Scope, authenticate

# Documents the scheme in /openapi.json; the refusals are ours (401 with the payload).
_bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="A tenant API token (patchbay token create): Authorization: Bearer pb_...",
)
# What each ``requires`` dependency checks, for AuthFirstRoute to check it first.
_REQUIREMENTS: WeakKeyDictionary[Callable[..., Principal], tuple[ApiContext, Scope]] = (
    WeakKeyDictionary()
)


def bearer_token(request: Request) -> str | None:
    """The bearer token of the request, or None when it names none."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def principal_of(ctx: ApiContext, token: str) -> Principal | None:
    """Who ``token`` speaks for; None when it is unknown, revoked or malformed.

    The one lookup behind every way a token arrives (the API's bearer header,
    the console's cookie).
    """
    with ctx.store.sessions.begin() as session:
        return authenticate(session, token)


def authorize(ctx: ApiContext, request: Request, scope: Scope) -> Principal:
    """The caller's principal if its token allows ``scope``; else 401 or 403.

    The token is looked up once per request (the principal is kept in
    ``request.state``).
    """
    found: Principal | None = getattr(request.state, "principal", None)
    if found is None:
        token = bearer_token(request)
        if token is None:
            raise ApiError(
                "UNAUTHENTICATED", "an API token is required: Authorization: Bearer <token>"
            )
        found = principal_of(ctx, token)
        if found is None:
            raise ApiError("UNAUTHENTICATED", "the API token is unknown or revoked")
        request.state.principal = found
    if not found.allows(scope):
        raise ApiError(
            "FORBIDDEN",
            f"this token's scope is {found.scope}; this request needs {scope}",
            details={"scope": found.scope, "needed": scope},
        )
    return found


def requires(ctx: ApiContext, scope: Scope) -> Callable[..., Principal]:
    """A FastAPI dependency: the caller's principal, if its token allows ``scope``."""

    def principal(
        request: Request,
        _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)],
    ) -> Principal:
        return authorize(ctx, request, scope)

    _REQUIREMENTS[principal] = (ctx, scope)
    return principal


class AuthFirstRoute(APIRoute):
    """A route whose ``requires`` dependency runs before FastAPI reads the request.

    FastAPI parses a JSON body before it solves any dependency, so a body that
    is not JSON would otherwise be 422 to a caller with no token at all.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = self.authorized_handler()
        needed = [
            _REQUIREMENTS[dep.call]
            for dep in self.dependant.dependencies
            if dep.call is not None and dep.call in _REQUIREMENTS
        ]
        if not needed:
            return handler
        ctx, scope = needed[0]

        async def checked_first(request: Request) -> Response:
            await run_in_threadpool(authorize, ctx, request, scope)
            return await handler(request)

        return checked_first

    def authorized_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """What runs once the caller is authorized: FastAPI's own handler.

        Subclasses add their checks here, so that they come after the token's.
        """
        return super().get_route_handler()
