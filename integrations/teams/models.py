"""Teams action inputs and outputs, and what goes on the wire (notification, activity, card).

Inputs accept exactly what their published JSON Schema allows
(``actionkit.inputs``): the reference's ids, fields and the category enum,
``send_dm``'s optional card (title, message, up to five links), and no
``service_url`` on ``post_to_channel`` (where the bot's token may go is never
a workflow's input).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from pydantic import BaseModel, Field, StringConstraints

from actionkit.inputs import Matches, NotBlank, StrictInput, StripBlank, Uuid

Category = Literal["assignment", "customer_reply", "approval_request", "escalation", "sla_risk"]
# The manifest's activity types (templateText in ``ACTIVITY_TEMPLATES``), per category.
ACTIVITY_TYPES: dict[str, str] = {
    "assignment": "assignmentCreated",
    "customer_reply": "customerReplyReceived",
    "approval_request": "approvalRequested",
    "escalation": "workEscalated",
    "sla_risk": "slaRiskDetected",
}
ACTIVITY_TEMPLATES: dict[str, str] = {
    "assignmentCreated": "{actor} assigned {item}",
    "customerReplyReceived": "{item} received a customer reply",
    "approvalRequested": "{actor} requested approval for {item}",
    "workEscalated": "{item} was escalated",
    "slaRiskDetected": "{item} is at SLA risk",
}
PERSONAL_TAB = "alga-psa-personal-tab"
# A Teams message may be about 28 KB with its markup; this leaves room for the envelope.
MESSAGE_MAX = 20_000
MAX_LINKS = 5
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
ADAPTIVE_CARD_VERSION = "1.4"
# http(s) with a host, no spaces (what a link in a notification or a card opens).
LINK_PATTERN = r"^https?://[^\s/?#@]+(?:[/?#]\S*)?$"
CHANNEL_PATTERN = r"^19:[^\s;/]+@thread\.(?:tacv2|skype)$"

Title = Annotated[str, StringConstraints(min_length=1, max_length=255), NotBlank, StripBlank]
Message = Annotated[
    str, StringConstraints(min_length=1, max_length=MESSAGE_MAX), NotBlank, StripBlank
]
Link = Annotated[
    str,
    StringConstraints(max_length=2048),
    Matches(LINK_PATTERN, "String should be an http or https URL with a host"),
]


class NotifyUserInput(StrictInput):
    """Whom to notify in their Teams activity feed, and with what."""

    user_id: Uuid = Field(
        description="The patchbay user to notify (their linked Microsoft account)."
    )
    title: Title = Field(description="What the notification is about (the feed item's text).")
    message: (
        Annotated[str, StringConstraints(min_length=1, max_length=4000), NotBlank, StripBlank]
        | None
    ) = Field(default=None, description="The preview line under the title; the title when absent.")
    link: Link | None = Field(
        default=None,
        description="What the notification opens (inside the app's personal tab); the PSA "
        "dashboard when absent.",
    )
    category: Category = Field(
        default="escalation",
        description="Which of the app's activity types: assignment, customer_reply, "
        "approval_request, escalation, sla_risk.",
    )


class NotifyUserOutput(BaseModel):
    """Graph accepted the notification."""

    delivered: bool = Field(description="Always true: Graph accepted it (204).")
    user_id: str = Field(description="The patchbay user notified.")
    activity_type: str = Field(description="The manifest activity type sent, e.g. workEscalated.")


class CardLink(StrictInput):
    """One button of the card: it opens ``url``."""

    title: Annotated[str, StringConstraints(min_length=1, max_length=80), NotBlank, StripBlank] = (
        Field(description="The button's label.")
    )
    url: Link = Field(description="What it opens (http or https).")


class Card(StrictInput):
    """An Adaptive Card sent with the message: a title, a text, up to five link buttons."""

    title: Title = Field(description="The card's heading.")
    message: Message | None = Field(
        default=None, description="The card's text; the step's message when absent."
    )
    links: list[CardLink] = Field(
        default_factory=list,
        max_length=MAX_LINKS,
        description=f"Up to {MAX_LINKS} buttons, each opening a URL (Action.OpenUrl).",
    )


class SendDmInput(StrictInput):
    """Whom to message in their personal chat with the bot."""

    user_id: Uuid = Field(description="The patchbay user to message (their linked account).")
    message: Message = Field(
        description="The message text (the whole message without a card; with one, the "
        "notification preview and the fallback)."
    )
    card: Card | None = Field(
        default=None, description="An optional Adaptive Card; text only when absent."
    )


class SendDmOutput(BaseModel):
    """The bot sent the message."""

    sent: bool = Field(description="Always true: the Bot Connector accepted it.")
    user_id: str = Field(description="The patchbay user messaged.")
    conversation_id: str = Field(description="The personal conversation it went to.")
    activity_id: str | None = Field(description="The message's id in Teams, when returned.")


class PostToChannelInput(StrictInput):
    """Which channel to start a thread in, and with what."""

    channel_id: Annotated[
        str,
        StringConstraints(max_length=255),
        Matches(CHANNEL_PATTERN, "String should be a Teams channel id, 19:...@thread.tacv2"),
    ] = Field(
        description="The channel's id, 19:...@thread.tacv2 (a team's General channel "
        "has the team's id)."
    )
    message: Message = Field(description="The post's text.")


class PostToChannelOutput(BaseModel):
    """The bot started a thread in the channel."""

    posted: bool = Field(description="Always true: the Bot Connector accepted the post.")
    channel_id: str = Field(description="The channel posted to.")
    conversation_id: str | None = Field(
        description="The new thread's conversation id (19:...;messageid=...), when returned."
    )
    service_url_source: Literal["team", "tenant_latest"] = Field(
        description="Which service URL was used: one recorded from the channel's team, or "
        "(none known) the tenant's latest."
    )


# -- wire ---------------------------------------------------------------------------------


def deep_link(app_id: str, web_url: str) -> str:
    """A Teams deep link to ``web_url`` in the app's personal tab (URLSearchParams encoding)."""
    query = urlencode(
        {
            "webUrl": web_url,
            "context": json.dumps(
                {"page": "my_work", "source": "notification"}, separators=(",", ":")
            ),
        }
    )
    return f"https://teams.microsoft.com/l/entity/{quote(app_id, safe='')}/{PERSONAL_TAB}?{query}"


def notification_body(inp: NotifyUserInput, *, app_id: str, base_url: str) -> dict[str, Any]:
    """Graph's documented parameters only (no ``recipient``: the user-scoped action refuses it)."""
    web_url = inp.link or f"{base_url}/msp/dashboard"
    return {
        "topic": {"source": "text", "value": inp.title, "webUrl": deep_link(app_id, web_url)},
        "activityType": ACTIVITY_TYPES[inp.category],
        "previewText": {"content": inp.message or inp.title},
        "teamsAppId": app_id,
        "templateParameters": [{"name": "item", "value": inp.title}],
    }


def adaptive_card(card: Card, message: str) -> dict[str, Any]:
    """The card as an attachment: title, text, one Action.OpenUrl per link."""
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION,
        "body": [
            {
                "type": "TextBlock",
                "text": card.title,
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
            },
            {"type": "TextBlock", "text": card.message or message, "wrap": True},
        ],
    }
    if card.links:
        content["actions"] = [
            {"type": "Action.OpenUrl", "title": link.title, "url": link.url} for link in card.links
        ]
    return {"contentType": ADAPTIVE_CARD, "content": content}


def message_activity(message: str, card: Card | None = None) -> dict[str, Any]:
    """A ``message`` activity: the text, and the card as an attachment when given."""
    activity: dict[str, Any] = {"type": "message", "text": message}
    if card is not None:
        activity["attachments"] = [adaptive_card(card, message)]
    return activity
