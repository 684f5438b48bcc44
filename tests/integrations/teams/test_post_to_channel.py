"""``teams.post_to_channel`` against the fake Bot Connector: a new thread, at which service URL.

The post is a ``POST {serviceUrl}/v3/conversations`` (create conversation)
with the channel, the tenant and the bot (``28:<bot app id>``). The service
URL is one recorded from the channel's own team when one is known
(``service_url_source: "team"``), else the tenant's latest of any type
(``"tenant_latest"``).
"""

from __future__ import annotations

from datetime import timedelta

from sandbox.microsoft import (
    DEMO_CHANNEL_ID,
    DEMO_TEAM_ID,
    DEMO_TEAM_WITHOUT_BOT_ID,
    DEMO_TENANT_ID,
)
from tests.integrations.teams.conftest import (
    BOT_APP_ID,
    CONVERSATIONS_PATH,
    TeamsHarness,
    both_backends,
)

POST = "post_to_channel"


def post(
    channel_id: str = DEMO_CHANNEL_ID, message: str = "Outage: VPN is down."
) -> dict[str, str]:
    return {"channel_id": channel_id, "message": message}


@both_backends
def test_a_post_starts_a_thread_in_the_channel_with_the_bot_and_tenant(
    harness: TeamsHarness,
) -> None:
    out = harness.ok(POST, post())
    [message] = harness.fake.channel_messages(DEMO_CHANNEL_ID)
    assert out == {
        "posted": True,
        "channel_id": DEMO_CHANNEL_ID,
        "conversation_id": f"{DEMO_CHANNEL_ID};messageid={message['id']}",
        "service_url_source": "team",
    }
    assert message["botId"] == BOT_APP_ID
    assert message["teamId"] == DEMO_TEAM_ID
    assert message["activity"] == {"type": "message", "text": "Outage: VPN is down."}
    [request] = harness.fake.calls("POST", CONVERSATIONS_PATH)
    assert request.path == "/amer/v3/conversations"
    assert request.body["isGroup"] is True
    assert request.body["bot"] == {"id": f"28:{BOT_APP_ID}"}
    assert request.body["tenantId"] == DEMO_TENANT_ID
    assert request.body["channelData"]["channel"] == {"id": DEMO_CHANNEL_ID}
    assert request.body["activity"] == {"type": "message", "text": "Outage: VPN is down."}


def test_the_general_channel_is_the_teams_own_id(harness: TeamsHarness) -> None:
    out = harness.ok(POST, post(DEMO_TEAM_ID))
    assert out["service_url_source"] == "team"  # the recorded reference names the team
    assert len(harness.fake.channel_messages(DEMO_TEAM_ID)) == 1


@both_backends
def test_with_only_a_personal_reference_the_tenants_latest_service_url_is_used(
    harness: TeamsHarness,
) -> None:
    harness.forget_references()
    harness.record(harness.personal_conversation, "personal")
    out = harness.ok(POST, post())
    assert out["service_url_source"] == "tenant_latest"
    assert out["conversation_id"] is not None
    assert len(harness.fake.channel_messages(DEMO_CHANNEL_ID)) == 1


@both_backends
def test_the_teams_own_service_url_wins_over_a_newer_one_from_elsewhere(
    harness: TeamsHarness,
) -> None:
    # The personal chat's reference is newer and names another region: the post
    # still goes to the service URL recorded in the channel's team.
    harness.record(
        harness.personal_conversation,
        "personal",
        service_url=harness.fake.service_url(harness.url, region="emea"),
        at=harness.clock() + timedelta(hours=1),
    )
    assert harness.ok(POST, post())["service_url_source"] == "team"
    [request] = harness.fake.calls("POST", CONVERSATIONS_PATH)
    assert request.path == "/amer/v3/conversations"


@both_backends
def test_the_latest_reference_is_used_when_none_is_from_the_channels_team(
    harness: TeamsHarness,
) -> None:
    harness.forget_references()
    harness.record(
        harness.personal_conversation,
        "personal",
        service_url=harness.fake.service_url(harness.url, region="apac"),
        at=harness.clock() - timedelta(hours=2),
    )
    harness.record(
        harness.personal_conversation + "-newer",
        "personal",
        service_url=harness.fake.service_url(harness.url, region="emea"),
        at=harness.clock(),
    )
    assert harness.ok(POST, post())["service_url_source"] == "tenant_latest"
    [request] = harness.fake.calls("POST", CONVERSATIONS_PATH)
    assert request.path == "/emea/v3/conversations"


# -- refusals ------------------------------------------------------------------------------


@both_backends
def test_a_tenant_without_any_reference_has_no_service_url(harness: TeamsHarness) -> None:
    harness.forget_references()
    error = harness.error(POST, post())
    assert error["code"] == "NO_SERVICE_URL"
    assert error["message"] == (
        "No Teams service URL is known for this tenant yet. Install the Alga app in a team "
        "(or have a user open the bot) so Teams sends one."
    )
    assert harness.vendor_calls() == 0


def test_a_team_without_the_bot_is_app_not_in_team(harness: TeamsHarness) -> None:
    error = harness.error(POST, post(DEMO_TEAM_WITHOUT_BOT_ID))
    assert error["code"] == "APP_NOT_IN_TEAM"
    assert error["retryable"] is False
    assert error["vendor"]["status"] == 403
    assert error["message"].startswith(
        "Teams rejected the post: the Alga app is not installed in that team, or the channel ID "
        "is wrong. Install the app in the team and use the channel's 19:…@thread.tacv2 ID."
    )
    assert error["details"] == {"channel_id": DEMO_TEAM_WITHOUT_BOT_ID}
    assert harness.fake.sent_activities() == []


def test_an_unknown_channel_is_app_not_in_team(harness: TeamsHarness) -> None:
    unknown = "19:00000000000000000000000000000000@thread.tacv2"
    error = harness.error(POST, post(unknown))
    assert error["code"] == "APP_NOT_IN_TEAM"
    assert error["vendor"]["status"] == 404
    assert harness.fake.sent_activities() == []


def test_a_bot_removed_from_the_team_is_app_not_in_team(harness: TeamsHarness) -> None:
    harness.ok(POST, post())
    harness.fake.remove_bot_from_team(DEMO_TEAM_ID, BOT_APP_ID)
    error = harness.error(POST, post())
    assert error["code"] == "APP_NOT_IN_TEAM"
    assert len(harness.fake.channel_messages(DEMO_CHANNEL_ID)) == 1
