"""Django/DRF answer shapes Tactical RMM shares, and the base of the fake's parts.

- DRF errors: ``{"detail": <text>}`` (401 always with ``WWW-Authenticate:
  Token``, because Knox is the first authentication class);
- plain string answers (``"ok"``, ``"Bad credentials"``, ``"timeout"``) are
  JSON-encoded strings, as DRF renders them;
- a ``KeyError`` in a view (a required body key missing) is Django's bare
  HTML 500 (``DEBUG=False``); an unrouted path is Django's HTML 404.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from sandbox.core import FakeVendor, SandboxRequest, json_response

__all__ = ["TacticalApi", "detail", "html", "iso"]

NOT_FOUND_HTML = (
    '<!doctype html>\n<html lang="en">\n<head>\n  <title>Not Found</title>\n</head>\n'
    "<body>\n  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n"
    "</body>\n</html>\n"
)
SERVER_ERROR_HTML = '\n<!doctype html>\n<html lang="en">\n<head>\n  <title>Server Error (500)</title>\n</head>\n<body>\n  <h1>Server Error (500)</h1><p></p>\n</body>\n</html>\n'  # noqa: E501


def detail(status: int, text: str) -> httpx.Response:
    """A DRF error: ``{"detail": text}``; 401s carry ``WWW-Authenticate: Token``."""
    headers = {"WWW-Authenticate": "Token"} if status == 401 else None
    return json_response(status, {"detail": text}, headers=headers)


def html(status: int, page: str) -> httpx.Response:
    """A Django HTML page (404 for unrouted paths, 500 for an exception in a view)."""
    return httpx.Response(
        status, content=page.encode(), headers={"Content-Type": "text/html; charset=utf-8"}
    )


def server_error() -> httpx.Response:
    """What a view that raised (``KeyError`` on a missing body key) answers."""
    return html(500, SERVER_ERROR_HTML)


def iso(epoch: float) -> str:
    """An epoch as DRF renders a datetime: ISO 8601, UTC, ``Z``."""
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


class TacticalApi(FakeVendor):
    """The instance's switches and Django's answers for paths no view serves.

    ``mode``: ``"vendor"`` (default) answers as the real server does;
    ``"alga"`` is the compatibility mode vendors.md §5 asks for, where the
    reference's calls work: login without ``twofactor`` yields a token, the
    beta detail route also takes the string agent id and the beta list's
    ``agent_id`` filter filters instead of answering 500.
    """

    def __init__(self, *, mode: str = "vendor", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if mode not in ("vendor", "alga"):
            raise ValueError("mode is 'vendor' or 'alga'")
        self.mode = mode
        self.beta_enabled = True
        """``BETA_API_ENABLED``: off, every ``/beta/`` path is Django's 404."""
        self.nats_down = False
        """NATS unreachable: waited runs and commands answer ``"natsdown"``."""

    def not_found(self, req: SandboxRequest) -> httpx.Response:
        """No URL pattern matched: Django's HTML 404."""
        return html(404, NOT_FOUND_HTML)

    def method_not_allowed(self, req: SandboxRequest, allowed: list[str]) -> httpx.Response:
        """DRF's 405."""
        response = detail(405, f'Method "{req.method}" not allowed.')
        response.headers["Allow"] = ", ".join(allowed)
        return response
