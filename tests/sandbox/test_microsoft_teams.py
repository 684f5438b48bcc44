"""FakeMicrosoft for Teams: Graph's sendActivityNotification and the Bot Connector."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from sandbox.core import REDACTED, Fault, ManualClock
from sandbox.microsoft import (
    BOT_FRAMEWORK_TENANT_ID,
    DEMO_ACCOUNT,
    DEMO_ACTIVITY_TYPES,
    DEMO_BOT_APP_ID,
    DEMO_BOT_SECRET,
    DEMO_CHANNEL_ID,
    DEMO_PERSONAL_CONVERSATION_ID,
    DEMO_TEAM_ID,
    DEMO_TEAM_WITHOUT_BOT_ID,
    DEMO_TEAMS_APP_ID,
    DEMO_TENANT_ID,
    FakeMicrosoft,
    connector_fault,
    graph_fault,
)
from tests.sandbox.microsoft_support import (
    BOT_SCOPE,
    CLIENT_ID,
    EPOCH,
    GRAPH_SCOPE,
    LIFETIME,
    OTHER_ID,
    SECRET,
    TENANT,
    UPN,
    USER_ID,
    fake_microsoft,
)

TEAMS_APP = "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b"
ADELE, ADELE_UPN, ALEX = USER_ID, UPN, OTHER_ID  # the shared mailboxes, by name
BOT_ID = "f0e1d2c3-b4a5-4968-8776-a5b4c3d2e1f0"
BOT_SECRET = "bot~secret-VALUE-7777"
OTHER_BOT = "11112222-3333-4444-5555-666677778888"
TEAM = "19:teamGeneralAAAA1111@thread.tacv2"
CHANNEL = "19:serviceDeskBBBB2222@thread.tacv2"
NO_BOT_TEAM = "19:salesGeneralCCCC3333@thread.tacv2"
NOTIFY = f"/v1.0/users/{ADELE}/teamwork/sendActivityNotification"
NOTIFY_QUALIFIED = f"/v1.0/users/{ADELE}/teamwork/microsoft.graph.sendActivityNotification"
SERVICE_BASE = "https://smba.test"
ACTIVITY_TYPES = ("assignmentCreated", "workEscalated")
DEEP_LINK = (
    "https://teams.microsoft.com/l/entity/app-id/alga-psa-personal-tab?"
    "webUrl=https%3A%2F%2Fpsa.test%2Fmsp%2Fdashboard"
)
CARD = {
    "contentType": "application/vnd.microsoft.card.adaptive",
    "content": {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [{"type": "TextBlock", "text": "Ticket #42 escalated", "wrap": True}],
        "actions": [{"type": "Action.OpenUrl", "title": "Open", "url": DEEP_LINK}],
    },
}


def notification(**overrides: Any) -> dict[str, Any]:
    """The documented parameters only, as the Teams integration should send them."""
    body: dict[str, Any] = {
        "topic": {"source": "text", "value": "Ticket #42", "webUrl": DEEP_LINK},
        "activityType": "workEscalated",
        "previewText": {"content": "Ticket #42 was escalated"},
        "templateParameters": [{"name": "item", "value": "Ticket #42"}],
    }
    body.update(overrides)
    return body


def channel_post(channel_id: str = CHANNEL, **overrides: Any) -> dict[str, Any]:
    """The reference implementation's post_to_channel body."""
    body: dict[str, Any] = {
        "isGroup": True,
        "channelData": {"channel": {"id": channel_id}},
        "bot": {"id": f"28:{BOT_ID}"},
        "activity": {"type": "message", "text": "Patch window starts at 22:00"},
    }
    body.update(overrides)
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def grant(client_id: str, secret: str, scope: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": secret,
        "scope": scope,
    }


def activities(conversation_id: str) -> str:
    return f"v3/conversations/{quote(conversation_id, safe='')}/activities"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def ms(clock: ManualClock) -> FakeMicrosoft:
    fake = fake_microsoft(clock)
    fake.install_teams_app(ADELE, CLIENT_ID, teams_app_id=TEAMS_APP, activity_types=ACTIVITY_TYPES)
    fake.add_bot(BOT_ID, BOT_SECRET, tenant_id=TENANT)
    fake.add_team(
        TEAM,
        name="Contoso IT",
        channels={TEAM: "General", CHANNEL: "Service Desk"},
        bot_app_ids=[BOT_ID],
    )
    fake.add_team(NO_BOT_TEAM, name="Contoso Sales", channels=[NO_BOT_TEAM])
    return fake


@pytest.fixture
def http(ms: FakeMicrosoft) -> Iterator[httpx.Client]:
    with httpx.Client(transport=ms.transport(), base_url="https://ms.test") as client:
        yield client


@pytest.fixture
def graph_token(ms: FakeMicrosoft) -> str:
    return ms.issue_token(TENANT, CLIENT_ID)


@pytest.fixture
def graph(ms: FakeMicrosoft, graph_token: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=ms.transport(), base_url="https://ms.test", headers=bearer(graph_token)
    ) as client:
        yield client


@pytest.fixture
def bot_token(http: httpx.Client) -> str:
    answer = http.post(
        "/botframework.com/oauth2/v2.0/token", data=grant(BOT_ID, BOT_SECRET, BOT_SCOPE)
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


@pytest.fixture
def bot(ms: FakeMicrosoft, bot_token: str) -> Iterator[httpx.Client]:
    """A client at the bot's service URL (``https://smba.test/amer/``)."""
    with httpx.Client(
        transport=ms.transport(), base_url=ms.service_url(SERVICE_BASE), headers=bearer(bot_token)
    ) as client:
        yield client


@pytest.fixture
def dm(ms: FakeMicrosoft) -> str:
    return ms.add_personal_conversation(ADELE, BOT_ID, tenant_id=TENANT)


def assert_graph_error(answer: httpx.Response, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
    message: str = error["message"]
    return message


def assert_bot_error(answer: httpx.Response, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    message: str = body["error"]["message"]
    return message


# -- Graph: sendActivityNotification ------------------------------------------------------


def test_a_notification_is_delivered_with_204_and_recorded(
    ms: FakeMicrosoft, clock: ManualClock, graph: httpx.Client
) -> None:
    clock.advance(30)
    answer = graph.post(NOTIFY, json=notification(chainId=7))

    assert answer.status_code == 204
    assert answer.content == b""
    assert answer.headers["request-id"]
    (delivered,) = ms.notifications(ADELE_UPN)
    assert delivered == {
        "userId": ADELE,
        "appId": CLIENT_ID,
        "teamsAppId": TEAMS_APP,
        "topic": {"source": "text", "value": "Ticket #42", "webUrl": DEEP_LINK},
        "activityType": "workEscalated",
        "previewText": {"content": "Ticket #42 was escalated"},
        "templateParameters": [{"name": "item", "value": "Ticket #42"}],
        "chainId": 7,
        "iconId": None,
        "timestamp": EPOCH + 30,
        "body": notification(chainId=7),
    }
    assert ms.notifications(ALEX) == []


def test_the_qualified_path_a_upn_entity_topics_and_annotations(
    ms: FakeMicrosoft, graph: httpx.Client
) -> None:
    entity = {
        "@odata.type": "#microsoft.graph.teamworkActivityTopic",
        "source": "entityUrl",
        "value": f"https://graph.microsoft.com/v1.0/users/{ADELE}/teamwork/installedApps/x",
    }
    answers = [
        graph.post(NOTIFY_QUALIFIED, json=notification()),
        graph.post(
            f"/v1.0/users/{ADELE_UPN.upper()}/teamwork/sendActivityNotification",
            json=notification(),
        ),
        graph.post(NOTIFY, json=notification(topic=entity, iconId="taskCreatedId")),
        graph.post(
            NOTIFY,
            json=notification(
                topic={"source": "Text", "value": "x", "webUrl": "plain text is accepted"},
                previewText={"content": "<b>hi</b>", "contentType": "html"},
                teamsAppId=TEAMS_APP,
                templateParameters=[],
                chainId=None,
            ),
        ),
    ]
    assert [a.status_code for a in answers] == [204, 204, 204, 204]
    sent = ms.notifications(ADELE)
    assert len(sent) == 4
    assert sent[2]["iconId"] == "taskCreatedId"
    assert sent[3]["templateParameters"] == []


def test_recipient_is_not_a_parameter_of_the_user_scoped_action(
    ms: FakeMicrosoft, graph: httpx.Client
) -> None:
    recipient = {
        "@odata.type": "microsoft.graph.aadUserNotificationRecipient",
        "userId": ADELE,
    }
    message = assert_graph_error(
        graph.post(NOTIFY, json=notification(recipient=recipient)), 400, "BadRequest"
    )
    assert message == (
        "The parameter 'recipient' in the request payload is not a valid parameter for the "
        "operation 'sendActivityNotification'."
    )
    assert ms.notifications() == []


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (notification(topic=None), "Required parameter 'topic' is missing."),
        ({k: v for k, v in notification().items() if k != "activityType"}, "'activityType'"),
        ({k: v for k, v in notification().items() if k != "previewText"}, "'previewText'"),
        (notification(topic="Ticket #42"), "'topic'"),
        (notification(topic={"source": "url", "value": "x", "webUrl": DEEP_LINK}), "'topic'"),
        (notification(topic={"source": "text", "value": "x"}), "webUrl"),
        (notification(topic={"source": "text", "value": "", "webUrl": DEEP_LINK}), "'topic'"),
        (notification(topic={"source": "entityUrl", "value": "https://x.test/a"}), "Graph URL"),
        (
            notification(topic={"source": "text", "value": "x", "webUrl": DEEP_LINK, "url": 1}),
            "The property 'url' does not exist on type 'microsoft.graph.teamworkActivityTopic'",
        ),
        (notification(activityType=""), "'activityType'"),
        (notification(activityType=5), "'activityType'"),
        (notification(chainId="7"), "'chainId'"),
        (notification(chainId=True), "'chainId'"),
        (notification(chainId=2**63), "'chainId'"),
        (notification(previewText="text"), "'previewText'"),
        (notification(previewText={"content": 1}), "'previewText'"),
        (notification(previewText={"content": "x", "contentType": None}), "'previewText'"),
        (notification(templateParameters=None), "'templateParameters'"),
        (notification(previewText={"content": "x", "contentType": "md"}), "'previewText'"),
        (notification(previewText={"text": "x"}), "type 'microsoft.graph.itemBody'"),
        (notification(templateParameters={"item": "x"}), "'templateParameters'"),
        (notification(templateParameters=[{"value": "x"}]), "'templateParameters'"),
        (notification(templateParameters=[{"name": "item", "value": 3}]), "'templateParameters'"),
        (notification(templateParameters=["item"]), "'templateParameters'"),
        (
            notification(templateParameters=[{"name": "a", "value": "b", "extra": "c"}]),
            "type 'microsoft.graph.keyValuePair'",
        ),
        (notification(teamsAppId=42), "'teamsAppId'"),
        (notification(iconId=["x"]), "'iconId'"),
    ],
)
def test_parameters_are_checked_like_an_odata_action(
    ms: FakeMicrosoft, graph: httpx.Client, body: dict[str, Any], says: str
) -> None:
    message = assert_graph_error(graph.post(NOTIFY, json=body), 400, "BadRequest")
    assert says in message
    assert ms.notifications() == []


def test_bodies_that_are_not_json_objects(graph: httpx.Client) -> None:
    empty = assert_graph_error(graph.post(NOTIFY), 400, "BadRequest")
    assert empty == "Empty Payload. JSON content expected."
    assert_graph_error(graph.post(NOTIFY, json=[notification()]), 400, "BadRequest")
    assert_graph_error(
        graph.post(NOTIFY, content=b"{", headers={"Content-Type": "application/json"}),
        400,
        "BadRequest",
    )


def test_unknown_users_and_users_of_another_tenant_are_404(
    ms: FakeMicrosoft, graph: httpx.Client
) -> None:
    message = assert_graph_error(
        graph.post(
            "/v1.0/users/ghost@contoso.onmicrosoft.com/teamwork/sendActivityNotification",
            json=notification(),
        ),
        404,
        "Request_ResourceNotFound",
    )
    assert message.startswith("Resource 'ghost@contoso.onmicrosoft.com' does not exist")
    ms.add_app("other-tenant", "other-app", "other-secret")
    ms.install_teams_app(ADELE, "other-app")
    foreign = ms.issue_token("other-tenant", "other-app")
    answer = graph.post(NOTIFY, json=notification(), headers=bearer(foreign))
    assert_graph_error(answer, 404, "Request_ResourceNotFound")
    assert ms.notifications() == []


def test_the_app_must_be_installed_for_the_recipient(
    ms: FakeMicrosoft, graph: httpx.Client
) -> None:
    not_installed = f"/v1.0/users/{ALEX}/teamwork/sendActivityNotification"
    message = assert_graph_error(graph.post(not_installed, json=notification()), 403, "Forbidden")
    assert message == (
        f"Application with AAD App Id '{CLIENT_ID}' is not authorized to generate custom text "
        f"notifications about '{not_installed}' to the recipient. Ensure that the expected Teams "
        "app is installed in the target scope (user, team, or chat)."
    )

    # Another Entra app's installation does not count.
    ms.add_app(TENANT, "calendar-only", "cal-secret")
    other = ms.issue_token(TENANT, "calendar-only")
    assert_graph_error(
        graph.post(NOTIFY, json=notification(), headers=bearer(other)), 403, "Forbidden"
    )

    ms.uninstall_teams_app(ADELE, CLIENT_ID)
    assert_graph_error(graph.post(NOTIFY, json=notification()), 403, "Forbidden")
    assert ms.teams_apps(ADELE) == []
    ms.install_teams_app(ADELE, CLIENT_ID)
    assert graph.post(NOTIFY, json=notification(activityType="anything")).status_code == 204
    assert ms.teams_apps(ADELE_UPN) == [
        {"appId": CLIENT_ID, "teamsAppId": None, "activityTypes": None}
    ]
    with pytest.raises(KeyError):
        ms.install_teams_app("nobody", CLIENT_ID)


def test_two_teams_apps_of_one_entra_app_are_a_conflict_unless_teams_app_id_chooses(
    ms: FakeMicrosoft, graph: httpx.Client
) -> None:
    ms.install_teams_app(ADELE, CLIENT_ID, teams_app_id="second-teams-app")

    conflict = assert_graph_error(graph.post(NOTIFY, json=notification()), 409, "Conflict")
    assert "teamsAppId" in conflict
    chosen = graph.post(NOTIFY, json=notification(teamsAppId="second-teams-app"))
    assert chosen.status_code == 204
    assert ms.notifications(ADELE)[-1]["teamsAppId"] == "second-teams-app"
    unknown = graph.post(NOTIFY, json=notification(teamsAppId="not-installed"))
    assert_graph_error(unknown, 403, "Forbidden")

    ms.uninstall_teams_app(ADELE, CLIENT_ID, teams_app_id="second-teams-app")
    assert graph.post(NOTIFY, json=notification()).status_code == 204


def test_activity_types_come_from_the_manifest(ms: FakeMicrosoft, graph: httpx.Client) -> None:
    undeclared = assert_graph_error(
        graph.post(NOTIFY, json=notification(activityType="slaRiskDetected")), 400, "BadRequest"
    )
    assert undeclared == (
        "The activity type 'slaRiskDetected' is not declared in the Teams app manifest."
    )
    system = notification(
        activityType="systemDefault",
        templateParameters=[{"name": "systemDefaultText", "value": "Ticket #42 escalated"}],
    )
    assert graph.post(NOTIFY, json=system).status_code == 204
    assert [n["activityType"] for n in ms.notifications()] == ["systemDefault"]


def test_graph_needs_a_graph_token(
    ms: FakeMicrosoft, clock: ManualClock, http: httpx.Client, bot_token: str, graph_token: str
) -> None:
    missing = assert_graph_error(
        http.post(NOTIFY, json=notification()), 401, "InvalidAuthenticationToken"
    )
    assert missing == "Access token is empty."
    audience = assert_graph_error(
        http.post(NOTIFY, json=notification(), headers=bearer(bot_token)),
        401,
        "InvalidAuthenticationToken",
    )
    assert audience == "Access token validation failure. Invalid audience."
    clock.advance(LIFETIME)
    expired = assert_graph_error(
        http.post(NOTIFY, json=notification(), headers=bearer(graph_token)),
        401,
        "InvalidAuthenticationToken",
    )
    assert expired == "Lifetime validation failed, the token is expired."
    assert ms.notifications() == []


def test_injected_throttling_delivers_nothing(ms: FakeMicrosoft, graph: httpx.Client) -> None:
    ms.inject(graph_fault(429, retry_after=4), method="POST", path="/v1.0/users/*/teamwork/*")
    throttled = graph.post(NOTIFY, json=notification())
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "4"
    assert ms.notifications() == []
    assert graph.post(NOTIFY, json=notification()).status_code == 204
    assert [r.status for r in ms.calls("POST", "/v1.0/users/*/teamwork/*")] == [429, 204]


# -- Bot Connector: tokens and authentication --------------------------------------------------


def test_bot_tokens_come_from_the_bot_framework_authority_and_the_bots_tenant(
    ms: FakeMicrosoft, http: httpx.Client, bot_token: str
) -> None:
    assert claims(bot_token)["tid"] == BOT_FRAMEWORK_TENANT_ID
    assert claims(bot_token)["aud"] == "https://api.botframework.com"
    assert claims(bot_token)["appid"] == BOT_ID
    single = http.post(f"/{TENANT}/oauth2/v2.0/token", data=grant(BOT_ID, BOT_SECRET, BOT_SCOPE))
    assert single.status_code == 200
    assert claims(single.json()["access_token"])["tid"] == TENANT
    by_id = http.post(
        f"/{BOT_FRAMEWORK_TENANT_ID}/oauth2/v2.0/token", data=grant(BOT_ID, BOT_SECRET, BOT_SCOPE)
    )
    assert by_id.status_code == 200
    service = ms.service_url(SERVICE_BASE)
    for token in (single.json()["access_token"], by_id.json()["access_token"]):
        answer = http.post(f"{service}v3/conversations", json=channel_post(), headers=bearer(token))
        assert answer.status_code == 201


def test_the_connector_needs_a_valid_bot_framework_token(
    ms: FakeMicrosoft, clock: ManualClock, http: httpx.Client, bot_token: str, graph_token: str
) -> None:
    url = f"{ms.service_url(SERVICE_BASE)}v3/conversations"
    forged = bot_token.rsplit(".", 1)[0] + ".forged"
    revoked = ms.issue_token(TENANT, BOT_ID, resource="https://api.botframework.com")
    ms.revoke_token(revoked)
    denied = [
        http.post(url, json=channel_post()),
        http.post(url, json=channel_post(), headers={"Authorization": "Basic abc"}),
        http.post(url, json=channel_post(), headers=bearer("opaque")),
        http.post(url, json=channel_post(), headers=bearer(forged)),
        http.post(url, json=channel_post(), headers=bearer(revoked)),
        http.post(url, json=channel_post(), headers=bearer(graph_token)),
    ]
    for answer in denied:
        message = assert_bot_error(answer, 401, "Unauthorized")
        assert message == "Authorization has been denied for this request."

    assert http.post(url, json=channel_post(), headers=bearer(bot_token)).status_code == 201
    clock.advance(LIFETIME)
    assert_bot_error(
        http.post(url, json=channel_post(), headers=bearer(bot_token)), 401, "Unauthorized"
    )

    # An app that is no bot gets a Bot Framework token, but the connector knows no such bot.
    not_a_bot = ms.issue_token(TENANT, CLIENT_ID, resource="https://api.botframework.com")
    message = assert_bot_error(
        http.post(url, json=channel_post(), headers=bearer(not_a_bot)), 401, "BotNotRegistered"
    )
    assert message == "No registration found for this bot."
    assert len(ms.channel_messages(CHANNEL)) == 1
    for answer in denied:
        for token in (bot_token, graph_token, revoked):
            assert token not in answer.text


# -- Bot Connector: channel posts -------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/amer", "", "/emea/72f988bf-86f1-41af-91ab-2d7cd011db47"])
def test_posting_to_a_channel_creates_a_thread(
    ms: FakeMicrosoft, clock: ManualClock, bot_token: str, prefix: str
) -> None:
    with httpx.Client(transport=ms.transport(), base_url=SERVICE_BASE) as client:
        clock.advance(2.5)
        answer = client.post(
            f"{prefix}/v3/conversations", json=channel_post(), headers=bearer(bot_token)
        )

    assert answer.status_code == 201
    body = answer.json()
    message_id = str(int((EPOCH + 2.5) * 1000))
    assert body == {"id": f"{CHANNEL};messageid={message_id}", "activityId": message_id}
    (posted,) = ms.channel_messages(CHANNEL)
    assert posted["id"] == posted["threadId"] == message_id
    assert posted["conversationId"] == body["id"]
    assert posted["teamId"] == TEAM
    assert posted["botId"] == BOT_ID
    assert posted["text"] == "Patch window starts at 22:00"
    assert posted["activity"] == {"type": "message", "text": "Patch window starts at 22:00"}
    assert posted["timestamp"] == EPOCH + 2.5


def test_replies_and_new_posts_in_a_channel(ms: FakeMicrosoft, bot: httpx.Client) -> None:
    thread = bot.post("v3/conversations", json=channel_post()).json()
    reply = bot.post(
        activities(thread["id"]), json={"type": "message", "text": "Done", "attachments": [CARD]}
    )
    again = bot.post(activities(thread["id"]), json={"type": "message", "text": "Really done"})
    fresh = bot.post(activities(TEAM), json={"type": "message", "text": "New post in General"})

    assert reply.status_code == again.status_code == fresh.status_code == 201
    ids = [reply.json()["id"], again.json()["id"], fresh.json()["id"]]
    assert ids == sorted(ids, key=int) and len(set(ids)) == 3
    in_channel = ms.channel_messages(CHANNEL)
    assert [m["text"] for m in in_channel] == [
        "Patch window starts at 22:00",
        "Done",
        "Really done",
    ]
    assert {m["threadId"] for m in in_channel} == {thread["activityId"]}
    assert in_channel[1]["attachments"] == [CARD]
    (general,) = ms.channel_messages(TEAM)
    assert general["threadId"] == general["id"] == ids[2]
    assert general["conversationId"] == TEAM
    unencoded = bot.post(
        f"v3/conversations/{thread['id']}/activities", json={"type": "message", "text": "raw id"}
    )
    assert unencoded.status_code == 201


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (channel_post(activity=None), 400, "BadSyntax"),
        ({k: v for k, v in channel_post().items() if k != "activity"}, 400, "BadSyntax"),
        (channel_post(channelData={}), 400, "BadSyntax"),
        (channel_post(channelData={"channel": {"id": ""}}), 400, "BadSyntax"),
        (
            channel_post(channelData=None, members=[{"id": "29:1a"}, {"id": "29:1b"}]),
            400,
            "BadSyntax",
        ),
        (channel_post(isGroup=False), 400, "BadSyntax"),
        (channel_post(isGroup="true"), 400, "BadArgument"),
        (channel_post(bot={"id": f"28:{OTHER_BOT}"}), 400, "BadArgument"),
        (channel_post(bot="28:x"), 400, "BadArgument"),
        (channel_post(activity={"type": "message"}), 400, "BadArgument"),
        (channel_post("19:unknownDDDD4444@thread.tacv2"), 404, "ConversationNotFound"),
        (channel_post(NO_BOT_TEAM), 403, "BotNotInConversationRoster"),
    ],
)
def test_creating_a_channel_thread_that_teams_refuses(
    ms: FakeMicrosoft, bot: httpx.Client, body: dict[str, Any], status: int, code: str
) -> None:
    message = assert_bot_error(bot.post("v3/conversations", json=body), status, code)
    if code == "BotNotInConversationRoster":
        assert message == "The bot is not part of the conversation roster."
    if code == "BadSyntax":
        assert message == "Incorrect conversation creation parameters"
    if code == "ConversationNotFound":
        assert message == "Conversation not found."
    assert ms.sent_activities() == []


def test_the_bare_bot_id_and_no_bot_at_all_are_accepted(bot: httpx.Client) -> None:
    assert bot.post("v3/conversations", json=channel_post(bot={"id": BOT_ID})).status_code == 201
    no_bot = {k: v for k, v in channel_post().items() if k != "bot"}
    assert bot.post("v3/conversations", json=no_bot).status_code == 201


def test_installing_and_removing_the_bot_in_a_team(ms: FakeMicrosoft, bot: httpx.Client) -> None:
    thread = bot.post("v3/conversations", json=channel_post()).json()
    ms.remove_bot_from_team(TEAM, BOT_ID)
    assert_bot_error(
        bot.post("v3/conversations", json=channel_post()), 403, "BotNotInConversationRoster"
    )
    assert_bot_error(
        bot.post(activities(thread["id"]), json={"type": "message", "text": "x"}),
        403,
        "BotNotInConversationRoster",
    )
    ms.install_bot_in_team(NO_BOT_TEAM, BOT_ID)
    assert bot.post("v3/conversations", json=channel_post(NO_BOT_TEAM)).status_code == 201
    assert [m["teamId"] for m in ms.sent_activities()] == [TEAM, NO_BOT_TEAM]


# -- Bot Connector: personal chats ---------------------------------------------------------------


def test_a_message_with_an_adaptive_card_in_a_personal_chat(
    ms: FakeMicrosoft, bot: httpx.Client, dm: str
) -> None:
    assert dm.startswith("a:1")
    body = {"type": "message", "text": "Ticket #42 escalated", "attachments": [CARD]}
    answer = bot.post(activities(dm), json=body)

    assert answer.status_code == 201
    assert set(answer.json()) == {"id"}
    assert answer.json()["id"].startswith("1:")
    (sent,) = ms.personal_messages(ADELE)
    assert sent["id"] == answer.json()["id"]
    assert sent["conversationId"] == dm
    assert sent["userId"] == ADELE
    assert sent["text"] == "Ticket #42 escalated"
    assert sent["attachments"] == [CARD]
    assert sent["activity"] == body
    assert ms.sent_activities(conversation_id=dm) == [sent]
    assert ms.channel_messages(CHANNEL) == []
    plain = bot.post(activities(dm), json={"type": "message", "text": "text only"})
    assert plain.status_code == 201
    assert [m["text"] for m in ms.personal_messages(ADELE)] == ["Ticket #42 escalated", "text only"]


@pytest.mark.parametrize(
    "body",
    [
        {"text": "no type"},
        {"type": "", "text": "x"},
        {"type": "chat", "text": "x"},
        {"type": "message"},
        {"type": "message", "text": ""},
        {"type": "message", "text": 42},
        {"type": "message", "text": "x", "attachments": CARD},
        {"type": "message", "attachments": ["card"]},
        {"type": "message", "attachments": [{"content": {}}]},
        {"type": "message", "attachments": [{**CARD, "content": {"type": "HeroCard"}}]},
    ],
)
def test_activities_teams_refuses(
    ms: FakeMicrosoft, bot: httpx.Client, dm: str, body: dict[str, Any]
) -> None:
    assert_bot_error(bot.post(activities(dm), json=body), 400, "BadArgument")
    assert ms.sent_activities() == []


def test_bodies_that_are_not_json_objects_are_bad_syntax(bot: httpx.Client, dm: str) -> None:
    assert_bot_error(bot.post(activities(dm)), 400, "BadSyntax")
    assert_bot_error(bot.post(activities(dm), json=["x"]), 400, "BadSyntax")
    broken = bot.post(
        "v3/conversations", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert_bot_error(broken, 400, "BadSyntax")


def test_unknown_conversations_and_other_bots_conversations(
    ms: FakeMicrosoft, http: httpx.Client, bot: httpx.Client, dm: str
) -> None:
    text = {"type": "message", "text": "hello"}
    message = assert_bot_error(
        bot.post(activities("a:1nope"), json=text), 404, "ConversationNotFound"
    )
    assert message == "Conversation not found."
    assert_bot_error(
        bot.post(activities(f"{CHANNEL};reply=1"), json=text), 404, "ConversationNotFound"
    )

    ms.add_bot(OTHER_BOT, "other-bot-secret")
    other = http.post(
        "/botframework.com/oauth2/v2.0/token", data=grant(OTHER_BOT, "other-bot-secret", BOT_SCOPE)
    ).json()["access_token"]
    roster = assert_bot_error(
        bot.post(activities(dm), json=text, headers=bearer(other)),
        403,
        "BotNotInConversationRoster",
    )
    assert roster == "The bot is not part of the conversation roster."
    assert_bot_error(
        bot.post(activities(CHANNEL), json=text, headers=bearer(other)),
        403,
        "BotNotInConversationRoster",
    )

    ms.uninstall_bot_for_user(ADELE, BOT_ID)
    assert_bot_error(bot.post(activities(dm), json=text), 403, "BotNotInConversationRoster")
    assert ms.add_personal_conversation(ADELE, BOT_ID) == dm  # installed again, same chat
    assert bot.post(activities(dm), json=text).status_code == 201
    with pytest.raises(KeyError):
        ms.uninstall_bot_for_user(ALEX, BOT_ID)


def test_creating_a_personal_chat_returns_the_users_existing_one(
    ms: FakeMicrosoft, bot: httpx.Client, dm: str
) -> None:
    by_object_id = {"isGroup": False, "members": [{"aadObjectId": ADELE}], "tenantId": TENANT}
    first = bot.post("v3/conversations", json=by_object_id)
    assert first.status_code == 201
    assert first.json() == {"id": dm}
    with_message = {
        "bot": {"id": f"28:{BOT_ID}"},
        "members": [{"id": ADELE}],
        "tenantId": TENANT,
        "activity": {"type": "message", "text": "Hello Adele"},
    }
    second = bot.post("v3/conversations", json=with_message)
    assert second.json() == {"id": dm}
    assert [m["text"] for m in ms.personal_messages(ADELE)] == ["Hello Adele"]

    no_tenant = {"isGroup": False, "members": [{"id": ADELE}]}
    assert_bot_error(bot.post("v3/conversations", json=no_tenant), 400, "BadArgument")
    alex = {"isGroup": False, "members": [{"id": ALEX}], "tenantId": TENANT}
    assert_bot_error(bot.post("v3/conversations", json=alex), 403, "BotNotInConversationRoster")
    two = {"isGroup": False, "members": [{"id": ADELE}, {"id": ALEX}], "tenantId": TENANT}
    assert_bot_error(bot.post("v3/conversations", json=two), 400, "BadSyntax")
    bad_activity = {**by_object_id, "activity": {"type": "message"}}
    assert_bot_error(bot.post("v3/conversations", json=bad_activity), 400, "BadArgument")


def test_unknown_connector_paths_and_methods(bot: httpx.Client, dm: str) -> None:
    assert_bot_error(bot.get(f"v3/conversations/{quote(dm, safe='')}/members"), 404, "NotFound")
    listing = bot.get("v3/conversations")
    assert_bot_error(listing, 405, "MethodNotAllowed")
    assert listing.headers["Allow"] == "POST"
    assert_bot_error(bot.post("v3/attachments/x"), 404, "NotFound")


# -- faults, the request log, secrets ---------------------------------------------------------


def test_faults_on_connector_paths(ms: FakeMicrosoft, bot: httpx.Client, dm: str) -> None:
    ms.inject(connector_fault(429, retry_after=2), method="POST", path="*/v3/conversations")
    ms.inject(
        Fault(status=503, body={"error": {"code": "ServiceError", "message": "busy"}}),
        path="/amer/v3/conversations/*/activities",
    )

    throttled = bot.post("v3/conversations", json=channel_post())
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "2"
    assert throttled.json() == {
        "error": {
            "code": "Throttled",
            "message": "The request was throttled. Retry after the delay.",
        }
    }
    assert bot.post(activities(dm), json={"type": "message", "text": "x"}).status_code == 503
    assert ms.sent_activities() == []

    # The vendor acts and the caller never hears: the message is there, the client saw nothing.
    ms.inject(Fault(disconnect=True), path="/amer/v3/conversations/*/activities")
    with pytest.raises(httpx.RemoteProtocolError):
        bot.post(activities(dm), json={"type": "message", "text": "lost answer"})
    assert [m["text"] for m in ms.personal_messages(ADELE)] == ["lost answer"]
    ms.inject(connector_fault(500), path="/amer/v3/conversations", times=None)
    assert_bot_error(bot.post("v3/conversations", json=channel_post()), 500, "ServiceError")
    ms.clear_faults()
    assert bot.post("v3/conversations", json=channel_post()).status_code == 201
    log = ms.calls("POST", "/amer/v3/*")
    assert [(r.status, r.fault) for r in log] == [
        (429, True),
        (503, True),
        (None, True),
        (500, True),
        (201, False),
    ]
    assert log[0].body == channel_post()


def test_no_answer_or_export_shows_a_token_or_secret(
    ms: FakeMicrosoft, http: httpx.Client, bot_token: str, graph_token: str, dm: str
) -> None:
    service = ms.service_url(SERVICE_BASE)
    answers = [
        http.post(f"{service}v3/conversations", json=channel_post(), headers=bearer(graph_token)),
        http.post(
            f"{service}v3/conversations", json=channel_post(NO_BOT_TEAM), headers=bearer(bot_token)
        ),
        http.post(
            f"{service}{activities('a:1x')}",
            json={"type": "message", "text": "x"},
            headers=bearer(bot_token),
        ),
        http.post(NOTIFY, json=notification(), headers=bearer(bot_token)),
        http.post(
            f"/v1.0/users/{ALEX}/teamwork/sendActivityNotification",
            json=notification(),
            headers=bearer(graph_token),
        ),
        http.post(
            "/botframework.com/oauth2/v2.0/token", data=grant(BOT_ID, BOT_SECRET + "x", BOT_SCOPE)
        ),
    ]
    assert all(a.status_code >= 400 for a in answers)
    for answer in answers:
        exposed = answer.text + json.dumps(dict(answer.headers))
        for value in (bot_token, graph_token, BOT_SECRET, SECRET):
            assert value not in exposed
    exported = json.dumps(http.get("/__sandbox/requests").json())
    for value in (bot_token, graph_token, BOT_SECRET):
        assert value not in exported
    assert f"Bearer {REDACTED}" in exported


# -- seeding ------------------------------------------------------------------------------------


def test_seeding_helpers(ms: FakeMicrosoft) -> None:
    with pytest.raises(ValueError, match="exists"):
        ms.add_team(TEAM)
    with pytest.raises(ValueError, match="is in team"):
        ms.add_team("19:another@thread.tacv2", channels=[CHANNEL])
    with pytest.raises(KeyError):
        ms.install_bot_in_team("19:nope@thread.tacv2", BOT_ID)
    with pytest.raises(KeyError):
        ms.add_channel("19:nope@thread.tacv2", "19:c@thread.tacv2")
    first = ms.add_personal_conversation(ALEX, BOT_ID)
    assert ms.add_personal_conversation(ALEX, BOT_ID) == first
    assert ms.add_personal_conversation(ALEX, OTHER_BOT) != first
    fixed = ms.add_personal_conversation(ADELE, OTHER_BOT, conversation_id="a:1fixed")
    assert fixed == "a:1fixed"
    with pytest.raises(ValueError, match="exists"):
        ms.add_personal_conversation(ALEX, "third-bot", conversation_id="a:1fixed")
    assert ms.service_url("http://127.0.0.1:8080/") == "http://127.0.0.1:8080/amer/"
    assert ms.service_url("http://127.0.0.1:8080", "emea") == "http://127.0.0.1:8080/emea/"
    with pytest.raises(KeyError):
        ms.notifications("nobody")


def test_the_demo_tenant_for_teams(clock: ManualClock) -> None:
    fake = FakeMicrosoft(clock=clock, epoch_origin=EPOCH)
    demo = fake.seed_demo()
    assert set(demo) == {"tenant_id", "client_id", "client_secret", "users", "teams"}
    teams = fake.teams_demo()
    assert demo["teams"] == teams
    assert teams["teams_app_id"] == DEMO_TEAMS_APP_ID
    assert teams["activity_types"] == list(DEMO_ACTIVITY_TYPES)
    assert teams["app_installed_for"] == [demo["users"][0]["id"]]
    assert teams["app_not_installed_for"] == [demo["users"][1]["id"]]
    assert teams["bot"] == {
        "app_id": DEMO_BOT_APP_ID,
        "client_secret": DEMO_BOT_SECRET,
        "tenant_id": DEMO_TENANT_ID,
        "authority": "botframework.com",
    }
    assert teams["service_url_path"] == "/amer/"
    assert [(t["id"], t["name"], t["bot_installed"]) for t in teams["teams"]] == [
        (DEMO_TEAM_ID, "Contoso IT", True),
        (DEMO_TEAM_WITHOUT_BOT_ID, "Contoso Sales", False),
    ]
    assert teams["teams"][0]["channels"] == [
        {"id": DEMO_TEAM_ID, "name": "General"},
        {"id": DEMO_CHANNEL_ID, "name": "Service Desk"},
    ]
    assert teams["channel_id"] == DEMO_CHANNEL_ID
    assert teams["personal_conversations"] == [
        {"user_id": demo["users"][0]["id"], "conversation_id": DEMO_PERSONAL_CONVERSATION_ID}
    ]
    assert FakeMicrosoft().teams_demo()["channel_id"] == DEMO_CHANNEL_ID  # loads the demo


def test_minted_credentials_can_notify_the_demo_mailbox() -> None:
    fake = FakeMicrosoft()
    minted = fake.mint_credentials()
    token = fake.issue_token(minted["tenant_id"], minted["client_id"])
    with httpx.Client(transport=fake.transport(), base_url="https://ms.test") as client:
        answer = client.post(
            f"/v1.0/users/{minted['account']}/teamwork/sendActivityNotification",
            json=notification(),
            headers=bearer(token),
        )
    assert answer.status_code == 204
    assert fake.notifications(DEMO_ACCOUNT)[0]["appId"] == minted["client_id"]


# -- real HTTP ----------------------------------------------------------------------------------


def test_the_demo_over_loopback(clock: ManualClock) -> None:
    """Tokens, a notification, a channel post with a reply, a DM and the refusals, over HTTP."""
    fake = FakeMicrosoft(clock=clock, epoch_origin=EPOCH, token_lifetime=LIFETIME)
    demo = fake.seed_demo()
    teams = fake.teams_demo()
    adele, alex = (u["id"] for u in demo["users"])
    with fake.serve() as server, httpx.Client(timeout=5) as c:
        service_url = fake.service_url(server.base_url)
        assert service_url == server.base_url + teams["service_url_path"]
        graph_token = c.post(
            f"{server.base_url}/{demo['tenant_id']}/oauth2/v2.0/token",
            data=grant(demo["client_id"], demo["client_secret"], GRAPH_SCOPE),
        ).json()["access_token"]
        bot_token = c.post(
            f"{server.base_url}/botframework.com/oauth2/v2.0/token",
            data=grant(teams["bot"]["app_id"], teams["bot"]["client_secret"], BOT_SCOPE),
        ).json()["access_token"]

        def notify(user: str) -> httpx.Response:
            return c.post(
                f"{server.base_url}/v1.0/users/{user}/teamwork/sendActivityNotification",
                json=notification(),
                headers=bearer(graph_token),
            )

        assert notify(adele).status_code == 204
        assert notify(alex).status_code == 403

        def post(channel_id: str) -> httpx.Response:
            return c.post(
                f"{service_url}v3/conversations",
                json=channel_post(channel_id, bot={"id": f"28:{DEMO_BOT_APP_ID}"}),
                headers=bearer(bot_token),
            )

        thread = post(teams["channel_id"])
        assert thread.status_code == 201
        reply = c.post(
            f"{service_url}{activities(thread.json()['id'])}",
            json={"type": "message", "text": "Resolved"},
            headers=bearer(bot_token),
        )
        assert reply.status_code == 201
        assert post(DEMO_TEAM_WITHOUT_BOT_ID).status_code == 403
        dm = c.post(
            f"{service_url.rstrip('/')}/{activities(DEMO_PERSONAL_CONVERSATION_ID)}",
            json={"type": "message", "text": "Your ticket was escalated", "attachments": [CARD]},
            headers=bearer(bot_token),
        )
        assert dm.status_code == 201

        clock.advance(LIFETIME)
        assert post(teams["channel_id"]).status_code == 401

    assert [m["text"] for m in fake.channel_messages(DEMO_CHANNEL_ID)] == [
        "Patch window starts at 22:00",
        "Resolved",
    ]
    assert fake.personal_messages(adele)[0]["attachments"] == [CARD]
    assert [n["userId"] for n in fake.notifications()] == [adele]
