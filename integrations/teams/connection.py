"""The Teams connection: its settings, its check, and how to connect to the sandbox's fake.

``patchbay connect teams`` takes the set-up as settings (``store.teams``):
the profile app (``client_id``, ``aad_tenant``, secret ``teams_client_secret``),
the Teams app (``app_id``), the bot (``bot_app_id``, ``bot_tenant``, secret
``teams_bot_password``), Microsoft's hosts (``login_url``, ``graph_url``) and
``activity_notifications``; ``--url`` is the package base URL, the PSA
address the notifications' deep links open (nothing is ever sent there).

The check (:func:`check_connection`) proves what a step will need: the
settings are complete, and both tokens can be obtained (Graph's for the
profile app, the Bot Framework's for the bot). It sends no notification and
no message: whether the app is installed for a user, or the bot in a team,
is only known when a step tries.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from actionkit.checks import CheckContext, CheckFailed, check_failure
from actionkit.errors import ActionFailure, IntegrationMisconfigured
from actionkit.outbound import OutboundURLRefused
from catalog.microsoft import (
    BOT_FRAMEWORK_SCOPE,
    DEFAULT_GRAPH_URL,
    DEFAULT_LOGIN_URL,
    GRAPH_HOSTS,
    GRAPH_SCOPE,
    LOGIN_HOSTS,
    MICROSOFT,
    MicrosoftLogin,
)
from catalog.vendors import VendorSetting
from integrations.teams.setup import Profile, TeamsSetup, bot_credentials, client_secret
from store import teams as stored

GUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
# An Entra tenant: its id, or a verified domain (contoso.onmicrosoft.com).
AAD_TENANT = rf"{GUID}|[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{{1,63}})+"
URL = r"https?://[^\s/?#@]+/?"

SETTINGS = (
    VendorSetting(
        "client_id",
        pattern=GUID,
        example="00000000-0000-0000-0000-000000000000",
        help="the Entra application (client) id of the Microsoft profile",
        required=True,
    ),
    VendorSetting(
        "aad_tenant",
        pattern=AAD_TENANT,
        example="contoso.onmicrosoft.com",
        help="the Entra tenant (id or domain) of the Microsoft profile",
        required=True,
    ),
    VendorSetting(
        "app_id",
        pattern=GUID,
        example="00000000-0000-0000-0000-000000000000",
        help="the Teams app's id (its manifest id)",
        required=True,
    ),
    VendorSetting(
        "bot_app_id",
        pattern=GUID,
        example="00000000-0000-0000-0000-000000000000",
        help="the bot's Microsoft App ID",
        required=True,
    ),
    VendorSetting(
        "bot_tenant",
        pattern=AAD_TENANT,
        example=stored.DEFAULT_BOT_TENANT,
        help="the authority of the bot's tokens (botframework.com: a multi-tenant bot)",
    ),
    VendorSetting(
        "login_url",
        pattern=URL,
        example=DEFAULT_LOGIN_URL,
        help="the identity platform's URL (another national cloud's)",
    ),
    VendorSetting(
        "graph_url",
        pattern=URL,
        example=DEFAULT_GRAPH_URL,
        help="Microsoft Graph's URL (another national cloud's)",
    ),
    VendorSetting(
        stored.ACTIVITY_NOTIFICATIONS,
        choices=("on", "off"),
        default="on",
        help="whether teams.notify_user may send activity notifications",
    ),
)


def setup_from(ctx: CheckContext) -> TeamsSetup:
    """The set-up a check proves: the connection's settings (given over stored) and URL."""
    settings: Mapping[str, Any] = ctx.settings
    missing = [s.name for s in SETTINGS if s.required and not settings.get(s.name)]
    base_url = ctx.instance_url
    if not base_url:
        missing.append("the package base URL (--url)")
    if missing or not base_url:
        raise CheckFailed(
            "http_error",
            f"the Teams set-up is missing {', '.join(missing)}; give them to "
            f"patchbay connect teams --tenant {ctx.tenant_id}",
        )

    def text(name: str, default: str) -> str:
        value = settings.get(name)
        return value.strip() if isinstance(value, str) and value.strip() else default

    return TeamsSetup(
        app_id=text("app_id", ""),
        base_url=base_url.rstrip("/"),
        profile=Profile(
            uuid.UUID(int=0),
            text("client_id", ""),
            text("aad_tenant", ""),
            stored.CLIENT_SECRET_NAME,
        ),
        capabilities=frozenset(),
        bot_app_id=text("bot_app_id", ""),
        bot_tenant=text("bot_tenant", stored.DEFAULT_BOT_TENANT),
        login_url=text("login_url", DEFAULT_LOGIN_URL),
        graph_url=text("graph_url", DEFAULT_GRAPH_URL),
    )


def check_connection(ctx: CheckContext) -> str:
    """Both tokens obtained and the set-up complete; ``CheckFailed`` naming what is not."""
    setup = setup_from(ctx)
    profile = setup.profile
    try:
        secret = client_secret(ctx, profile)
        bot_id, password = bot_credentials(ctx, setup)
    except IntegrationMisconfigured as exc:
        raise CheckFailed("missing_secret", exc.message) from None
    shown = setup.login_url
    try:
        # No request goes to Graph here: its URL is checked, its token obtained below.
        ctx.outbound(GRAPH_HOSTS).check_url(setup.graph_url)
    except OutboundURLRefused as exc:
        raise CheckFailed(
            "refused", f"refusing Graph at {setup.graph_url}: {exc.message}"
        ) from None
    try:
        with MicrosoftLogin(
            setup.login_url, policy=ctx.outbound(LOGIN_HOSTS), transport=ctx.transport(MICROSOFT)
        ) as login:
            login.client_credentials(
                profile.aad_tenant,
                profile.client_id,
                secret,
                scope=GRAPH_SCOPE,
                refused=(
                    f"the profile app {profile.client_id} in {profile.aad_tenant}; check "
                    f"client_id, aad_tenant and the secret {stored.CLIENT_SECRET_NAME}"
                ),
            )
            login.client_credentials(
                setup.bot_tenant,
                bot_id,
                password,
                scope=BOT_FRAMEWORK_SCOPE,
                refused=(
                    f"the bot {bot_id} at {setup.bot_tenant}; check bot_app_id, bot_tenant "
                    f"and the secret {stored.BOT_PASSWORD_NAME}"
                ),
            )
    except IntegrationMisconfigured as exc:
        if exc.details and "refused" in exc.details:
            raise CheckFailed("refused", exc.message) from None
        raise CheckFailed("rejected", exc.message) from None
    except ActionFailure as exc:
        raise check_failure(exc, vendor="Microsoft identity platform", url=shown) from None
    return (
        f"Graph token obtained for the profile app {profile.client_id} ({profile.aad_tenant}) "
        f"and a Bot Framework token for the bot {bot_id} ({setup.bot_tenant}); Teams app "
        f"{setup.app_id}. Whether the app is installed for a user, or the bot in a team, is "
        "known only when a step tries"
    )
