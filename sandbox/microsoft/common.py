"""What the identity platform and Graph both know: resource ids, the login host, issued tokens.

The identity platform (:mod:`sandbox.microsoft.identity`) issues the tokens
that Graph (:mod:`sandbox.microsoft.graph`) checks; neither module imports the
other, both import this one.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

__all__ = [
    "BOT_FRAMEWORK_RESOURCE",
    "GRAPH_APP_ID",
    "GRAPH_RESOURCE",
    "LOGIN_HOST",
    "IssuedToken",
    "b64url",
]

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
BOT_FRAMEWORK_RESOURCE = "https://api.botframework.com"
LOGIN_HOST = "https://login.microsoftonline.com"


def b64url(data: bytes) -> str:
    """Unpadded base64url, as in JWT segments and change keys."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class IssuedToken:
    """An access token the fake issued, and what Graph knows about it.

    ``resource`` is the audience (:data:`GRAPH_RESOURCE` or
    :data:`BOT_FRAMEWORK_RESOURCE`); ``expires_at`` is on the fake's clock.
    """

    token: str = field(repr=False)
    tenant_id: str
    client_id: str
    resource: str
    roles: tuple[str, ...]
    issued_at: float
    expires_at: float
    revoked: bool = False
