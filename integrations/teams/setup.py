"""What every Teams step reads before it calls Microsoft: the gates, in the reference's order.

The executor has already refused a tenant whose ``teams`` add-on is inactive
or whose install is not ``active`` (with the reference's two messages,
``catalog.availability.TeamsIntegrationAvailability``); :func:`load_setup`
checks them again (the step may race a disconnect) and then:

3. the integration names a Microsoft profile, a Teams app id and a package
   base URL (the metadata may be a JSON string) -> INTEGRATION_MISCONFIGURED;
4. the profile exists and is not archived -> INTEGRATION_MISCONFIGURED.

The bot's credentials (its app id and the ``teams_bot_password`` secret) are
checked only by the steps that use the bot (:func:`bot_credentials`).
Linked Microsoft accounts and conversation references are read here too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from pydantic import SecretStr
from sqlalchemy import select

from actionkit.context import ActionContext, TenantContext
from actionkit.errors import ActionError, IntegrationInactive, IntegrationMisconfigured
from catalog.availability import TEAMS_ADDON_INACTIVE, TEAMS_NOT_INSTALLED
from catalog.microsoft import DEFAULT_GRAPH_URL, DEFAULT_LOGIN_URL
from store import teams as stored
from store.connections import TEAMS_ADDON_KEY
from store.models import (
    MicrosoftProfile,
    TeamsConversationReference,
    TeamsIntegration,
    TenantAddon,
)
from store.types import json_object, utcnow

PROVIDER = "teams"
LABEL = "Microsoft Teams"
CONNECT = "patchbay connect teams --tenant {tenant}"

MISSING_SETUP = (
    "The Teams integration is missing its Microsoft profile, app ID, or package base URL."
)
PROFILE_UNUSABLE = "The Microsoft profile selected for Teams is missing or archived."
NO_CLIENT_SECRET = (
    "Selected Teams Microsoft profile is missing the client secret required for Graph delivery."
)
NO_BOT_CREDENTIALS = "Teams bot credentials are not configured"


@dataclass(frozen=True)
class Profile:
    """The Entra app whose Graph token sends activity notifications."""

    profile_id: uuid.UUID
    client_id: str
    aad_tenant: str
    client_secret_ref: str | None


@dataclass(frozen=True)
class TeamsSetup:
    """The tenant's Teams integration, past the gates."""

    app_id: str
    base_url: str
    profile: Profile
    capabilities: frozenset[str]
    bot_app_id: str | None
    bot_tenant: str
    login_url: str
    graph_url: str


def _misconfigured(message: str, tenant: str, **details: object) -> IntegrationMisconfigured:
    fix = CONNECT.format(tenant=tenant)
    return IntegrationMisconfigured(f"{message} (`{fix} --setting ...`)", details=dict(details))


def load_setup(ctx: ActionContext) -> TeamsSetup:
    """The tenant's Teams set-up, or the first gate it fails (see the module docstring)."""
    tenant = ctx.tenant_id
    with ctx.session() as session:
        addon = session.get(TenantAddon, (tenant, TEAMS_ADDON_KEY))
        if addon is None or (addon.expires_at is not None and addon.expires_at <= utcnow()):
            raise IntegrationInactive(TEAMS_ADDON_INACTIVE, details={"provider": PROVIDER})
        row = session.get(TeamsIntegration, tenant)
        if row is None or (row.install_status or "").strip() != "active":
            raise IntegrationInactive(TEAMS_NOT_INSTALLED, details={"provider": PROVIDER})
        metadata = json_object(row.package_metadata)
        base_url = metadata.get("baseUrl")
        app_id = (row.app_id or "").strip()
        if row.selected_profile_id is None or not app_id or not isinstance(base_url, str):
            missing = [
                name
                for name, absent in (
                    ("profile", row.selected_profile_id is None),
                    ("app_id", not app_id),
                    ("base_url", not isinstance(base_url, str) or not base_url.strip()),
                )
                if absent
            ]
            raise _misconfigured(MISSING_SETUP, tenant, missing=missing)
        if not base_url.strip():
            raise _misconfigured(MISSING_SETUP, tenant, missing=["base_url"])
        profile = session.get(MicrosoftProfile, (tenant, row.selected_profile_id))
        if profile is None or profile.is_archived:
            raise _misconfigured(PROFILE_UNUSABLE, tenant, profile_id=str(row.selected_profile_id))
        if not profile.client_id.strip() or not (profile.tenant_id_aad or "").strip():
            raise _misconfigured(
                "The Microsoft profile selected for Teams has no client id or Entra tenant.",
                tenant,
                profile_id=str(profile.profile_id),
            )
        return TeamsSetup(
            app_id=app_id,
            base_url=base_url.strip().rstrip("/"),
            profile=Profile(
                profile.profile_id,
                profile.client_id.strip(),
                (profile.tenant_id_aad or "").strip(),
                profile.client_secret_ref,
            ),
            capabilities=frozenset(row.enabled_capabilities or ()),
            bot_app_id=(row.bot_id or "").strip() or None,
            bot_tenant=_text(metadata.get("botTenantId")) or stored.DEFAULT_BOT_TENANT,
            login_url=_text(metadata.get("loginUrl")) or DEFAULT_LOGIN_URL,
            graph_url=_text(metadata.get("graphUrl")) or DEFAULT_GRAPH_URL,
        )


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def client_secret(ctx: TenantContext, profile: Profile) -> SecretStr:
    """The profile's client secret (the tenant secret its ``client_secret_ref`` names)."""
    name = profile.client_secret_ref or stored.CLIENT_SECRET_NAME
    value = ctx.secret(name)
    if value is None or not value.get_secret_value().strip():
        raise IntegrationMisconfigured(
            f"{NO_CLIENT_SECRET} Store it with `{CONNECT.format(tenant=ctx.tenant_id)} "
            f"--secret {name}=@file`.",
            details={"missing": name},
        )
    return value


def bot_credentials(ctx: TenantContext, setup: TeamsSetup) -> tuple[str, SecretStr]:
    """The bot's app id and password; INTEGRATION_MISCONFIGURED naming what is missing."""
    password = ctx.secret(stored.BOT_PASSWORD_NAME)
    missing = [
        what
        for what, absent in (
            ("the bot's app id (--setting bot_app_id=...)", setup.bot_app_id is None),
            (
                f"the secret {stored.BOT_PASSWORD_NAME}",
                password is None or not password.get_secret_value().strip(),
            ),
        )
        if absent
    ]
    if missing:
        raise IntegrationMisconfigured(
            f"{NO_BOT_CREDENTIALS}: {' and '.join(missing)} "
            f"(`{CONNECT.format(tenant=ctx.tenant_id)}`)",
            details={"missing": missing},
        )
    assert setup.bot_app_id is not None and password is not None
    return setup.bot_app_id, password


# -- linked accounts and conversation references ----------------------------------------


def linked_account(ctx: ActionContext, user_id: uuid.UUID, *, to: str) -> str:
    """The Entra object id linked to ``user_id``; USER_NOT_LINKED (``to``: notify/message)."""
    with ctx.session() as session:
        found = stored.linked_account(session, ctx.tenant_id, user_id)
    if found is None or not found.strip():
        raise ActionError(
            f"The target user has no linked Microsoft account, so Teams cannot {to} them. "
            f"Link one with `patchbay teams link-user --tenant {ctx.tenant_id} "
            f"--user {user_id} --microsoft-user <Entra object id>`.",
            code="USER_NOT_LINKED",
            details={"user_id": str(user_id)},
        )
    return found.strip()


@dataclass(frozen=True)
class Reference:
    """A conversation the bot can reach, and where (its service URL)."""

    conversation_id: str
    service_url: str
    tenant_id_aad: str | None
    team_id: str | None
    channel_id: str | None


def _reference(row: TeamsConversationReference) -> Reference:
    context = json_object(row.context)
    return Reference(
        conversation_id=row.conversation_id,
        service_url=row.service_url,
        tenant_id_aad=row.tenant_id_aad,
        team_id=_text(context.get("team_id")),
        channel_id=_text(context.get("channel_id")),
    )


def personal_conversation(ctx: ActionContext, microsoft_user_id: str) -> Reference:
    """The user's latest personal conversation with the bot; NO_CONVERSATION when none."""
    with ctx.session() as session:
        row = session.scalar(
            select(TeamsConversationReference)
            .where(
                TeamsConversationReference.tenant == ctx.tenant_id,
                TeamsConversationReference.microsoft_user_id == microsoft_user_id,
                TeamsConversationReference.conversation_type == "personal",
            )
            .order_by(TeamsConversationReference.last_activity_at.desc().nulls_last())
            .limit(1)
        )
        found = None if row is None else _reference(row)
    if found is None:
        raise ActionError(
            "The target user has never opened the Alga bot in Teams, so there is no "
            "conversation to message. Ask them to open the bot in Teams once (or record "
            f"the conversation with `patchbay teams reference add --tenant {ctx.tenant_id} ...`).",
            code="NO_CONVERSATION",
            details={"microsoft_user_id": microsoft_user_id},
        )
    return found


def channel_of(conversation_id: str) -> str:
    """A conversation id's channel: ``19:x@thread.tacv2;messageid=1`` -> ``19:x@thread.tacv2``."""
    return conversation_id.split(";", 1)[0]


def service_url_for_channel(ctx: ActionContext, channel_id: str) -> tuple[Reference, str]:
    """The reference whose service URL a post to ``channel_id`` uses, and why that one.

    ``"team"``: one recorded from the channel's own team (a reference in that
    channel, or in a team whose id or recorded channel is that channel);
    ``"tenant_latest"``: none is known, so the tenant's latest reference of any
    type (the reference's only rule). NO_SERVICE_URL when the tenant has none.
    """
    with ctx.session() as session:
        rows = list(
            session.scalars(
                select(TeamsConversationReference)
                .where(TeamsConversationReference.tenant == ctx.tenant_id)
                .order_by(TeamsConversationReference.last_activity_at.desc().nulls_last())
                .limit(500)
            )
        )
        refs = [_reference(r) for r in rows]
    if not refs:
        raise ActionError(
            "No Teams service URL is known for this tenant yet. Install the Alga app in a team "
            "(or have a user open the bot) so Teams sends one.",
            code="NO_SERVICE_URL",
        )
    teams_of_channel = {
        r.team_id
        for r in refs
        if r.team_id and channel_id in (r.channel_id, channel_of(r.conversation_id), r.team_id)
    }
    for ref in refs:
        in_channel = channel_of(ref.conversation_id) == channel_id or ref.channel_id == channel_id
        if in_channel or (ref.team_id is not None and ref.team_id in teams_of_channel):
            return ref, "team"
    return refs[0], "tenant_latest"
