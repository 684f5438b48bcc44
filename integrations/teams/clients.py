"""Teams' two APIs: Graph's activity feed and the Bot Connector, each with its cached token.

Tokens come from the identity platform's client-credentials grant
(``catalog.microsoft.MicrosoftLogin``) and are cached in tenant secrets until
shortly before they expire, refreshes coalescing across workers
(``catalog.microsoft.cached_token``):

- Graph (``teams_graph_token``): the tenant's Microsoft profile app, at its
  own Entra tenant, scope ``https://graph.microsoft.com/.default``;
- Bot Framework (``teams_bot_token``): the bot's app at its authority
  (``botframework.com`` for a multi-tenant bot), scope
  ``https://api.botframework.com/.default``.

Each cached token is bound to the app and authority that got it, so a
tenant that changes its profile or bot does not keep using the old token.
A 401 from either API replaces the refused token once and replays the
request (``VendorClient.request``): a 401 means nothing was done.

Every request counts against one ``microsoft`` throttle key per tenant.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from actionkit.context import ActionContext, RequestGate, TenantContext
from actionkit.errors import ActionError, ActionFailure, Conflict, NotFound
from actionkit.http import error_for_response, vendor_message
from actionkit.outbound import OutboundPolicy
from catalog.microsoft import (
    BOT_FRAMEWORK_SCOPE,
    GRAPH_HOSTS,
    GRAPH_SCOPE,
    LOGIN_HOSTS,
    MICROSOFT,
    MicrosoftBearerClient,
    MicrosoftLogin,
    cached_token,
)
from integrations.teams.service_urls import SERVICE_URL_HOSTS
from integrations.teams.setup import TeamsSetup, bot_credentials, client_secret

GRAPH_TOKEN_NAME = "teams_graph_token"
BOT_TOKEN_NAME = "teams_bot_token"
TokenSource = Callable[[bool], str]


class TeamsGraph(MicrosoftBearerClient):
    """Graph's ``sendActivityNotification`` for one user."""

    vendor = "Microsoft Graph"

    def send_activity_notification(self, aad_user_id: str, body: dict[str, Any]) -> None:
        """``POST /v1.0/users/{id}/teamwork/sendActivityNotification`` (Graph answers 204)."""
        self.request(
            "POST",
            f"/v1.0/users/{quote(aad_user_id, safe='')}/teamwork/sendActivityNotification",
            json=body,
        )

    def error_for(self, response: httpx.Response, *, mutating: bool = False) -> ActionFailure:
        """403 (app not installed for the recipient), 404 and 409 named with what to do."""
        status = response.status_code
        if status not in (403, 404, 409):
            return super().error_for(response, mutating=mutating)
        base = error_for_response(response, self.vendor, mutating=mutating)
        said = vendor_message(response)
        if status == 403:
            return ActionError(
                "Microsoft Graph refused the notification: the Teams app is not installed for "
                "the recipient (or the profile's app is not the app's Entra app). Install the "
                f"Teams app for that user, then run the step again. Graph said: {said}",
                code="APP_NOT_INSTALLED",
                vendor=base.vendor,
            )
        if status == 404:
            return NotFound(
                "Microsoft Graph could not find the recipient, or the Teams app is not "
                f"installed for them. Graph said: {said}",
                vendor=base.vendor,
            )
        return Conflict(
            "Microsoft Graph found more than one Teams app for this app registration installed "
            f"for the recipient; check the integration's app id. Graph said: {said}",
            vendor=base.vendor,
        )


class BotConnector(MicrosoftBearerClient):
    """The Bot Connector at one trusted service URL (``integrations.teams.service_urls``)."""

    vendor = "Bot Framework"

    def send_to_conversation(self, conversation_id: str, activity: dict[str, Any]) -> str | None:
        """``POST /v3/conversations/{id}/activities``; the new activity's id."""
        answer = self.request_json(
            "POST", f"/v3/conversations/{quote(conversation_id, safe='')}/activities", json=activity
        )
        found = answer.get("id") if isinstance(answer, dict) else None
        return found if isinstance(found, str) else None

    def create_conversation(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """``POST /v3/conversations``; the ConversationResourceResponse (id, activityId)."""
        answer = self.request_json("POST", "/v3/conversations", json=parameters)
        return answer if isinstance(answer, dict) else {}


# -- tokens -------------------------------------------------------------------------------


def _login(
    ctx: TenantContext, setup: TeamsSetup, *, gate: RequestGate | None = None
) -> MicrosoftLogin:
    return MicrosoftLogin(
        setup.login_url,
        policy=ctx.outbound(LOGIN_HOSTS),
        transport=ctx.transport(MICROSOFT),
        gate=gate,
    )


def graph_token_source(
    ctx: TenantContext, setup: TeamsSetup, *, gate: RequestGate | None = None
) -> TokenSource:
    """The profile app's Graph token, cached (``force``: replace a refused one)."""
    profile = setup.profile
    secret = client_secret(ctx, profile)

    def fetch() -> dict[str, Any]:
        with _login(ctx, setup, gate=gate) as login:
            return login.client_credentials(
                profile.aad_tenant,
                profile.client_id,
                secret,
                scope=GRAPH_SCOPE,
                refused=(
                    "the Teams profile's app credentials; check its client id, Entra tenant "
                    f"and the secret {profile.client_secret_ref}"
                ),
            )

    owner = f"{setup.login_url}|{profile.aad_tenant}|{profile.client_id}"

    def token(force: bool) -> str:
        return cached_token(ctx, GRAPH_TOKEN_NAME, fetch, force=force, owner=owner)

    return token


def bot_token_source(
    ctx: TenantContext, setup: TeamsSetup, *, gate: RequestGate | None = None
) -> TokenSource:
    """The bot's Bot Framework token, cached (``force``: replace a refused one)."""
    app_id, password = bot_credentials(ctx, setup)

    def fetch() -> dict[str, Any]:
        with _login(ctx, setup, gate=gate) as login:
            return login.client_credentials(
                setup.bot_tenant,
                app_id,
                password,
                scope=BOT_FRAMEWORK_SCOPE,
                refused=(
                    "the Teams bot's credentials; check bot_app_id, bot_tenant and the "
                    "secret teams_bot_password"
                ),
            )

    owner = f"{setup.login_url}|{setup.bot_tenant}|{app_id}"

    def token(force: bool) -> str:
        return cached_token(ctx, BOT_TOKEN_NAME, fetch, force=force, owner=owner)

    return token


def graph_client(ctx: ActionContext, setup: TeamsSetup) -> TeamsGraph:
    """Graph for the step, gated by ``ctx``."""
    return TeamsGraph(
        setup.graph_url,
        graph_token_source(ctx, setup, gate=ctx.gate),
        policy=ctx.outbound(GRAPH_HOSTS),
        transport=ctx.transport(MICROSOFT),
        gate=ctx.gate,
    )


def bot_client(ctx: ActionContext, setup: TeamsSetup, service_url: str) -> BotConnector:
    """The Bot Connector at ``service_url`` (already trusted), gated by ``ctx``."""
    policy: OutboundPolicy = ctx.outbound(SERVICE_URL_HOSTS)
    return BotConnector(
        service_url,
        bot_token_source(ctx, setup, gate=ctx.gate),
        policy=policy,
        transport=ctx.transport(MICROSOFT),
        gate=ctx.gate,
    )
