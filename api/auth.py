"""Who is calling: a tenant-scoped bearer token, and the scope a route needs.

``Authorization: Bearer pb_...`` is looked up by its hash (``store.tokens``):
a missing, malformed, unknown or revoked token is 401 ``UNAUTHENTICATED``,
a token whose scope is below the route's 403 ``FORBIDDEN``. Every route
then acts on the token's tenant only: no route takes a tenant. The token is
never logged, stored or echoed (errors say only what was wrong with it).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from api.context import ApiContext
from api.errors import ApiError
from store.tokens import Principal, Scope, authenticate


def bearer_token(request: Request) -> str | None:
    """The bearer token of the request, or None when it names none."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def requires(ctx: ApiContext, scope: Scope) -> Callable[[Request], Principal]:
    """A FastAPI dependency: the caller's principal, if its token allows ``scope``."""

    def principal(request: Request) -> Principal:
        token = bearer_token(request)
        if token is None:
            raise ApiError(
                "UNAUTHENTICATED", "an API token is required: Authorization: Bearer <token>"
            )
        with ctx.store.sessions.begin() as session:
            found = authenticate(session, token)
        if found is None:
            raise ApiError("UNAUTHENTICATED", "the API token is unknown or revoked")
        if not found.allows(scope):
            raise ApiError(
                "FORBIDDEN",
                f"this token's scope is {found.scope}; this request needs {scope}",
                details={"scope": found.scope, "needed": scope},
            )
        return found

    return principal
