"""``teams.send_dm`` against the fake Bot Connector: text, an Adaptive Card, a chat that is gone.

The message goes to the user's latest personal conversation with the bot
(``POST {serviceUrl}/v3/conversations/{id}/activities``); with a card, the
activity carries it as an Adaptive Card attachment.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sandbox.microsoft import DEMO_PERSONAL_CONVERSATION_ID
from tests.integrations.teams.conftest import (
    ACTIVITIES_PATH,
    BOT_APP_ID,
    TeamsHarness,
    both_backends,
)

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


def check_adaptive_card(attachment: dict[str, Any]) -> dict[str, Any]:
    """``attachment`` has the Adaptive Card shape Teams renders; its content."""
    assert attachment["contentType"] == ADAPTIVE_CARD
    content = attachment["content"]
    assert isinstance(content, dict)
    assert content["type"] == "AdaptiveCard"
    assert re.fullmatch(r"\d+\.\d+", content["version"])
    body = content["body"]
    assert isinstance(body, list) and body
    for block in body:
        assert block["type"] == "TextBlock"
        assert isinstance(block["text"], str) and block["text"]
    actions = content.get("actions", [])
    assert len(actions) <= 5
    for action in actions:
        assert set(action) == {"type", "title", "url"}
        assert action["type"] == "Action.OpenUrl"
        assert isinstance(action["title"], str) and action["title"]
        assert re.match(r"^https?://", action["url"])
    return content


@both_backends
def test_a_text_message_goes_to_the_users_personal_chat_without_attachments(
    harness: TeamsHarness,
) -> None:
    out = harness.ok("send_dm", harness.dm(message="Ticket T-1042 was assigned to you."))
    [sent] = harness.fake.personal_messages(harness.adele_id)
    assert out == {
        "sent": True,
        "user_id": str(harness.tech),
        "conversation_id": harness.personal_conversation,
        "activity_id": sent["id"],
    }
    assert sent["conversationId"] == harness.personal_conversation
    assert sent["botId"] == BOT_APP_ID
    assert sent["activity"] == {"type": "message", "text": "Ticket T-1042 was assigned to you."}
    [post] = harness.fake.calls("POST", ACTIVITIES_PATH)
    assert post.path == f"/amer/v3/conversations/{harness.personal_conversation}/activities"
    assert post.headers["content-type"] == "application/json"
    assert post.headers["authorization"].startswith("Bearer ")
    assert "attachments" not in post.body


def test_a_card_is_sent_as_an_adaptive_card_attachment(harness: TeamsHarness) -> None:
    links = [
        {"title": "Open in AlgaPSA", "url": "https://psa.example.com/msp/tickets/1042"},
        {"title": "Runbook", "url": "https://wiki.example.com/printers"},
    ]
    card = {"title": "Ticket T-1042", "message": "Printer on floor 3 is offline.", "links": links}
    harness.ok("send_dm", harness.dm(message="New ticket for you", card=card))
    [sent] = harness.fake.personal_messages(harness.adele_id)
    assert sent["text"] == "New ticket for you"  # the preview and fallback
    [attachment] = sent["attachments"]
    content = check_adaptive_card(attachment)
    assert [block["text"] for block in content["body"]] == [
        "Ticket T-1042",
        "Printer on floor 3 is offline.",
    ]
    assert content["actions"] == [
        {"type": "Action.OpenUrl", "title": link["title"], "url": link["url"]} for link in links
    ]


def test_the_card_text_defaults_to_the_message_and_a_card_without_links_has_no_actions(
    harness: TeamsHarness,
) -> None:
    harness.ok("send_dm", harness.dm(message="Approve the quote?", card={"title": "Quote Q-9"}))
    [sent] = harness.fake.personal_messages(harness.adele_id)
    content = check_adaptive_card(sent["attachments"][0])
    assert [block["text"] for block in content["body"]] == ["Quote Q-9", "Approve the quote?"]
    assert "actions" not in content


def test_a_card_with_five_links_is_sent_with_five_actions(harness: TeamsHarness) -> None:
    links = [{"title": f"Link {n}", "url": f"https://psa.example.com/{n}"} for n in range(5)]
    harness.ok("send_dm", harness.dm(card={"title": "Links", "links": links}))
    [sent] = harness.fake.personal_messages(harness.adele_id)
    assert len(check_adaptive_card(sent["attachments"][0])["actions"]) == 5


@both_backends
def test_the_latest_personal_conversation_is_used(harness: TeamsHarness) -> None:
    # An older chat (of another bot, the demo's) must not be chosen over the latest one.
    harness.record(
        DEMO_PERSONAL_CONVERSATION_ID, "personal", at=harness.clock() - timedelta(days=1)
    )
    harness.ok("send_dm", harness.dm())
    [sent] = harness.fake.personal_messages(harness.adele_id)
    assert sent["conversationId"] == harness.personal_conversation


# -- refusals ------------------------------------------------------------------------------


def test_a_linked_user_who_never_opened_the_bot_has_no_conversation(
    harness: TeamsHarness,
) -> None:
    error = harness.error("send_dm", harness.dm(harness.alex))
    assert error["code"] == "NO_CONVERSATION"
    assert error["message"].startswith(
        "The target user has never opened the Alga bot in Teams, so there is no conversation "
        "to message."
    )
    assert harness.vendor_calls() == 0  # not even a token


def test_a_user_who_removed_the_bot_is_no_conversation_and_nothing_is_sent(
    harness: TeamsHarness,
) -> None:
    harness.fake.uninstall_bot_for_user(harness.adele_id, BOT_APP_ID)
    error = harness.error("send_dm", harness.dm())
    assert error["code"] == "NO_CONVERSATION"
    assert error["retryable"] is False
    assert error["vendor"]["status"] == 403
    assert "open the bot in Teams again" in error["message"]
    assert "The bot is not part of the conversation roster." in error["message"]
    assert harness.fake.sent_activities() == []
    assert harness.fake.count("POST", ACTIVITIES_PATH) == 1


def test_a_stale_or_foreign_conversation_is_no_conversation(harness: TeamsHarness) -> None:
    # Unknown to the connector (404), or another bot's chat (403): either way, gone.
    for minutes, (stale, status) in enumerate(
        [("a:1-unknown-conversation", 404), (DEMO_PERSONAL_CONVERSATION_ID, 403)], start=1
    ):
        harness.record(stale, "personal", at=harness.clock() + timedelta(minutes=minutes))
        error = harness.error("send_dm", harness.dm())
        assert error["code"] == "NO_CONVERSATION", stale
        assert error["vendor"]["status"] == status
        assert error["details"] == {"conversation_id": stale}
    assert harness.fake.sent_activities() == []
