"""FakeMicrosoft: Microsoft's token endpoint, Graph (calendars, Teams notices), Bot Connector.

One app serves every host's paths, so one server (or one transport) stands in
for ``login.microsoftonline.com``, ``graph.microsoft.com`` *and* a Teams bot
service URL (``smba.trafficmanager.net/amer/``), and Graph and the connector
can check the tokens the token endpoint issued. Point a client's login base
URL, its Graph base URL and its service URL at the same address::

    with fake.serve() as server:
        login_base = server.base_url                 # + /{tenant}/oauth2/v2.0/token
        graph_base = server.base_url + "/v1.0"       # + /users/{id | upn}/events
        service_url = fake.service_url(server.base_url)  # <base>/amer/ + v3/conversations

Sources: the identity platform's "OAuth 2.0 client credentials flow" article
(request, success and error bodies), the AADSTS error codes, Graph's "error
responses" article, the ``event`` resource (``transactionId``) and the
create-event page, Graph's ``sendActivityNotification`` page and OpenAPI
description, the Bot Connector's Swagger. Where they are silent the
behaviour is marked *(choice)*; messages taken from answers Microsoft's
services gave (quoted in public issue threads and client code, not in the
docs) are marked *(observed)*.

The parts live in their own modules and meet in :class:`FakeMicrosoft`:

- :mod:`sandbox.microsoft.identity`: the token endpoint (``POST
  /{tenant}/oauth2/v2.0/token``), tenants, app registrations, tokens;
- :mod:`sandbox.microsoft.graph`: what every Graph call (``/v1.0/...``) goes
  through: request ids, bearer-token checks, Graph's error shape, :func:`graph_fault`;
- :mod:`sandbox.microsoft.calendars`: users, calendars and events;
- :mod:`sandbox.microsoft.teams`: Teams activity notifications to users
  (``sendActivityNotification``) and the Teams apps installed for them;
- :mod:`sandbox.microsoft.botconnector`: the Bot Connector (``{serviceUrl}/v3/
  conversations...``): teams, channels, personal chats, what bots sent,
  :func:`connector_fault`;
- :mod:`sandbox.microsoft.event_body`: what an event body may hold;
- :mod:`sandbox.microsoft.dates`: Graph's date-times and time zones;
- :mod:`sandbox.microsoft.common`: what all parts know (resources, the token record).

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
- Teams apps: ``install_teams_app(user, app_id, teams_app_id=, activity_types=)``,
  ``uninstall_teams_app(user, app_id, teams_app_id=)`` (``app_id``: the Entra
  app whose Graph token sends the notification);
- bots: ``add_bot(app_id, secret, tenant_id=)`` (an app registration in the
  ``botframework.com`` tenant, and in ``tenant_id`` if given, plus the bot's
  registration with the connector), ``register_bot(app_id)``,
  ``add_team(team_id, name=, channels=, bot_app_ids=)``, ``add_channel(team_id,
  channel_id, name=)``, ``install_bot_in_team(team_id, bot_app_id)``,
  ``remove_bot_from_team(team_id, bot_app_id)``,
  ``add_personal_conversation(aad_user_id, bot_app_id, tenant_id=,
  conversation_id=) -> "a:..."``, ``uninstall_bot_for_user(aad_user_id, bot_app_id)``;
- inspection: ``events(user)``, ``calendars(user)``, and the counters
  ``creates`` (events actually created; a ``transactionId`` replay does not
  count), ``updates``, ``deletes``; ``notifications(user=None)``,
  ``teams_apps(user)``; ``sent_activities(conversation_id=, channel_id=,
  user_id=)``, ``channel_messages(channel_id)``, ``personal_messages(aad_user_id)``;
  ``service_url(base_url)``; plus the framework's request log.

The demo (:meth:`FakeMicrosoft.seed_demo`)
------------------------------------------
The tenant ``contoso.onmicrosoft.com`` (:data:`DEMO_TENANT_ID`) with the app
``5d1e9f0a-...`` / ``patchbay-demo-secret`` and two users, Adele Vance
(:data:`DEMO_ACCOUNT`) and Alex Wilber. For Teams it also loads (ids in
:meth:`FakeMicrosoft.teams_demo`, which ``seed_demo`` returns under ``"teams"``):

- the Teams app :data:`DEMO_TEAMS_APP_ID` (backed by the demo app's Entra
  id, activity types :data:`DEMO_ACTIVITY_TYPES`) installed for Adele, not
  for Alex: notifying Alex is Graph's 403;
- the bot :data:`DEMO_BOT_APP_ID` / :data:`DEMO_BOT_SECRET`, multi-tenant
  (tokens from ``/botframework.com/oauth2/v2.0/token``) and also registered
  in the demo tenant (tokens from ``/{DEMO_TENANT_ID}/oauth2/v2.0/token``);
- the team "Contoso IT" (:data:`DEMO_TEAM_ID`, channels General = the team's
  id and "Service Desk" :data:`DEMO_CHANNEL_ID`) with the bot installed, and
  the team "Contoso Sales" (:data:`DEMO_TEAM_WITHOUT_BOT_ID`, channel
  General) without it: posting there is 403 ``BotNotInConversationRoster``;
- Adele's personal chat with the bot, :data:`DEMO_PERSONAL_CONVERSATION_ID`.

Control surface: besides the shared ``/__sandbox/`` endpoints
(:mod:`sandbox.core`), ``POST /__sandbox/credentials`` -> 201 ``{"tenant_id",
"account", "client_id", "client_secret"}``: a new app registration in the demo
tenant that the token endpoint accepts from then on, with the demo tenant's id
and first mailbox (:meth:`FakeMicrosoft.mint_credentials`), so that every
``patchbay sandbox connect`` stores credentials of its own. The demo Teams app
is installed for Adele under the new app too, so those credentials can notify her.

Throttling and outages are injected with :func:`graph_fault` (a
:class:`~sandbox.core.Fault` with Graph's body and ``Retry-After``), e.g.
``fake.inject(graph_fault(429, retry_after=3), path="/v1.0/*")``, and on the
connector with :func:`connector_fault`. No error body ever contains a client
secret or an access token.

Not modelled: recurrence expansion (``recurrence`` is stored and returned,
``type`` becomes ``seriesMaster``), all-day midnight rules, invitations,
attachments, free/busy, delta, other grants than client credentials; for
Teams, see :mod:`sandbox.microsoft.teams` and :mod:`sandbox.microsoft.botconnector`.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from sandbox.core import SandboxRequest, json_response
from sandbox.microsoft.botconnector import (
    BOT_FRAMEWORK_TENANT,
    BOT_FRAMEWORK_TENANT_ID,
    SERVICE_URL_REGION,
    BotConnector,
    connector_fault,
)
from sandbox.microsoft.common import (
    BOT_FRAMEWORK_RESOURCE,
    GRAPH_APP_ID,
    GRAPH_RESOURCE,
    IssuedToken,
)
from sandbox.microsoft.dates import WINDOWS_TIME_ZONES
from sandbox.microsoft.graph import graph_fault
from sandbox.microsoft.identity import DEFAULT_GRAPH_ROLES, IdentityPlatform
from sandbox.microsoft.teams import GraphTeamwork

__all__ = [
    "BOT_FRAMEWORK_RESOURCE",
    "BOT_FRAMEWORK_TENANT",
    "BOT_FRAMEWORK_TENANT_ID",
    "DEFAULT_GRAPH_ROLES",
    "DEMO_ACCOUNT",
    "DEMO_ACTIVITY_TYPES",
    "DEMO_BOT_APP_ID",
    "DEMO_BOT_SECRET",
    "DEMO_CHANNEL_ID",
    "DEMO_PERSONAL_CONVERSATION_ID",
    "DEMO_TEAMS_APP_ID",
    "DEMO_TEAM_ID",
    "DEMO_TEAM_WITHOUT_BOT_ID",
    "DEMO_TENANT_ID",
    "GRAPH_APP_ID",
    "GRAPH_RESOURCE",
    "SERVICE_URL_REGION",
    "WINDOWS_TIME_ZONES",
    "FakeMicrosoft",
    "IssuedToken",
    "connector_fault",
    "graph_fault",
]


DEMO_TENANT_ID = "7f3b1c2e-0d4a-4e8b-9c1f-5a6b7c8d9e0f"
"""The Entra tenant of :meth:`FakeMicrosoft.seed_demo` (``contoso.onmicrosoft.com``)."""
DEMO_ACCOUNT = "adele.vance@contoso.onmicrosoft.com"
"""The demo tenant's first mailbox: the account ``mint_credentials`` hands out."""
DEMO_TEAMS_APP_ID = "3f6a2b1c-9d8e-4f7a-b6c5-d4e3f2a1b0c9"
"""The demo's Teams app (its manifest id), installed for Adele."""
DEMO_ACTIVITY_TYPES = (
    "assignmentCreated",
    "customerReplyReceived",
    "approvalRequested",
    "workEscalated",
    "slaRiskDetected",
)
"""The activity types the demo Teams app's manifest declares."""
DEMO_BOT_APP_ID = "c4d5e6f7-8a9b-4c0d-9e1f-2a3b4c5d6e7f"
"""The demo bot's app (client) id; its Teams id is ``28:<this>``."""
DEMO_BOT_SECRET = "patchbay-demo-bot-secret"
"""The demo bot's client secret (its "app password")."""
DEMO_TEAM_ID = "19:b8e3a1d2c4f64e0a9d7c5b3a1f2e4d6c@thread.tacv2"
"""The team "Contoso IT" (also its General channel's id); the demo bot is installed in it."""
DEMO_CHANNEL_ID = "19:4d2f6b8a0c1e43f5a7b9d1c3e5f7a9b2@thread.tacv2"
"""The "Service Desk" channel of "Contoso IT"."""
DEMO_TEAM_WITHOUT_BOT_ID = "19:9c7e5a3b1d2f40e6b8a0c2d4e6f8a1b3@thread.tacv2"
"""The team "Contoso Sales" (and its General channel), where the demo bot is not installed."""
DEMO_PERSONAL_CONVERSATION_ID = (
    "a:1pBdEm0AdeLeVance_q7Xw2Rk9Lm4Tz8Hc5Jn3Vb6Yd1Fg0Ks2Pq7Wm9Er4Ty6Ui8Oa3Sd5Fh7Jk1Lz0Xc2Vb4Nm6"
)
"""Adele's personal chat with the demo bot."""

_DEMO_CLIENT_ID = "5d1e9f0a-3b2c-4d5e-8f6a-7b8c9d0e1f2a"
_ADELE_ID = "2b7c9d1e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
_ALEX_ID = "8e9f0a1b-2c3d-4e5f-a6b7-c8d9e0f1a2b3"


class FakeMicrosoft(IdentityPlatform, GraphTeamwork, BotConnector):
    """The identity platform's token endpoint, Graph and the Bot Connector, sharing token state.

    See the module docstring for the API. ``token_lifetime``: seconds an
    access token lives (``expires_in`` and ``ext_expires_in``).

    The identity platform comes first in the bases, so a known path with an
    unserved method is the token endpoint's to answer before Graph's; Graph
    (``/v1.0``) comes before the connector (``.../v3/...``).
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

    def add_bot(self, app_id: str, secret: str, *, tenant_id: str | None = None) -> None:
        """Register a bot: its app in the ``botframework.com`` tenant, and with the connector.

        The token endpoint then answers ``POST /botframework.com/oauth2/v2.0/token``
        for it (the Bot Framework's multi-tenant authority); with
        ``tenant_id`` the app is also registered there (a single-tenant bot's
        authority). Each registration has its own secret state
        (:meth:`expire_client_secret` takes the tenant).
        """
        with self._lock:
            self.add_tenant(BOT_FRAMEWORK_TENANT_ID, domains=(BOT_FRAMEWORK_TENANT,))
            self.add_app(BOT_FRAMEWORK_TENANT_ID, app_id, secret, graph_roles=())
            if tenant_id is not None:
                self.add_app(tenant_id, app_id, secret, graph_roles=())
            self.register_bot(app_id)

    def mint_credentials(self) -> dict[str, str]:
        """Register a new app in the demo tenant; return it with the tenant and its first mailbox.

        Returns ``{"tenant_id", "account", "client_id", "client_secret"}``; the
        token endpoint accepts the pair from now on (earlier pairs too), and
        the demo Teams app is installed for the mailbox under the new app.
        Loads the demo data first if it is not loaded.
        """
        with self._lock:
            if self._resolve_tenant(DEMO_TENANT_ID) is None:
                self.seed_demo()
            client_id, secret = str(uuid.uuid4()), f"sandbox-{secrets.token_urlsafe(24)}"
            self.add_app(DEMO_TENANT_ID, client_id, secret)
            self.install_teams_app(
                DEMO_ACCOUNT,
                client_id,
                teams_app_id=DEMO_TEAMS_APP_ID,
                activity_types=DEMO_ACTIVITY_TYPES,
            )
            return {
                "tenant_id": DEMO_TENANT_ID,
                "account": DEMO_ACCOUNT,
                "client_id": client_id,
                "client_secret": secret,
            }

    def seed_demo(self) -> dict[str, Any]:
        """Load a small demo tenant and return how to reach it.

        Returns ``{"tenant_id", "client_id", "client_secret", "users": [{"id",
        "userPrincipalName", ...}], "teams"}``: the Teams part it loads (see the
        module docstring), as :meth:`teams_demo` describes it.
        """
        with self._lock:
            tenant_id = DEMO_TENANT_ID
            client_id, secret = _DEMO_CLIENT_ID, "patchbay-demo-secret"
            self.add_tenant(tenant_id, domains=("contoso.onmicrosoft.com",))
            self.add_app(tenant_id, client_id, secret)
            users = [
                self.add_user(
                    _ADELE_ID,
                    DEMO_ACCOUNT,
                    display_name="Adele Vance",
                    tenant_id=tenant_id,
                ),
                self.add_user(
                    _ALEX_ID,
                    "alex.wilber@contoso.onmicrosoft.com",
                    display_name="Alex Wilber",
                    tenant_id=tenant_id,
                ),
            ]
            self._seed_demo_teams()
            return {
                "tenant_id": tenant_id,
                "client_id": client_id,
                "client_secret": secret,
                "users": users,
                "teams": self.teams_demo(),
            }

    def _seed_demo_teams(self) -> None:
        self.install_teams_app(
            _ADELE_ID,
            _DEMO_CLIENT_ID,
            teams_app_id=DEMO_TEAMS_APP_ID,
            activity_types=DEMO_ACTIVITY_TYPES,
        )
        self.add_bot(DEMO_BOT_APP_ID, DEMO_BOT_SECRET, tenant_id=DEMO_TENANT_ID)
        self.add_team(
            DEMO_TEAM_ID,
            name="Contoso IT",
            channels={DEMO_TEAM_ID: "General", DEMO_CHANNEL_ID: "Service Desk"},
            bot_app_ids=[DEMO_BOT_APP_ID],
        )
        self.add_team(
            DEMO_TEAM_WITHOUT_BOT_ID,
            name="Contoso Sales",
            channels={DEMO_TEAM_WITHOUT_BOT_ID: "General"},
        )
        self.add_personal_conversation(
            _ADELE_ID,
            DEMO_BOT_APP_ID,
            tenant_id=DEMO_TENANT_ID,
            conversation_id=DEMO_PERSONAL_CONVERSATION_ID,
        )

    def teams_demo(self) -> dict[str, Any]:
        """What :meth:`seed_demo` loads for Teams (loading the demo first if it is not loaded).

        Returns ``{"teams_app_id", "activity_types", "app_installed_for": [user
        ids], "app_not_installed_for": [user ids], "bot": {"app_id",
        "client_secret", "tenant_id", "authority"}, "service_url_path", "teams":
        [{"id", "name", "channels": [{"id", "name"}], "bot_installed"}],
        "channel_id", "personal_conversations": [{"user_id", "conversation_id"}]}``.
        ``bot.authority`` is the multi-tenant one (``botframework.com``);
        ``bot.tenant_id`` also issues the bot's tokens. The service URL is
        the served base URL plus ``service_url_path`` (:meth:`service_url`).
        """
        with self._lock:
            if self._resolve_tenant(DEMO_TENANT_ID) is None:
                self.seed_demo()
            teams = []
            for team_id in (DEMO_TEAM_ID, DEMO_TEAM_WITHOUT_BOT_ID):
                team = self._team(team_id)
                teams.append(
                    {
                        "id": team.team_id,
                        "name": team.name,
                        "channels": [{"id": c, "name": n} for c, n in team.channels.items()],
                        "bot_installed": DEMO_BOT_APP_ID.lower() in team.bots,
                    }
                )
            return {
                "teams_app_id": DEMO_TEAMS_APP_ID,
                "activity_types": list(DEMO_ACTIVITY_TYPES),
                "app_installed_for": [_ADELE_ID],
                "app_not_installed_for": [_ALEX_ID],
                "bot": {
                    "app_id": DEMO_BOT_APP_ID,
                    "client_secret": DEMO_BOT_SECRET,
                    "tenant_id": DEMO_TENANT_ID,
                    "authority": BOT_FRAMEWORK_TENANT,
                },
                "service_url_path": f"/{SERVICE_URL_REGION}/",
                "teams": teams,
                "channel_id": DEMO_CHANNEL_ID,
                "personal_conversations": [
                    {"user_id": _ADELE_ID, "conversation_id": DEMO_PERSONAL_CONVERSATION_ID}
                ],
            }
