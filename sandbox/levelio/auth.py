"""API keys: ``Authorization: <raw key>`` (no scheme), read-only or read/write.

- Every ``/v2`` call needs a known key in ``Authorization``, sent raw
  (vendors.md §2). Missing or unknown -> 401 ``{"error": "Access denied"}``
  (vendors.md §2). A ``Bearer `` prefix is not stripped, so a key sent with
  it is unknown *(choice: Level documents the raw key only)*.
- Keys are read-only or read/write (Level's "API Keys Settings",
  https://docs.level.io/en/articles/13909289-api-keys-settings: "Read-only —
  can view data but can't create, update, or delete"). A read-only key gets
  403 ``{"error": "This API key is read-only"}`` on every write (any method
  but GET/HEAD/OPTIONS) *(choice: the status is vendors.md's, the body is not
  documented)*.
- Authentication runs before routing, so an unknown ``/v2`` path with no key
  is 401, not 404 *(choice)*. The one exception is the webhook trigger
  (:mod:`sandbox.levelio.runs`), which checks a key only when its trigger
  requires an authorization header.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from sandbox.core import SandboxRequest
from sandbox.levelio.api import ACCESS_DENIED, LevelApi, error

__all__ = ["READ_ONLY", "Auth"]

READ_ONLY = "This API key is read-only"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


class Auth(LevelApi):
    """The organization's API keys and the check every ``/v2`` call passes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._keys: dict[str, bool] = {}

    def add_api_key(self, key: str | None = None, *, write: bool = True) -> str:
        """A new API key (random unless given); ``write=False`` makes it read-only."""
        with self._lock:
            key = key or secrets.token_urlsafe(24)
            self._keys[key] = write
            return key

    def revoke_api_key(self, key: str) -> None:
        """Delete a key: it gets 401 from now on."""
        with self._lock:
            self._keys.pop(key, None)

    def _key_access(self, req: SandboxRequest) -> bool | httpx.Response:
        """Whether the request's key may write, or the 401 for a missing/unknown key."""
        key = req.headers.get("authorization", "").strip()
        if not key or key not in self._keys:
            return error(401, ACCESS_DENIED)
        return self._keys[key]

    def _authorize(
        self, req: SandboxRequest, *, write: bool | None = None
    ) -> httpx.Response | None:
        """None when the call may proceed; else the 401/403.

        ``write`` None: a write is any method but GET/HEAD/OPTIONS.
        """
        access = self._key_access(req)
        if isinstance(access, httpx.Response):
            return access
        is_write = req.method not in _SAFE if write is None else write
        if is_write and not access:
            return error(403, READ_ONLY)
        return None
