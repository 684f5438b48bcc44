"""The Graph and Bot Framework tokens: asked for once, replaced after a 401, bound to their app.

Both are client-credentials tokens from the identity platform, cached in
tenant secrets across steps. A 401 from Graph or the connector means nothing
was done: the refused token is replaced once and the request sent again, so
the message still arrives exactly once.
"""

from __future__ import annotations

from datetime import timedelta

from sandbox.microsoft import (
    BOT_FRAMEWORK_RESOURCE,
    DEMO_ACTIVITY_TYPES,
    DEMO_CHANNEL_ID,
    DEMO_TEAM_ID,
    DEMO_TEAMS_APP_ID,
    DEMO_TENANT_ID,
    GRAPH_RESOURCE,
    connector_fault,
)
from sandbox.microsoft.common import IssuedToken
from tests.integrations.teams.conftest import (
    ACTIVITIES_PATH,
    BOT_APP_ID,
    BOT_TOKEN_PATH,
    CANARY_BOT_SECRET,
    CANARY_SECRET,
    CLIENT_ID,
    GRAPH_TOKEN_PATH,
    NOTIFY_PATH,
    TeamsHarness,
    both_backends,
    teams_settings,
)

OTHER_CLIENT_ID = "6e7f8a9b-0c1d-4e2f-a3b4-c5d6e7f8a9b0"
OTHER_BOT_APP_ID = "7f8a9b0c-1d2e-4f3a-b4c5-d6e7f8a9b0c1"


def token_of(harness: TeamsHarness, authorization: str) -> IssuedToken:
    scheme, _, token = authorization.partition(" ")
    assert scheme == "Bearer"
    found = harness.fake.token_info(token)
    assert found is not None
    return found


def test_the_token_requests_are_client_credentials_for_each_apps_resource(
    harness: TeamsHarness,
) -> None:
    harness.ok("notify_user", harness.notify())
    harness.ok("send_dm", harness.dm())
    [graph] = harness.token_requests(GRAPH_TOKEN_PATH)
    assert graph.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert graph.body == {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CANARY_SECRET,
        "scope": "https://graph.microsoft.com/.default",
    }
    [bot] = harness.token_requests(BOT_TOKEN_PATH)
    assert bot.body == {
        "grant_type": "client_credentials",
        "client_id": BOT_APP_ID,
        "client_secret": CANARY_BOT_SECRET,
        "scope": "https://api.botframework.com/.default",
    }
    # Each API got its own app's token.
    [notify] = harness.fake.calls("POST", NOTIFY_PATH)
    assert token_of(harness, notify.headers["authorization"]).resource == GRAPH_RESOURCE
    [message] = harness.fake.calls("POST", ACTIVITIES_PATH)
    issued = token_of(harness, message.headers["authorization"])
    assert (issued.resource, issued.client_id) == (BOT_FRAMEWORK_RESOURCE, BOT_APP_ID)


@both_backends
def test_ten_messages_make_one_bot_framework_token_request(harness: TeamsHarness) -> None:
    for n in range(10):
        harness.ok("send_dm", harness.dm(message=f"Message {n}"))
    assert len(harness.token_requests(BOT_TOKEN_PATH)) == 1
    assert len(harness.fake.personal_messages(harness.adele_id)) == 10
    assert harness.token_requests(GRAPH_TOKEN_PATH) == []


def test_ten_notifications_make_one_graph_token_request(harness: TeamsHarness) -> None:
    for n in range(10):
        harness.ok("notify_user", harness.notify(title=f"Ticket {n}"))
    assert len(harness.token_requests(GRAPH_TOKEN_PATH)) == 1
    assert len(harness.fake.notifications(harness.adele_id)) == 10
    assert harness.token_requests(BOT_TOKEN_PATH) == []


def test_channel_posts_share_the_bots_token_with_messages(harness: TeamsHarness) -> None:
    for _ in range(3):
        harness.ok("send_dm", harness.dm())
        harness.ok("post_to_channel", {"channel_id": DEMO_CHANNEL_ID, "message": "Hello"})
    assert len(harness.token_requests(BOT_TOKEN_PATH)) == 1
    assert len(harness.fake.sent_activities()) == 6


@both_backends
def test_a_connector_401_replaces_the_token_and_sends_the_message_once(
    harness: TeamsHarness,
) -> None:
    harness.ok("send_dm", harness.dm(message="first"))
    harness.fake.expire_tokens()
    harness.ok("send_dm", harness.dm(message="second"))
    assert [m["text"] for m in harness.fake.personal_messages(harness.adele_id)] == [
        "first",
        "second",
    ]
    assert len(harness.token_requests(BOT_TOKEN_PATH)) == 2
    statuses = [r.status for r in harness.fake.calls("POST", ACTIVITIES_PATH)]
    assert statuses == [201, 401, 201]
    # The new token is the one kept: the next step asks for none.
    harness.ok("send_dm", harness.dm(message="third"))
    assert len(harness.token_requests(BOT_TOKEN_PATH)) == 2


def test_a_revoked_bot_token_is_replaced_for_a_channel_post(harness: TeamsHarness) -> None:
    harness.ok("send_dm", harness.dm())
    [message] = harness.fake.calls("POST", ACTIVITIES_PATH)
    harness.fake.revoke_token(message.headers["authorization"].split()[1])
    out = harness.ok("post_to_channel", {"channel_id": DEMO_CHANNEL_ID, "message": "Hello"})
    assert out["posted"] is True
    assert len(harness.fake.channel_messages(DEMO_CHANNEL_ID)) == 1
    assert len(harness.token_requests(BOT_TOKEN_PATH)) == 2


def test_a_graph_401_replaces_the_token_and_notifies_once(harness: TeamsHarness) -> None:
    harness.ok("notify_user", harness.notify())
    [first] = harness.fake.calls("POST", NOTIFY_PATH)
    harness.fake.revoke_token(first.headers["authorization"].split()[1])
    harness.ok("notify_user", harness.notify())
    assert len(harness.fake.notifications(harness.adele_id)) == 2
    assert len(harness.token_requests(GRAPH_TOKEN_PATH)) == 2
    assert [r.status for r in harness.fake.calls("POST", NOTIFY_PATH)] == [204, 401, 204]


def test_a_token_refused_twice_is_misconfigured_and_not_replayed_again(
    harness: TeamsHarness,
) -> None:
    harness.ok("send_dm", harness.dm())
    harness.fake.inject(connector_fault(401, code="Unauthorized"), path=ACTIVITIES_PATH, times=2)
    error = harness.error("send_dm", harness.dm())
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert error["vendor"]["status"] == 401
    assert harness.fake.count("POST", ACTIVITIES_PATH) == 3  # one replay, no loop
    assert len(harness.token_requests(BOT_TOKEN_PATH)) == 2
    assert len(harness.fake.personal_messages(harness.adele_id)) == 1


@both_backends
def test_a_new_bot_app_gets_its_own_token(harness: TeamsHarness) -> None:
    harness.ok("send_dm", harness.dm())
    # The tenant moves to another bot (same password here): its cached token is not reused.
    harness.fake.add_bot(OTHER_BOT_APP_ID, CANARY_BOT_SECRET)
    chat = harness.fake.add_personal_conversation(
        harness.adele_id, OTHER_BOT_APP_ID, tenant_id=DEMO_TENANT_ID
    )
    harness.record(chat, "personal", at=harness.clock() + timedelta(minutes=1))
    harness.connect_teams({"bot_app_id": OTHER_BOT_APP_ID})
    harness.ok("send_dm", harness.dm())
    requests = harness.token_requests(BOT_TOKEN_PATH)
    assert [r.body["client_id"] for r in requests] == [BOT_APP_ID, OTHER_BOT_APP_ID]
    assert [m["botId"] for m in harness.fake.personal_messages(harness.adele_id)] == [
        BOT_APP_ID,
        OTHER_BOT_APP_ID,
    ]
    assert harness.fake.calls("POST", ACTIVITIES_PATH)[-1].status == 201  # no 401 round trip


def test_a_single_tenant_bot_gets_its_token_from_its_own_tenant(harness: TeamsHarness) -> None:
    harness.fake.add_bot(OTHER_BOT_APP_ID, CANARY_BOT_SECRET, tenant_id=DEMO_TENANT_ID)
    harness.fake.install_bot_in_team(DEMO_TEAM_ID, OTHER_BOT_APP_ID)
    harness.connect_teams({"bot_app_id": OTHER_BOT_APP_ID, "bot_tenant": DEMO_TENANT_ID})
    harness.ok("post_to_channel", {"channel_id": DEMO_CHANNEL_ID, "message": "Hello"})
    [request] = harness.token_requests(f"/{DEMO_TENANT_ID}/oauth2/v2.0/token")  # its own
    assert request.body["client_id"] == OTHER_BOT_APP_ID
    assert request.body["scope"] == "https://api.botframework.com/.default"
    assert harness.token_requests(BOT_TOKEN_PATH) == []


def test_a_new_profile_app_gets_its_own_graph_token(harness: TeamsHarness) -> None:
    harness.ok("notify_user", harness.notify())
    harness.fake.add_app(DEMO_TENANT_ID, OTHER_CLIENT_ID, CANARY_SECRET, graph_roles=())
    harness.fake.install_teams_app(
        harness.adele_id,
        OTHER_CLIENT_ID,
        teams_app_id=DEMO_TEAMS_APP_ID,
        activity_types=DEMO_ACTIVITY_TYPES,
    )
    harness.connect_teams({"client_id": OTHER_CLIENT_ID})
    harness.ok("notify_user", harness.notify())
    requests = harness.token_requests(GRAPH_TOKEN_PATH)
    assert [r.body["client_id"] for r in requests] == [CLIENT_ID, OTHER_CLIENT_ID]
    assert [n["appId"] for n in harness.fake.notifications(harness.adele_id)] == [
        CLIENT_ID,
        OTHER_CLIENT_ID,
    ]


def test_switching_back_to_the_first_app_asks_again(harness: TeamsHarness) -> None:
    # One cache slot per API: a tenant that changes its app back does not get a stale token.
    harness.ok("notify_user", harness.notify())
    harness.fake.add_app(DEMO_TENANT_ID, OTHER_CLIENT_ID, CANARY_SECRET, graph_roles=())
    harness.fake.install_teams_app(
        harness.adele_id, OTHER_CLIENT_ID, teams_app_id=DEMO_TEAMS_APP_ID
    )
    harness.connect_teams({"client_id": OTHER_CLIENT_ID})
    harness.ok("notify_user", harness.notify())
    harness.connect_teams(teams_settings(harness.url))
    harness.ok("notify_user", harness.notify())
    assert [r.body["client_id"] for r in harness.token_requests(GRAPH_TOKEN_PATH)] == [
        CLIENT_ID,
        OTHER_CLIENT_ID,
        CLIENT_ID,
    ]
    assert harness.fake.notifications(harness.adele_id)[-1]["appId"] == CLIENT_ID


def test_the_cached_tokens_are_kept_as_tenant_secrets(harness: TeamsHarness) -> None:
    harness.ok("notify_user", harness.notify())
    harness.ok("send_dm", harness.dm())
    graph = harness.secret("teams_graph_token")
    bot = harness.secret("teams_bot_token")
    assert graph is not None and bot is not None
    assert harness.fake.issued_tokens[-2].token in graph
    assert harness.fake.issued_tokens[-1].token in bot
