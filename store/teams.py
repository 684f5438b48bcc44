"""A tenant's Teams set-up: the integration row, its Microsoft profile, linked users, references.

What ``patchbay connect teams`` stores (:func:`configure`) and reads back
(:func:`stored_settings`), as connection settings named by :data:`SETTINGS`:

- ``client_id``, ``aad_tenant``: the Microsoft profile (an Entra app
  registration, ``microsoft_profiles``) whose Graph token sends activity
  notifications; its client secret is the tenant secret the profile's
  ``client_secret_ref`` names (:data:`CLIENT_SECRET_NAME` for profiles made here);
- ``app_id``: the Teams app (its manifest id), for the activity feed's deep link;
- ``bot_app_id``, ``bot_tenant``: the bot (its Microsoft App ID, in
  ``teams_integrations.bot_id``) and the authority its Bot Framework tokens
  come from (``botframework.com``, multi-tenant, unless a single-tenant bot's
  Entra tenant); its password is the tenant secret :data:`BOT_PASSWORD_NAME`;
- ``login_url``, ``graph_url``: Microsoft's identity platform and Graph
  (another national cloud's, or the sandbox's fake);
- ``activity_notifications``: ``on|off``, the capability ``teams.notify_user`` needs.

The package base URL (the PSA's address the deep links open) is the
connection's URL, ``package_metadata.baseUrl``. Each user's Microsoft account
(:func:`link_user`) and the conversations the bot can reach
(:func:`record_reference`) are what ``patchbay teams link-user`` and
``patchbay teams reference add`` record, and the bot's inbound endpoint
will record from Teams itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import (
    MicrosoftProfile,
    TeamsConversationReference,
    TeamsIntegration,
    User,
    UserAuthAccount,
)
from store.types import json_object, utcnow

CLIENT_SECRET_NAME = "teams_client_secret"
BOT_PASSWORD_NAME = "teams_bot_password"
ACTIVITY_NOTIFICATIONS = "activity_notifications"
DEFAULT_BOT_TENANT = "botframework.com"
MICROSOFT_ACCOUNT_PROVIDER = "microsoft"
CONVERSATION_TYPES = ("personal", "groupChat", "channel")
ConversationType = Literal["personal", "groupChat", "channel"]

# Connection setting -> where it lives: ("profile", column), ("row", column) or
# ("metadata", key) of ``teams_integrations.package_metadata``.
_PLACES: dict[str, tuple[str, str]] = {
    "client_id": ("profile", "client_id"),
    "aad_tenant": ("profile", "tenant_id_aad"),
    "app_id": ("row", "app_id"),
    "bot_app_id": ("row", "bot_id"),
    "bot_tenant": ("metadata", "botTenantId"),
    "login_url": ("metadata", "loginUrl"),
    "graph_url": ("metadata", "graphUrl"),
}
SETTINGS: tuple[str, ...] = (*_PLACES, ACTIVITY_NOTIFICATIONS)


class TeamsSetupError(Exception):
    """A Teams set-up request was refused (unknown setting, user, bad reference)."""


def selected_profile(session: Session, row: TeamsIntegration) -> MicrosoftProfile | None:
    """The profile the integration selected (archived or not), or None."""
    if row.selected_profile_id is None:
        return None
    return session.get(MicrosoftProfile, (row.tenant, row.selected_profile_id))


def configure(
    session: Session, row: TeamsIntegration, settings: Mapping[str, str], *, created: bool
) -> None:
    """Apply ``patchbay connect teams --setting`` values to ``row`` and its profile.

    The profile is the selected one unless it is missing or archived: then a
    new one is made (display name "Teams", secret :data:`CLIENT_SECRET_NAME`)
    and selected. ``created``: the row is new, so ``activity_notifications``
    starts on unless given.
    """
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise TeamsSetupError(f"Teams has no setting {', '.join(unknown)}")
    profile = selected_profile(session, row)
    wants_profile = any(_PLACES[n][0] == "profile" for n in settings if n in _PLACES)
    if wants_profile and (profile is None or profile.is_archived):
        profile = MicrosoftProfile(
            tenant=row.tenant,
            profile_id=uuid.uuid4(),
            display_name="Teams",
            client_id=settings.get("client_id", profile.client_id if profile else ""),
            tenant_id_aad=profile.tenant_id_aad if profile else None,
            client_secret_ref=CLIENT_SECRET_NAME,
        )
        session.add(profile)
        session.flush()
        row.selected_profile_id = profile.profile_id
    metadata = json_object(row.package_metadata)
    for name, value in settings.items():
        if name == ACTIVITY_NOTIFICATIONS:
            continue
        place, column = _PLACES[name]
        if place == "profile":
            assert profile is not None
            setattr(profile, column, value)
        elif place == "row":
            setattr(row, column, value)
        else:
            metadata[column] = value
    row.package_metadata = metadata
    capabilities = [c for c in (row.enabled_capabilities or []) if c != ACTIVITY_NOTIFICATIONS]
    notify = settings.get(ACTIVITY_NOTIFICATIONS, "on" if created else None)
    if notify == "on" or (
        notify is None and ACTIVITY_NOTIFICATIONS in (row.enabled_capabilities or [])
    ):
        capabilities.append(ACTIVITY_NOTIFICATIONS)
    row.enabled_capabilities = capabilities


def stored_settings(session: Session, tenant: str) -> dict[str, str]:
    """The tenant's Teams set-up as connection settings (only those that hold a value)."""
    row = session.get(TeamsIntegration, tenant)
    if row is None:
        return {}
    profile = selected_profile(session, row)
    metadata = json_object(row.package_metadata)
    found: dict[str, str] = {}
    for name, (place, column) in _PLACES.items():
        if place == "profile":
            value = getattr(profile, column) if profile and not profile.is_archived else None
        elif place == "row":
            value = getattr(row, column)
        else:
            value = metadata.get(column)
        if isinstance(value, str) and value.strip():
            found[name] = value.strip()
    on = ACTIVITY_NOTIFICATIONS in (row.enabled_capabilities or [])
    found[ACTIVITY_NOTIFICATIONS] = "on" if on else "off"
    return found


def link_user(
    session: Session,
    tenant: str,
    user_id: uuid.UUID,
    microsoft_user_id: str,
    *,
    email: str | None = None,
) -> UserAuthAccount:
    """Record ``user_id``'s Microsoft account (its Entra object id), replacing an earlier one."""
    account = session.get(UserAuthAccount, (tenant, user_id, MICROSOFT_ACCOUNT_PROVIDER))
    if account is None:
        account = UserAuthAccount(
            tenant=tenant, user_id=user_id, provider=MICROSOFT_ACCOUNT_PROVIDER
        )
        session.add(account)
    account.provider_account_id = microsoft_user_id
    account.provider_email = email
    session.flush()
    return account


def unlink_user(session: Session, tenant: str, user_id: uuid.UUID) -> bool:
    """Forget ``user_id``'s Microsoft account; False when none was linked."""
    account = session.get(UserAuthAccount, (tenant, user_id, MICROSOFT_ACCOUNT_PROVIDER))
    if account is None:
        return False
    session.delete(account)
    session.flush()
    return True


def linked_account(session: Session, tenant: str, user_id: uuid.UUID) -> str | None:
    """The Entra object id linked to ``user_id`` (latest first), or None."""
    found: str | None = session.scalar(
        select(UserAuthAccount.provider_account_id)
        .where(
            UserAuthAccount.tenant == tenant,
            UserAuthAccount.user_id == user_id,
            UserAuthAccount.provider == MICROSOFT_ACCOUNT_PROVIDER,
        )
        .order_by(UserAuthAccount.updated_at.desc())
        .limit(1)
    )
    return found


def linked_users(session: Session, tenant: str) -> list[tuple[User, UserAuthAccount]]:
    """The tenant's users that have a Microsoft account linked, by username."""
    rows = session.execute(
        select(User, UserAuthAccount)
        .join(
            UserAuthAccount,
            (UserAuthAccount.tenant == User.tenant) & (UserAuthAccount.user_id == User.user_id),
        )
        .where(User.tenant == tenant, UserAuthAccount.provider == MICROSOFT_ACCOUNT_PROVIDER)
        .order_by(User.username)
    )
    return [(user, account) for user, account in rows]


def list_references(session: Session, tenant: str) -> list[TeamsConversationReference]:
    """The tenant's conversation references, latest activity first."""
    return list(
        session.scalars(
            select(TeamsConversationReference)
            .where(TeamsConversationReference.tenant == tenant)
            .order_by(
                TeamsConversationReference.last_activity_at.desc().nulls_last(),
                TeamsConversationReference.microsoft_user_id,
                TeamsConversationReference.conversation_id,
            )
        )
    )


def delete_reference(
    session: Session, tenant: str, *, microsoft_user_id: str, conversation_id: str
) -> bool:
    """Forget one conversation reference; False when there was none."""
    ref = session.get(TeamsConversationReference, (tenant, microsoft_user_id, conversation_id))
    if ref is None:
        return False
    session.delete(ref)
    session.flush()
    return True


def record_reference(
    session: Session,
    tenant: str,
    *,
    microsoft_user_id: str,
    conversation_id: str,
    conversation_type: str,
    service_url: str,
    tenant_id_aad: str | None = None,
    team_id: str | None = None,
    channel_id: str | None = None,
    at: datetime | None = None,
) -> TeamsConversationReference:
    """Insert or refresh one conversation reference (``service_url`` already trusted).

    ``team_id``/``channel_id`` (from an activity's ``channelData``) are kept
    in ``context``, so a channel post can find a service URL recorded from
    the channel's own team.
    """
    if conversation_type not in CONVERSATION_TYPES:
        raise TeamsSetupError(
            f"conversation type must be one of {', '.join(CONVERSATION_TYPES)}, "
            f"not {conversation_type!r}"
        )
    if not microsoft_user_id.strip() or not conversation_id.strip():
        raise TeamsSetupError("a conversation reference needs a user and a conversation id")
    ref = session.get(TeamsConversationReference, (tenant, microsoft_user_id, conversation_id))
    if ref is None:
        ref = TeamsConversationReference(
            tenant=tenant, microsoft_user_id=microsoft_user_id, conversation_id=conversation_id
        )
        session.add(ref)
    ref.conversation_type = conversation_type
    ref.service_url = service_url
    ref.tenant_id_aad = tenant_id_aad
    ref.channel_id_bot_framework = "msteams"
    ref.last_activity_at = at or utcnow()
    context = dict(ref.context or {})
    if team_id:
        context["team_id"] = team_id
    if channel_id:
        context["channel_id"] = channel_id
    ref.context = context
    session.flush()
    return ref
