"""The Teams actions: notify a user's activity feed, message them, post to a channel.

Each handler runs the gates (``integrations.teams.setup``) in the
reference's order, then its own checks, then one request to Microsoft. All
three are side-effectful and none has a read-back: Graph and the Bot
Connector offer no way to ask whether a notification or message was
delivered, so a lost answer after sending is OUTCOME_UNKNOWN, never a second
message.
"""

from __future__ import annotations

from typing import Any

from actionkit.context import ActionContext
from actionkit.errors import ActionError, ActionFailure
from actionkit.spec import ActionSpec, ActionUI
from catalog.actions import ActionRegistry
from integrations.teams.clients import bot_client, graph_client
from integrations.teams.models import (
    ACTIVITY_TYPES,
    NotifyUserInput,
    NotifyUserOutput,
    PostToChannelInput,
    PostToChannelOutput,
    SendDmInput,
    SendDmOutput,
    message_activity,
    notification_body,
)
from integrations.teams.service_urls import SERVICE_URL_HOSTS, trusted_service_url
from integrations.teams.setup import (
    linked_account,
    load_setup,
    personal_conversation,
    service_url_for_channel,
)
from store.teams import ACTIVITY_NOTIFICATIONS

__all__ = ["ACTIONS", "NOTIFY_USER", "register_actions"]

ICON = "teams"
# The designer's category of the three actions (the reference's, not the tile's label).
CATEGORY = "Teams"
APP_NOT_IN_TEAM = (
    "Teams rejected the post: the Alga app is not installed in that team, or the channel ID "
    "is wrong. Install the app in the team and use the channel's 19:…@thread.tacv2 ID."
)


def _trusted(ctx: ActionContext, service_url: str) -> str:
    """``service_url`` if the bot's token may go there (loopback only in sandbox mode)."""
    return trusted_service_url(service_url, sandbox=ctx.outbound(SERVICE_URL_HOSTS).sandbox)


def notify_user(inp: NotifyUserInput, ctx: ActionContext) -> NotifyUserOutput:
    """Graph ``sendActivityNotification`` to the user's linked Microsoft account."""
    setup = load_setup(ctx)
    if ACTIVITY_NOTIFICATIONS not in setup.capabilities:
        raise ActionError(
            "Activity notifications are disabled for the Teams integration. Turn them on with "
            f"`patchbay connect teams --tenant {ctx.tenant_id} --setting "
            "activity_notifications=on`.",
            code="CAPABILITY_DISABLED",
        )
    aad_user = linked_account(ctx, inp.user_id, to="notify")
    body = notification_body(inp, app_id=setup.app_id, base_url=setup.base_url)
    with graph_client(ctx, setup) as graph:
        graph.send_activity_notification(aad_user, body)
    return NotifyUserOutput(
        delivered=True, user_id=str(inp.user_id), activity_type=ACTIVITY_TYPES[inp.category]
    )


def send_dm(inp: SendDmInput, ctx: ActionContext) -> SendDmOutput:
    """A proactive message (text, and the card when given) in the user's chat with the bot."""
    setup = load_setup(ctx)
    aad_user = linked_account(ctx, inp.user_id, to="message")
    ref = personal_conversation(ctx, aad_user)
    service_url = _trusted(ctx, ref.service_url)
    with bot_client(ctx, setup, service_url) as bot:
        try:
            activity_id = bot.send_to_conversation(
                ref.conversation_id, message_activity(inp.message, inp.card)
            )
        except ActionFailure as exc:
            raise _dm_refused(exc, ref.conversation_id) from None
    return SendDmOutput(
        sent=True,
        user_id=str(inp.user_id),
        conversation_id=ref.conversation_id,
        activity_id=activity_id,
    )


def _dm_refused(exc: ActionFailure, conversation_id: str) -> ActionFailure:
    """A 403 or 404 from the connector: the user's chat with the bot is gone; else ``exc``."""
    if exc.vendor is None or exc.vendor.status not in (403, 404):
        return exc
    return ActionError(
        "Teams refused the message: the user's conversation with the bot is gone (they "
        "removed the app, or the conversation id is stale). Ask them to open the bot in "
        f"Teams again. Teams said: {exc.vendor.message}",
        code="NO_CONVERSATION",
        vendor=exc.vendor,
        details={"conversation_id": conversation_id},
    )


def post_to_channel(inp: PostToChannelInput, ctx: ActionContext) -> PostToChannelOutput:
    """Start a thread in the channel through the Bot Connector (create conversation)."""
    setup = load_setup(ctx)
    ref, source = service_url_for_channel(ctx, inp.channel_id)
    service_url = _trusted(ctx, ref.service_url)
    tenant_id = ref.tenant_id_aad or setup.profile.aad_tenant
    with bot_client(ctx, setup, service_url) as bot:
        try:
            created = bot.create_conversation(
                {
                    "isGroup": True,
                    "channelData": {
                        "channel": {"id": inp.channel_id},
                        "tenant": {"id": tenant_id},
                    },
                    "bot": {"id": f"28:{setup.bot_app_id}"},
                    "tenantId": tenant_id,
                    "activity": message_activity(inp.message),
                }
            )
        except ActionFailure as exc:
            if exc.vendor is None or exc.vendor.status not in (403, 404):
                raise
            raise ActionError(
                f"{APP_NOT_IN_TEAM} Teams said: {exc.vendor.message}",
                code="APP_NOT_IN_TEAM",
                vendor=exc.vendor,
                details={"channel_id": inp.channel_id},
            ) from None
    conversation_id = created.get("id")
    return PostToChannelOutput(
        posted=True,
        channel_id=inp.channel_id,
        conversation_id=conversation_id if isinstance(conversation_id, str) else None,
        service_url_source=source,
    )


def _ui(label: str, description: str) -> ActionUI:
    return ActionUI(label=label, description=description, category=CATEGORY, icon=ICON)


NOTIFY_USER = ActionSpec(
    id="teams.notify_user",
    version=1,
    input_model=NotifyUserInput,
    output_model=NotifyUserOutput,
    handler=notify_user,
    side_effectful=True,
    ui=_ui(
        "Notify user",
        "Send a Teams activity feed notification to a user with a linked Microsoft account.",
    ),
)
SEND_DM = ActionSpec(
    id="teams.send_dm",
    version=1,
    input_model=SendDmInput,
    output_model=SendDmOutput,
    handler=send_dm,
    side_effectful=True,
    ui=_ui(
        "Send direct message",
        "Message a user in their Teams chat with the bot, optionally with an Adaptive Card.",
    ),
)
POST_TO_CHANNEL = ActionSpec(
    id="teams.post_to_channel",
    version=1,
    input_model=PostToChannelInput,
    output_model=PostToChannelOutput,
    handler=post_to_channel,
    side_effectful=True,
    ui=_ui("Post to channel", "Start a thread in a Teams channel where the bot is installed."),
)

ACTIONS: tuple[ActionSpec[Any, Any], ...] = (NOTIFY_USER, SEND_DM, POST_TO_CHANNEL)


def register_actions(actions: ActionRegistry) -> None:
    """Register the Teams actions."""
    for spec in ACTIONS:
        actions.register(spec)
