"""Authentication: Knox tokens, API keys, ``/v2/checkcreds/`` and ``/v2/login/``.

Authentication classes run in the vendor's order on every path, the
AllowAny login views included: Knox (``Authorization: Token <t>``) first,
then ``X-API-KEY``. A presented credential that fails is 401 ``Invalid
token.`` (an unknown, expired or revoked Knox token, an unknown API key),
``The token has expired.`` (an expired API key) or ``User inactive or
deleted.``; none presented on a protected path is 401 ``Authentication
credentials were not provided.``. A read-only user gets 403 on writes
*(choice: one flag stands in for Tactical's role permissions)*.

Knox: a login token lives ``knox_ttl`` seconds (5 h); every authenticated
use pushes its expiry to now + ``knox_ttl`` when that moves it by more
than 600 s (``AUTO_REFRESH``, ``MIN_REFRESH_INTERVAL``), so a used 180 s
checkcreds token becomes a 5 h one. :meth:`revoke_knox_tokens` revokes.

``POST /v2/checkcreds/`` ``{"username", "password"}``: bad credentials ->
400 ``"Bad credentials"``; TOTP user -> 200 ``{"totp": true}``; other user
-> 200 ``{"expiry", "token", "totp": false}`` with a 180 s Knox token.
``POST /v2/login/``: bad credentials -> 400 ``{"non_field_errors": [...]}``;
then the vendor reads ``twofactor`` unconditionally: missing -> 500, present
for a non-TOTP user -> 500, wrong -> 400 ``"Bad credentials"``, right -> 200
``{"expiry", "token", "username", "name": null}``. In ``alga`` mode a
missing ``twofactor`` logs a non-TOTP user in. Both views are throttled at
10 requests per 60 s of the fake's clock (the daily limit is not modelled):
429 ``Request was throttled. Expected available in N seconds.``.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from sandbox.core import SandboxRequest, json_response, route
from sandbox.tacticalrmm.api import TacticalApi, detail, iso, server_error

__all__ = ["CHECKCREDS_TTL", "KNOX_TTL", "Auth", "User"]

KNOX_TTL = 5 * 3600.0
CHECKCREDS_TTL = 180.0
MIN_REFRESH_INTERVAL = 600.0
THROTTLE = (10, 60.0)
_LOGIN_PATHS = frozenset({"/v2/checkcreds/", "/v2/login/"})
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class User:
    """An account: its password, its TOTP code (None: no TOTP) and its rights."""

    username: str
    password: str
    totp_code: str | None = None
    active: bool = True
    read_only: bool = False


@dataclass
class _KnoxToken:
    username: str
    expires_at: float


@dataclass
class _ApiKey:
    username: str
    expires_at: float | None


class Auth(TacticalApi):
    """Users, their API keys and Knox tokens, and the two login views."""

    def __init__(self, *, knox_ttl: float = KNOX_TTL, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.knox_ttl = knox_ttl
        self._users: dict[str, User] = {}
        self._api_keys: dict[str, _ApiKey] = {}
        self._knox: dict[str, _KnoxToken] = {}
        self._login_hits: list[float] = []

    def add_user(
        self,
        username: str,
        password: str,
        *,
        totp_code: str | None = None,
        read_only: bool = False,
    ) -> User:
        """Create an account (``totp_code`` set: it has TOTP, and that is its code)."""
        with self._lock:
            user = User(username, password, totp_code, read_only=read_only)
            self._users[username] = user
            return user

    def deactivate_user(self, username: str) -> None:
        """Mark an account inactive: its keys and tokens get 401 ``User inactive or deleted.``."""
        with self._lock:
            self._users[username].active = False

    def add_api_key(
        self, username: str, key: str | None = None, *, expires_in: float | None = None
    ) -> str:
        """An API key acting as ``username`` (``expires_in`` seconds of the fake's clock)."""
        with self._lock:
            key = key or secrets.token_hex(16).upper()
            expires = None if expires_in is None else self.now() + expires_in
            self._api_keys[key] = _ApiKey(username, expires)
            return key

    def issue_knox_token(self, username: str, ttl: float | None = None) -> str:
        """A Knox token for ``username`` living ``ttl`` seconds (default ``knox_ttl``)."""
        with self._lock:
            token = secrets.token_hex(32)
            self._knox[token] = _KnoxToken(username, self.now() + (ttl or self.knox_ttl))
            return token

    def revoke_knox_tokens(self, token: str | None = None) -> int:
        """Revoke one Knox token, or all (None); how many were revoked."""
        with self._lock:
            if token is None:
                count = len(self._knox)
                self._knox.clear()
                return count
            return 1 if self._knox.pop(token, None) is not None else 0

    def knox_expiry(self, token: str) -> float | None:
        """When a live Knox token expires (fake clock), or None."""
        with self._lock:
            found = self._knox.get(token)
            return found.expires_at if found and found.expires_at > self.now() else None

    # -- authentication ---------------------------------------------------------

    def _authenticate(self, req: SandboxRequest) -> User | httpx.Response | None:
        """The user, a refusal, or None when no credential was presented."""
        header = req.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "token":
            token = self._knox.get(value.strip())
            if token is None or token.expires_at <= self.now():
                self._knox.pop(value.strip(), None)
                return detail(401, "Invalid token.")
            user = self._users.get(token.username)
            if user is None or not user.active:
                return detail(401, "User inactive or deleted.")
            renewed = self.now() + self.knox_ttl
            if renewed - token.expires_at > MIN_REFRESH_INTERVAL:
                token.expires_at = renewed
            return user
        key = req.headers.get("x-api-key")
        if not key:
            return None
        api_key = self._api_keys.get(key)
        if api_key is None:
            return detail(401, "Invalid token.")
        if api_key.expires_at is not None and api_key.expires_at <= self.now():
            return detail(401, "The token has expired.")
        user = self._users.get(api_key.username)
        if user is None or not user.active:
            return detail(401, "User inactive or deleted.")
        return user

    def _authorize(self, req: SandboxRequest) -> httpx.Response | None:
        """None when the request may reach its view; otherwise the 401/403/429."""
        found = self._authenticate(req)
        if isinstance(found, httpx.Response):
            return found
        if req.path in _LOGIN_PATHS:
            return self._throttle()
        if found is None:
            return detail(401, "Authentication credentials were not provided.")
        req.context["username"] = found.username
        if found.read_only and req.method not in _SAFE:
            return detail(403, "You do not have permission to perform this action.")
        return None

    def _throttle(self) -> httpx.Response | None:
        limit, window = THROTTLE
        now = self.now()
        self._login_hits = [t for t in self._login_hits if t > now - window]
        if len(self._login_hits) >= limit:
            wait = math.ceil(self._login_hits[0] + window - now)
            return detail(429, f"Request was throttled. Expected available in {wait} seconds.")
        self._login_hits.append(now)
        return None

    def _credentials(self, req: SandboxRequest) -> User | None:
        body = req.body if isinstance(req.body, dict) else {}
        user = self._users.get(str(body.get("username", "")))
        if user is None or not user.active or user.password != body.get("password"):
            return None
        return user

    def _knox_answer(self, user: User, ttl: float) -> dict[str, Any]:
        token = self.issue_knox_token(user.username, ttl)
        return {"expiry": iso(self.epoch() + ttl), "token": token}

    # -- views ------------------------------------------------------------------

    @route("POST", "/v2/checkcreds/")
    def checkcreds(self, req: SandboxRequest) -> httpx.Response:
        """The three outcomes: bad credentials, TOTP user, non-TOTP user (a 180 s token)."""
        user = self._credentials(req)
        if user is None:
            return json_response(400, "Bad credentials")
        if user.totp_code is not None:
            return json_response(200, {"totp": True})
        return json_response(200, {**self._knox_answer(user, CHECKCREDS_TTL), "totp": False})

    @route("POST", "/v2/login/")
    def login(self, req: SandboxRequest) -> httpx.Response:
        """Login with TOTP: 500 without ``twofactor`` (vendor mode), as the vendor does."""
        user = self._credentials(req)
        if user is None:
            return json_response(
                400, {"non_field_errors": ["Unable to log in with provided credentials."]}
            )
        body: dict[str, Any] = req.body
        if "twofactor" not in body:
            if self.mode == "alga" and user.totp_code is None:
                return self._login_answer(user)
            return server_error()  # request.data["twofactor"]: KeyError
        if user.totp_code is None:
            return server_error()  # pyotp with no secret raises
        if str(body["twofactor"]) != user.totp_code:
            return json_response(400, "Bad credentials")
        return self._login_answer(user)

    def _login_answer(self, user: User) -> httpx.Response:
        answer = self._knox_answer(user, self.knox_ttl)
        return json_response(200, {**answer, "username": user.username, "name": None})
