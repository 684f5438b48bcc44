"""NinjaOne's OAuth server: API clients, grants, ``/ws/oauth/*`` and the bearer check of ``/v2``.

Markers *(choice)* as in :mod:`sandbox.ninjaone`.

OAuth (``POST /ws/oauth/token``, form-encoded)
----------------------------------------------
Client authentication: ``client_secret_basic`` (HTTP Basic) or
``client_secret_post`` (``client_id`` + ``client_secret`` in the form), not
both. Grants:

- ``refresh_token`` (``refresh_token=``, optional narrower ``scope=``):
  refresh tokens ROTATE: the answer carries a new ``refresh_token`` and the
  one presented stops working at once;
- ``client_credentials`` (optional ``scope=``, default ``monitoring``): no
  refresh token, and the access token has **no user context**;
- ``authorization_code`` (``code=``, ``redirect_uri=``): codes come from
  :meth:`FakeNinjaOne.issue_authorization_code`, single use, 10 minutes.

Success: 200 ``{"access_token", "token_type": "Bearer", "expires_in": <int
seconds>, "scope": "monitoring management control", "refresh_token"?}`` with
``Cache-Control: no-store``. Errors (RFC 6749 shape ``{"error",
"error_description"}``): 400 ``invalid_request`` (not a form, missing
parameter, two auth methods), 401 ``invalid_client`` (unknown client or wrong
secret; ``WWW-Authenticate: Basic`` when Basic was used), 400 ``invalid_grant``
(unknown, used, rotated, revoked or another client's refresh token or code),
400 ``unauthorized_client``, ``unsupported_grant_type``, ``invalid_scope``.
``POST /ws/oauth/revoke`` (RFC 7009, ``token=``, client auth) -> 200, empty.

Scopes *(choice)*: ``GET`` under ``/v2`` needs ``monitoring``; any other
method needs ``management``.

Errors of ``/v2`` calls (checked before any route):

- Missing or unknown/expired/revoked access token: 401 ``{"error":
  "not_authenticated", "error_description": "Invalid credentials",
  "error_code": 10}`` (expired: ``"Access token has expired"``), with
  ``WWW-Authenticate: Bearer``. Malformed ``Authorization`` (not ``Bearer
  <token>``): 400 ``{"error": "invalid_header", "error_description": "Invalid
  'Authorization' header", "error_code": 1}``.
- Token lacks the scope: 401 ``{"error": "insufficient_privileges",
  "error_description": ...}`` (NinjaOne answers 401 here, not 403).
"""

from __future__ import annotations

import base64
import binascii
import math
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx

from sandbox.core import FakeVendor, SandboxRequest, empty_response, json_response, route

__all__ = ["GRANT_TYPES", "SCOPES", "Grant", "OAuthServer"]

SCOPES = ("monitoring", "management", "control")
GRANT_TYPES = ("authorization_code", "client_credentials", "refresh_token")
_CODE_TTL = 600.0


@dataclass
class _Client:
    client_id: str
    secret: str
    scopes: tuple[str, ...]
    grant_types: frozenset[str]


@dataclass
class Grant:
    """What a token or code stands for: a client, a user (None: no user context), scopes."""

    client_id: str
    user_id: int | None
    scopes: tuple[str, ...]
    expires_at: float | None = None
    redirect_uri: str | None = None


class OAuthServer(FakeVendor):
    """NinjaOne's authorization server, and the check of every ``/v2`` call's access token.

    ``access_token_ttl``: seconds an access token lives (``expires_in``).
    """

    def __init__(self, *, access_token_ttl: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.access_token_ttl = access_token_ttl
        self._clients: dict[str, _Client] = {}
        self._access: dict[str, Grant] = {}
        self._refresh: dict[str, Grant] = {}
        self._codes: dict[str, Grant] = {}

    # -- seeding: OAuth -------------------------------------------------------

    def add_client(
        self,
        client_id: str,
        client_secret: str,
        *,
        scopes: Iterable[str] = SCOPES,
        grant_types: Iterable[str] = GRANT_TYPES,
    ) -> None:
        """Register an API client app with the scopes and grants it may use."""
        scope_tuple = tuple(scopes)
        if set(scope_tuple) - set(SCOPES):
            raise ValueError(f"scopes must be among {SCOPES}")
        with self._lock:
            self._clients[client_id] = _Client(
                client_id, client_secret, scope_tuple, frozenset(grant_types)
            )

    def _grant_scopes(self, client_id: str, scope: Iterable[str] | None) -> tuple[str, ...]:
        client = self._clients.get(client_id)
        if client is None:
            raise KeyError(f"unknown client {client_id!r}")
        wanted = client.scopes if scope is None else tuple(scope)
        if set(wanted) - set(client.scopes):
            raise ValueError("scope exceeds the client's scopes")
        return wanted

    def issue_refresh_token(
        self, client_id: str, *, user_id: int = 1, scope: Iterable[str] | None = None
    ) -> str:
        """A refresh token for ``client_id`` on behalf of user ``user_id``.

        What a tenant's stored NinjaOne credentials hold after the
        authorization-code flow. ``scope`` defaults to all of the client's.
        """
        with self._lock:
            token = secrets.token_urlsafe(32)
            self._refresh[token] = Grant(client_id, user_id, self._grant_scopes(client_id, scope))
            return token

    def issue_access_token(
        self,
        client_id: str,
        *,
        user_id: int | None = 1,
        scope: Iterable[str] | None = None,
        ttl: float | None = None,
    ) -> str:
        """An access token without the token dance (``user_id=None``: no user context)."""
        with self._lock:
            return self._new_access(
                client_id, user_id, self._grant_scopes(client_id, scope), ttl=ttl
            )

    def issue_authorization_code(
        self,
        client_id: str,
        *,
        user_id: int = 1,
        scope: Iterable[str] | None = None,
        redirect_uri: str | None = None,
    ) -> str:
        """An authorization code, as if a user had just approved the client."""
        with self._lock:
            code = secrets.token_urlsafe(24)
            self._codes[code] = Grant(
                client_id,
                user_id,
                self._grant_scopes(client_id, scope),
                expires_at=self.clock() + _CODE_TTL,
                redirect_uri=redirect_uri,
            )
            return code

    def has_client(self, client_id: str) -> bool:
        """Whether an API client ``client_id`` is registered."""
        with self._lock:
            return client_id in self._clients

    def revoke_client_grants(self, client_id: str) -> None:
        """Revoke every access and refresh token of ``client_id`` (the user removed the app)."""
        with self._lock:
            for tokens in (self._access, self._refresh):
                for token in [t for t, g in tokens.items() if g.client_id == client_id]:
                    del tokens[token]

    def revoke_refresh_token(self, token: str) -> None:
        """Make ``token`` unusable (as if the user disconnected the app)."""
        with self._lock:
            self._refresh.pop(token, None)

    def revoke_access_token(self, token: str) -> None:
        """Make ``token`` unusable before it expires."""
        with self._lock:
            self._access.pop(token, None)

    def expire_access_tokens(self) -> None:
        """Expire every access token issued so far (refresh tokens still work)."""
        with self._lock:
            now = self.clock()
            for grant in self._access.values():
                grant.expires_at = now

    def refresh_token_valid(self, token: str) -> bool:
        """Whether ``token`` would be accepted by the refresh grant now."""
        with self._lock:
            return token in self._refresh

    def _new_access(
        self, client_id: str, user_id: int | None, scopes: tuple[str, ...], ttl: float | None = None
    ) -> str:
        token = secrets.token_urlsafe(32)
        life = self.access_token_ttl if ttl is None else ttl
        self._access[token] = Grant(client_id, user_id, scopes, expires_at=self.clock() + life)
        return token

    # -- the bearer check of /v2 ---------------------------------------------

    def _authorize(self, req: SandboxRequest) -> httpx.Response | None:
        header = req.headers.get("authorization")
        if not header:
            return _unauthenticated("Invalid credentials")
        scheme, _, value = header.strip().partition(" ")
        token = value.strip()
        if scheme.lower() != "bearer" or not token or " " in token:
            return json_response(
                400,
                {
                    "error": "invalid_header",
                    "error_description": "Invalid 'Authorization' header",
                    "error_code": 1,
                },
            )
        grant = self._access.get(token)
        if grant is None:
            return _unauthenticated("Invalid credentials")
        if grant.expires_at is not None and self.clock() >= grant.expires_at:
            return _unauthenticated("Access token has expired")
        needed = "monitoring" if req.method in ("GET", "HEAD") else "management"
        if needed not in grant.scopes:
            return json_response(
                401,
                {
                    "error": "insufficient_privileges",
                    "error_description": f"This request requires the '{needed}' scope",
                },
            )
        req.context["grant"] = grant
        return None

    # -- OAuth endpoints ------------------------------------------------------

    def _authenticate_client(
        self, req: SandboxRequest, form: dict[str, str]
    ) -> tuple[_Client | None, httpx.Response | None]:
        header = req.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        used_basic = scheme.lower() == "basic"
        if used_basic:
            if "client_secret" in form:
                return None, _oauth_error(
                    400, "invalid_request", "Use exactly one client authentication method"
                )
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None, _invalid_client(basic=True)
            raw_id, sep, raw_secret = decoded.partition(":")
            if not sep:
                return None, _invalid_client(basic=True)
            client_id, secret = unquote(raw_id), unquote(raw_secret)
            if form.get("client_id", client_id) != client_id:
                return None, _oauth_error(400, "invalid_request", "client_id does not match")
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        client = self._clients.get(client_id)
        if client is None or not secrets.compare_digest(client.secret, secret):
            return None, _invalid_client(basic=used_basic)
        return client, None

    @route("POST", "/ws/oauth/token")
    def token(self, req: SandboxRequest) -> httpx.Response:
        """``POST /ws/oauth/token``: the refresh, client-credentials and code grants."""
        if not req.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return _oauth_error(
                400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded"
            )
        form: dict[str, str] = req.body if isinstance(req.body, dict) else {}
        client, refused = self._authenticate_client(req, form)
        if refused is not None or client is None:
            return refused or _invalid_client(basic=False)
        grant_type = form.get("grant_type")
        if not grant_type:
            return _oauth_error(400, "invalid_request", "grant_type is required")
        if grant_type not in GRANT_TYPES:
            return _oauth_error(400, "unsupported_grant_type", "Unsupported grant type")
        if grant_type not in client.grant_types:
            return _oauth_error(
                400, "unauthorized_client", "The client may not use this grant type"
            )
        requested = form.get("scope")
        scopes = tuple(requested.split()) if requested else None
        if grant_type == "client_credentials":
            wanted = scopes or ("monitoring",)
            if set(wanted) - set(client.scopes):
                return _oauth_error(400, "invalid_scope", "The requested scope is not allowed")
            return self._token_response(client.client_id, None, wanted, refresh=False)
        if grant_type == "refresh_token":
            presented = form.get("refresh_token")
            if not presented:
                return _oauth_error(400, "invalid_request", "refresh_token is required")
            grant = self._refresh.get(presented)
            if grant is None or grant.client_id != client.client_id:
                return _oauth_error(
                    400, "invalid_grant", "The refresh token is invalid, expired or revoked"
                )
            if scopes is not None and set(scopes) - set(grant.scopes):
                return _oauth_error(400, "invalid_scope", "The requested scope is not allowed")
            del self._refresh[presented]
            return self._token_response(
                client.client_id,
                grant.user_id,
                scopes or grant.scopes,
                refresh=True,
                refresh_scopes=grant.scopes,
            )
        code = form.get("code")
        if not code:
            return _oauth_error(400, "invalid_request", "code is required")
        grant = self._codes.pop(code, None)
        if (
            grant is None
            or grant.client_id != client.client_id
            or (grant.expires_at is not None and self.clock() >= grant.expires_at)
            or grant.redirect_uri != form.get("redirect_uri", grant.redirect_uri)
        ):
            return _oauth_error(
                400, "invalid_grant", "The authorization code is invalid or expired"
            )
        return self._token_response(client.client_id, grant.user_id, grant.scopes, refresh=True)

    def _token_response(
        self,
        client_id: str,
        user_id: int | None,
        scopes: tuple[str, ...],
        *,
        refresh: bool,
        refresh_scopes: tuple[str, ...] | None = None,
    ) -> httpx.Response:
        body: dict[str, Any] = {
            "access_token": self._new_access(client_id, user_id, scopes),
            "token_type": "Bearer",
            "expires_in": math.ceil(self.access_token_ttl),
            "scope": " ".join(scopes),
        }
        if refresh:
            token = secrets.token_urlsafe(32)
            self._refresh[token] = Grant(client_id, user_id, refresh_scopes or scopes)
            body["refresh_token"] = token
        return json_response(200, body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    @route("POST", "/ws/oauth/revoke")
    def revoke(self, req: SandboxRequest) -> httpx.Response:
        """``POST /ws/oauth/revoke`` (RFC 7009): always 200 for an authenticated client."""
        form: dict[str, str] = req.body if isinstance(req.body, dict) else {}
        client, refused = self._authenticate_client(req, form)
        if refused is not None or client is None:
            return refused or _invalid_client(basic=False)
        token = form.get("token")
        if not token:
            return _oauth_error(400, "invalid_request", "token is required")
        for store in (self._access, self._refresh):
            grant = store.get(token)
            if grant is not None and grant.client_id == client.client_id:
                del store[token]
        return empty_response(200)


def _unauthenticated(description: str) -> httpx.Response:
    return json_response(
        401,
        {"error": "not_authenticated", "error_description": description, "error_code": 10},
        headers={"WWW-Authenticate": 'Bearer realm="ninjaone"'},
    )


def _oauth_error(
    status: int, error: str, description: str, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    return json_response(
        status,
        {"error": error, "error_description": description},
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _invalid_client(*, basic: bool) -> httpx.Response:
    headers = {"WWW-Authenticate": 'Basic realm="ninjaone"'} if basic else None
    return _oauth_error(401, "invalid_client", "Client authentication failed", headers)
