"""FakeMicrosoft: the Microsoft identity platform token endpoint and Microsoft Graph calendars.

One app serves both hosts' paths, so one server (or one transport) stands in
for ``login.microsoftonline.com`` *and* ``graph.microsoft.com`` and Graph can
check the tokens the token endpoint issued. Point a client's login base URL
and its Graph base URL at the same address::

    with fake.serve() as server:
        login_base = server.base_url            # + /{tenant}/oauth2/v2.0/token
        graph_base = server.base_url + "/v1.0"  # + /users/{id | upn}/events

Sources: the identity platform's "OAuth 2.0 client credentials flow" article
(request, success and error bodies), the AADSTS error codes, Graph's "error
responses" article, the ``event`` resource (``transactionId``) and the
create-event page. Where they are silent the behaviour is marked
*(choice)*; messages taken from answers Microsoft's services gave (quoted in
public issue threads and client code, not in the docs) are marked
*(observed)*.

The two halves live in their own modules and meet in :class:`FakeMicrosoft`:

- :mod:`sandbox.microsoft.identity`: the token endpoint (``POST
  /{tenant}/oauth2/v2.0/token``), tenants, app registrations, tokens;
- :mod:`sandbox.microsoft.graph`: what every Graph call (``/v1.0/...``) goes
  through: request ids, bearer-token checks, Graph's error shape, :func:`graph_fault`;
- :mod:`sandbox.microsoft.calendars`: users, calendars and events;
- :mod:`sandbox.microsoft.event_body`: what an event body may hold;
- :mod:`sandbox.microsoft.dates`: Graph's date-times and time zones;
- :mod:`sandbox.microsoft.common`: what both halves know (resources, the token record).

Seeding and inspection (all thread-safe)
----------------------------------------
- identity: ``add_tenant(tenant_id, domains=())``, ``add_app(tenant_id,
  client_id, client_secret, graph_roles=DEFAULT_GRAPH_ROLES)``,
  ``expire_client_secret(tenant_id, client_id)``;
- tokens: ``issue_token(tenant_id, client_id, resource=, lifetime=)`` (skip
  the token dance), ``expire_tokens()``, ``expire_token(token)``,
  ``revoke_token(token)``, ``token_info(token)`` and ``issued_tokens``
  (:class:`IssuedToken` records);
- mailboxes: ``add_user(user_id, upn, display_name=, tenant_id=, mailbox=)``,
  ``add_calendar(user, name)``, ``add_event(user, body, calendar_id=)`` (as a
  POST would), ``seed_demo()``;
- inspection: ``events(user)``, ``calendars(user)``, and the counters
  ``creates`` (events actually created; a ``transactionId`` replay does not
  count), ``updates``, ``deletes``; plus the framework's request log.

Control surface: besides the shared ``/__sandbox/`` endpoints
(:mod:`sandbox.core`), ``POST /__sandbox/credentials`` -> 201 ``{"tenant_id",
"account", "client_id", "client_secret"}``: a new app registration in the demo
tenant that the token endpoint accepts from then on, with the demo tenant's id
and first mailbox (:meth:`FakeMicrosoft.mint_credentials`), so that every
``patchbay sandbox connect`` stores credentials of its own.

Throttling and outages are injected with :func:`graph_fault` (a
:class:`~sandbox.core.Fault` with Graph's body and ``Retry-After``), e.g.
``fake.inject(graph_fault(429, retry_after=3), path="/v1.0/*")``. No error
body ever contains a client secret or an access token.

Not modelled: recurrence expansion (``recurrence`` is stored and returned,
``type`` becomes ``seriesMaster``), all-day midnight rules, invitations,
attachments, free/busy, delta, other grants than client credentials.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from sandbox.core import SandboxRequest, json_response
from sandbox.microsoft.calendars import GraphCalendars
from sandbox.microsoft.common import (
    BOT_FRAMEWORK_RESOURCE,
    GRAPH_APP_ID,
    GRAPH_RESOURCE,
    IssuedToken,
)
from sandbox.microsoft.dates import WINDOWS_TIME_ZONES
from sandbox.microsoft.graph import graph_fault
from sandbox.microsoft.identity import DEFAULT_GRAPH_ROLES, IdentityPlatform

__all__ = [
    "BOT_FRAMEWORK_RESOURCE",
    "DEFAULT_GRAPH_ROLES",
    "DEMO_ACCOUNT",
    "DEMO_TENANT_ID",
    "GRAPH_APP_ID",
    "GRAPH_RESOURCE",
    "WINDOWS_TIME_ZONES",
    "FakeMicrosoft",
    "IssuedToken",
    "graph_fault",
]


DEMO_TENANT_ID = "7f3b1c2e-0d4a-4e8b-9c1f-5a6b7c8d9e0f"
"""The Entra tenant of :meth:`FakeMicrosoft.seed_demo` (``contoso.onmicrosoft.com``)."""
DEMO_ACCOUNT = "adele.vance@contoso.onmicrosoft.com"
"""The demo tenant's first mailbox: the account ``mint_credentials`` hands out."""


class FakeMicrosoft(IdentityPlatform, GraphCalendars):
    """The Microsoft identity platform token endpoint and Graph calendars, sharing token state.

    See the module docstring for the API. ``token_lifetime``: seconds an
    access token lives (``expires_in`` and ``ext_expires_in``).

    The identity platform comes first in the bases, so a known path with an
    unserved method is the token endpoint's to answer before Graph's.
    """

    def __init__(
        self,
        *,
        token_lifetime: float = 600.0,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        epoch_origin: float | None = None,
    ) -> None:
        super().__init__(
            token_lifetime=token_lifetime, clock=clock, sleep=sleep, epoch_origin=epoch_origin
        )

    control_endpoints = (
        (
            "POST",
            "/__sandbox/credentials",
            "mint a fresh credential set: a new app's client id and secret, the demo "
            "tenant and mailbox",
        ),
    )

    def control(self, req: SandboxRequest) -> httpx.Response | None:
        """``POST /__sandbox/credentials``: :meth:`mint_credentials` (see the module docstring)."""
        if (req.method, req.path) == ("POST", "/__sandbox/credentials"):
            return json_response(201, self.mint_credentials())
        return None

    def mint_credentials(self) -> dict[str, str]:
        """Register a new app in the demo tenant; return it with the tenant and its first mailbox.

        Returns ``{"tenant_id", "account", "client_id", "client_secret"}``; the
        token endpoint accepts the pair from now on (earlier pairs too). Loads
        the demo data first if it is not loaded.
        """
        with self._lock:
            if self._resolve_tenant(DEMO_TENANT_ID) is None:
                self.seed_demo()
            client_id, secret = str(uuid.uuid4()), f"sandbox-{secrets.token_urlsafe(24)}"
            self.add_app(DEMO_TENANT_ID, client_id, secret)
            return {
                "tenant_id": DEMO_TENANT_ID,
                "account": DEMO_ACCOUNT,
                "client_id": client_id,
                "client_secret": secret,
            }

    def seed_demo(self) -> dict[str, Any]:
        """Load a small demo tenant and return how to reach it.

        Returns ``{"tenant_id", "client_id", "client_secret", "users": [{"id",
        "userPrincipalName", ...}]}``.
        """
        with self._lock:
            tenant_id = DEMO_TENANT_ID
            client_id, secret = "5d1e9f0a-3b2c-4d5e-8f6a-7b8c9d0e1f2a", "patchbay-demo-secret"
            self.add_tenant(tenant_id, domains=("contoso.onmicrosoft.com",))
            self.add_app(tenant_id, client_id, secret)
            users = [
                self.add_user(
                    "2b7c9d1e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
                    DEMO_ACCOUNT,
                    display_name="Adele Vance",
                    tenant_id=tenant_id,
                ),
                self.add_user(
                    "8e9f0a1b-2c3d-4e5f-a6b7-c8d9e0f1a2b3",
                    "alex.wilber@contoso.onmicrosoft.com",
                    display_name="Alex Wilber",
                    tenant_id=tenant_id,
                ),
            ]
            return {
                "tenant_id": tenant_id,
                "client_id": client_id,
                "client_secret": secret,
                "users": users,
            }
