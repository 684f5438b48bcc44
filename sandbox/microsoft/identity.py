"""The Microsoft identity platform's token endpoint: tenants, app registrations, issued tokens.

Markers *(choice)* and *(observed)* as in :mod:`sandbox.microsoft`.

Token endpoint: ``POST /{tenant}/oauth2/v2.0/token`` (form-encoded)
--------------------------------------------------------------------
Only the client-credentials grant: ``grant_type=client_credentials``,
``client_id``, ``client_secret`` (or HTTP Basic ``client_id:client_secret``,
which the docs also allow, taken as is, not form-decoded *(observed)*; both
at once -> 400 ``invalid_request`` AADSTS9002313 *(choice; RFC 6749 forbids
it)*) and ``scope``: one or more ``<resource>/.default`` values of ONE
resource. Resources: ``https://graph.microsoft.com`` (also its app id
``00000003-0000-0000-c000-000000000000``) and ``https://api.botframework.com``.
``{tenant}`` is a tenant id or one of its domains (:meth:`FakeMicrosoft.add_tenant`),
case-insensitive.

Success: 200 ``{"token_type": "Bearer", "expires_in": <int>, "ext_expires_in":
<int>, "access_token": "<JWT-shaped>"}`` with ``Cache-Control: no-store``.
The token's payload (base64url JSON, *unsigned*) carries ``aud`` (the
resource), ``iss``, ``tid``, ``appid``, ``roles`` (Graph application
permissions), ``iat``, ``nbf``, ``exp`` (epoch seconds on the fake's clock).
Lifetime: ``token_lifetime`` seconds (default 600, the shortest lifetime
Entra lets a tenant configure).

Errors: ``{"error", "error_description": "AADSTS<n>: <text>\\r\\nTrace ID:
...\\r\\nCorrelation ID: ...\\r\\nTimestamp: ...", "error_codes": [<n>],
"timestamp": "YYYY-MM-DD HH:MM:SSZ", "trace_id", "correlation_id",
"error_uri"}``. ``correlation_id`` echoes the ``client-request-id`` header
when sent. Checked in this order:

- unknown tenant: 400 ``invalid_request`` AADSTS90002 "Tenant '<t>' not found...";
- GET (or any method but POST): 400 ``invalid_request`` AADSTS900561;
- no ``grant_type`` (also: a body that is not form-encoded): 400
  ``invalid_request`` AADSTS900144 "The request body must contain the
  following parameter: 'grant_type'."; any other grant: 400
  ``unsupported_grant_type`` AADSTS70003 *(the fake supports only this grant)*;
- no ``client_id``: 400 ``invalid_request`` AADSTS900144;
- app not registered in that tenant: 400 ``unauthorized_client`` AADSTS700016;
- no secret: 401 ``invalid_client`` AADSTS7000218; wrong secret: 401
  ``invalid_client`` AADSTS7000215 "Invalid client secret provided. Ensure
  the secret being sent in the request is the client secret value, not the
  client secret ID, for a secret added to app '<client_id>'."; expired secret
  (:meth:`FakeMicrosoft.expire_client_secret`): 401 ``invalid_client`` AADSTS7000222;
- no ``scope``: 400 ``invalid_request`` AADSTS900144; a scope without
  ``/.default``: 400 ``invalid_scope`` AADSTS1002012; unknown resource or
  scopes of several resources: 400 ``invalid_scope`` AADSTS70011 (the docs'
  example).

Bot Framework signing keys
--------------------------
The identity platform also stands in for ``login.botframework.com``, which
publishes the keys the Bot Connector signs its requests to bots with (OpenID
metadata at ``GET /v1/.well-known/openidconfiguration``, keys at ``GET
/v1/.well-known/keys``) and signs those requests' tokens
(:meth:`IdentityPlatform.sign_bot_activity`): see
:mod:`sandbox.microsoft.botframework`.
"""

from __future__ import annotations

import base64
import json
import math
import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from sandbox.core import SandboxRequest, json_response, route
from sandbox.microsoft.botframework import BotFrameworkSigning
from sandbox.microsoft.common import (
    BOT_FRAMEWORK_RESOURCE,
    GRAPH_APP_ID,
    GRAPH_RESOURCE,
    LOGIN_HOST,
    IssuedToken,
    b64url,
)

__all__ = ["DEFAULT_GRAPH_ROLES", "IdentityPlatform"]

DEFAULT_GRAPH_ROLES = ("Calendars.ReadWrite",)
"""Graph application permissions an app gets unless ``add_app(graph_roles=...)`` says otherwise."""

_RESOURCES = {
    GRAPH_RESOURCE: GRAPH_RESOURCE,
    GRAPH_APP_ID: GRAPH_RESOURCE,
    BOT_FRAMEWORK_RESOURCE: BOT_FRAMEWORK_RESOURCE,
}
_TOKEN_PATH = re.compile(r"^/[^/]+/oauth2/v2\.0/token$")


@dataclass
class _App:
    client_id: str
    secret: str
    graph_roles: tuple[str, ...]
    secret_expired: bool = False


@dataclass
class _Tenant:
    tenant_id: str
    apps: dict[str, _App] = field(default_factory=dict)


class IdentityPlatform(BotFrameworkSigning):
    """The token endpoint of ``login.microsoftonline.com``, with its directory and tokens.

    A part of :class:`~sandbox.microsoft.FakeMicrosoft`, which serves it next
    to Graph. ``token_lifetime``: seconds an access token lives
    (``expires_in`` and ``ext_expires_in``). It also publishes the Bot
    Framework's signing keys and signs the Bot Connector's tokens
    (:class:`~sandbox.microsoft.botframework.BotFrameworkSigning`).
    """

    def __init__(self, *, token_lifetime: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if token_lifetime <= 0:
            raise ValueError("token_lifetime must be > 0")
        self.token_lifetime = token_lifetime
        self._tenants: dict[str, _Tenant] = {}
        self._tenant_names: dict[str, str] = {}
        self._tokens: dict[str, IssuedToken] = {}

    # -- seeding: identity ----------------------------------------------------

    def add_tenant(self, tenant_id: str, *, domains: Iterable[str] = ()) -> None:
        """Register a directory; ``domains`` (``contoso.onmicrosoft.com``) also name it in URLs."""
        with self._lock:
            key = tenant_id.lower()
            self._tenants.setdefault(key, _Tenant(tenant_id))
            self._tenant_names[key] = key
            for domain in domains:
                self._tenant_names[domain.lower()] = key

    def add_app(
        self,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        *,
        graph_roles: Iterable[str] = DEFAULT_GRAPH_ROLES,
    ) -> None:
        """Register an app (client id + secret) in a tenant, creating the tenant if needed.

        ``graph_roles`` are the Graph application permissions an admin
        consented to; they end up in the token's ``roles`` claim.
        """
        with self._lock:
            self.add_tenant(tenant_id)
            tenant = self._tenants[tenant_id.lower()]
            tenant.apps[client_id.lower()] = _App(client_id, client_secret, tuple(graph_roles))

    def expire_client_secret(self, tenant_id: str, client_id: str) -> None:
        """Make the app's secret expired (AADSTS7000222 from now on)."""
        with self._lock:
            self._app(tenant_id, client_id).secret_expired = True

    def _app(self, tenant_id: str, client_id: str) -> _App:
        tenant = self._tenants.get(tenant_id.lower())
        app = tenant.apps.get(client_id.lower()) if tenant is not None else None
        if app is None:
            raise KeyError(f"no app {client_id!r} in tenant {tenant_id!r}")
        return app

    def issue_token(
        self,
        tenant_id: str,
        client_id: str,
        *,
        resource: str = GRAPH_RESOURCE,
        lifetime: float | None = None,
    ) -> str:
        """An access token without the token dance (the app must be registered)."""
        with self._lock:
            app = self._app(tenant_id, client_id)
            return self._new_token(
                self._tenants[tenant_id.lower()].tenant_id, app, resource, lifetime
            ).token

    def _new_token(
        self, tenant_id: str, app: _App, resource: str, lifetime: float | None = None
    ) -> IssuedToken:
        life = self.token_lifetime if lifetime is None else lifetime
        now, epoch = self.clock(), self.epoch()
        roles = app.graph_roles if resource == GRAPH_RESOURCE else ()
        header = {"typ": "JWT", "alg": "RS256", "kid": "sandbox"}
        claims = {
            "aud": resource,
            "iss": f"https://sts.windows.net/{tenant_id}/",
            "iat": int(epoch),
            "nbf": int(epoch),
            "exp": int(epoch + life),
            "appid": app.client_id,
            "idtyp": "app",
            "roles": list(roles),
            "tid": tenant_id,
            "ver": "1.0",
            "jti": secrets.token_hex(8),
        }
        token = ".".join(
            (
                b64url(json.dumps(header).encode()),
                b64url(json.dumps(claims).encode()),
                b64url(secrets.token_bytes(32)),
            )
        )
        issued = IssuedToken(token, tenant_id, app.client_id, resource, roles, now, now + life)
        self._tokens[token] = issued
        return issued

    # -- token state helpers ----------------------------------------------------

    def expire_tokens(self) -> None:
        """Expire every access token issued so far."""
        with self._lock:
            now = self.clock()
            for issued in self._tokens.values():
                issued.expires_at = min(issued.expires_at, now)

    def expire_token(self, token: str) -> None:
        """Expire one access token now."""
        with self._lock:
            issued = self._tokens[token]
            issued.expires_at = min(issued.expires_at, self.clock())

    def revoke_token(self, token: str) -> None:
        """Make one access token unusable (Graph answers as for a token it never saw)."""
        with self._lock:
            self._tokens[token].revoked = True

    def token_info(self, token: str) -> IssuedToken | None:
        """What the fake knows about ``token`` (None if it never issued it)."""
        with self._lock:
            return self._tokens.get(token)

    @property
    def issued_tokens(self) -> list[IssuedToken]:
        """Every access token issued, oldest first."""
        with self._lock:
            return list(self._tokens.values())

    def _tenant_key(self, name: str) -> str:
        """The key of the tenant ``name`` (an id or a domain) names; else ``name`` lower-cased."""
        return self._tenant_names.get(name.lower(), name.lower())

    # -- the endpoint ---------------------------------------------------------------

    def method_not_allowed(self, req: SandboxRequest, allowed: list[str]) -> httpx.Response:
        """Known path, other method: AADSTS900561 on the token endpoint."""
        if _TOKEN_PATH.match(req.path):
            tenant = self._resolve_tenant(req.path.split("/")[1])
            if tenant is None:
                return self._unknown_tenant(req, req.path.split("/")[1])
            return self._token_error(
                req,
                400,
                "invalid_request",
                900561,
                "The endpoint only accepts POST, OPTIONS requests. "
                f"Received a {req.method} request.",
            )
        return super().method_not_allowed(req, allowed)

    def _resolve_tenant(self, name: str) -> _Tenant | None:
        key = self._tenant_names.get(name.lower())
        return self._tenants.get(key) if key is not None else None

    def _token_error(
        self, req: SandboxRequest, status: int, error: str, code: int, text: str
    ) -> httpx.Response:
        trace_id = str(uuid.uuid4())
        correlation_id = req.headers.get("client-request-id") or str(uuid.uuid4())
        stamp = datetime.fromtimestamp(self.epoch(), UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        description = (
            f"AADSTS{code}: {text}\r\nTrace ID: {trace_id}\r\n"
            f"Correlation ID: {correlation_id}\r\nTimestamp: {stamp}"
        )
        body = {
            "error": error,
            "error_description": description,
            "error_codes": [code],
            "timestamp": stamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"{LOGIN_HOST}/error?code={code}",
        }
        return json_response(
            status,
            body,
            headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
        )

    def _unknown_tenant(self, req: SandboxRequest, name: str) -> httpx.Response:
        return self._token_error(
            req,
            400,
            "invalid_request",
            90002,
            f"Tenant '{name}' not found. Check to make sure you have the correct tenant ID and "
            "are signing into the correct cloud. Check with your subscription administrator, "
            "this may happen if there are no active subscriptions for the tenant.",
        )

    def _missing(self, req: SandboxRequest, parameter: str) -> httpx.Response:
        return self._token_error(
            req,
            400,
            "invalid_request",
            900144,
            f"The request body must contain the following parameter: '{parameter}'.",
        )

    @route("POST", "/{tenant}/oauth2/v2.0/token")
    def token(self, req: SandboxRequest) -> httpx.Response:
        """``POST /{tenant}/oauth2/v2.0/token``: the client-credentials grant."""
        tenant = self._resolve_tenant(req.path_params["tenant"])
        if tenant is None:
            return self._unknown_tenant(req, req.path_params["tenant"])
        # The endpoint reads form parameters only; a JSON body carries none.
        is_form = (
            req.headers.get("content-type", "")
            .lower()
            .startswith("application/x-www-form-urlencoded")
        )
        form: dict[str, str] = req.body if is_form and isinstance(req.body, dict) else {}
        grant_type = form.get("grant_type", "")
        if not grant_type:
            return self._missing(req, "grant_type")
        if grant_type != "client_credentials":
            return self._token_error(
                req,
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        scheme, _, value = req.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            if secret is not None:
                return self._token_error(
                    req,
                    400,
                    "invalid_request",
                    9002313,
                    "Invalid request. Request is malformed or invalid. Use one client "
                    "authentication method: the client_secret parameter or the Authorization "
                    "header.",
                )
            client_id, secret = _basic_credentials(value, client_id)
        if not client_id:
            return self._missing(req, "client_id")
        app = tenant.apps.get(client_id.lower())
        if app is None:
            return self._token_error(
                req,
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{tenant.tenant_id}'. This can happen if the application has not been "
                "installed by the administrator of the tenant or consented to by any user in the "
                "tenant. You may have sent your authentication request to the wrong tenant.",
            )
        if not secret:
            return self._token_error(
                req,
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
            )
        if not secrets.compare_digest(app.secret.encode(), secret.encode()):
            return self._token_error(
                req,
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                "the client secret value, not the client secret ID, for a secret added to app "
                f"'{app.client_id}'.",
            )
        if app.secret_expired:
            return self._token_error(
                req,
                401,
                "invalid_client",
                7000222,
                f"The provided client secret keys for app '{app.client_id}' are expired. Visit "
                "the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, "
                "or consider using certificate credentials for added security: "
                "https://aka.ms/certCreds.",
            )
        scope = form.get("scope", "").strip()
        if not scope:
            return self._missing(req, "scope")
        resource_or_error = self._scope_resource(req, scope)
        if isinstance(resource_or_error, httpx.Response):
            return resource_or_error
        issued = self._new_token(tenant.tenant_id, app, resource_or_error)
        lifetime = math.floor(issued.expires_at - issued.issued_at)
        return json_response(
            200,
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": issued.token,
            },
            headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
        )

    def _scope_resource(self, req: SandboxRequest, scope: str) -> str | httpx.Response:
        resources: set[str] = set()
        for item in scope.split():
            resource, sep, rest = item.rpartition("/")
            if not sep or rest != ".default":
                return self._token_error(
                    req,
                    400,
                    "invalid_scope",
                    1002012,
                    f"The provided value for scope {item} is not valid. Client credential flows "
                    "must have a scope value with /.default suffixed to the resource identifier "
                    "(application ID URI).",
                )
            resources.add(_RESOURCES.get(resource.rstrip("/"), resource))
        if len(resources) != 1 or not resources <= set(_RESOURCES.values()):
            return self._token_error(
                req,
                400,
                "invalid_scope",
                70011,
                "The provided value for the input parameter 'scope' is not valid. "
                f"The scope {scope} is not valid.",
            )
        return resources.pop()


def _basic_credentials(value: str, form_client_id: str) -> tuple[str, str | None]:
    # Entra reads the Basic user and password as they are, not form-decoded (observed).
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return form_client_id, None
    raw_id, sep, raw_secret = decoded.partition(":")
    if not sep:
        return form_client_id, None
    return raw_id, raw_secret
