"""Every Teams action over real HTTP, through the executor, on a real worker process.

FakeMicrosoft (identity platform, Graph, Bot Connector) is served on
loopback on the real clock. The tenant is connected with ``patchbay connect
teams --url <PSA> --setting ... --secret teams_client_secret=@file --secret
teams_bot_password=@file`` (checked: both tokens obtained from the fake), with
an app registration and a bot of its own whose secrets are the canaries.
Users are added with ``patchbay user add``; their Microsoft accounts and the
bot's conversation references are recorded through ``store.teams`` (what
``patchbay teams link-user`` / ``reference add`` will do). ``python -m patchbay
worker`` consumes ``patchbay.teams`` (``tests/e2e/deployment.py``). Each test
waits on the ledger, then reads what the fake recorded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from sandbox.core import RunningServer
from sandbox.microsoft import (
    DEMO_ACTIVITY_TYPES,
    DEMO_CHANNEL_ID,
    DEMO_TEAM_ID,
    DEMO_TEAM_WITHOUT_BOT_ID,
    DEMO_TEAMS_APP_ID,
    DEMO_TENANT_ID,
    FakeMicrosoft,
    connector_fault,
)
from store import teams as teams_store
from tests.e2e.deployment import Deployment, cli, deploy

TENANT = "acme-teams"
PSA_URL = "https://psa.example.com"
# The tenant's own profile app and bot, registered in the fake: their secrets are the canaries.
CLIENT_ID = "6a1d0c9e-2b3f-4e5a-9c8d-7e6f5a4b3c2d"
CLIENT_SECRET = "teams-e2e-CANARY-client-secret-4f8a1c"
BOT_APP_ID = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
BOT_PASSWORD = "teams-e2e-CANARY-bot-password-b72e05"
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


@dataclass
class Teams:
    d: Deployment
    fake: FakeMicrosoft
    server: RunningServer
    adele: str  # Entra object ids: the app is installed for Adele, not for Alex
    alex: str
    personal: str  # Adele's personal chat with the tenant's bot
    users: dict[str, uuid.UUID]  # patchbay users: adele, alex (both linked), unlinked

    def activity_posts(self, text: str) -> list[Any]:
        """The requests that sent a message with ``text`` into an existing conversation."""
        return [
            r
            for r in self.fake.calls("POST", "*/v3/conversations/*/activities")
            if isinstance(r.body, dict) and r.body.get("text") == text
        ]

    def thread_posts(self, text: str) -> list[Any]:
        """The requests that started a channel thread with ``text``."""
        return [
            r
            for r in self.fake.calls("POST", "*/v3/conversations")
            if isinstance(r.body, dict)
            and isinstance(r.body.get("activity"), dict)
            and r.body["activity"].get("text") == text
        ]


@pytest.fixture(scope="module")
def teams(postgres_schema: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Teams]:
    tmp = tmp_path_factory.mktemp("teams-http")
    fake = FakeMicrosoft()
    seed = fake.seed_demo()
    adele, alex = seed["users"][0]["id"], seed["users"][1]["id"]
    fake.add_app(DEMO_TENANT_ID, CLIENT_ID, CLIENT_SECRET)
    fake.install_teams_app(
        adele, CLIENT_ID, teams_app_id=DEMO_TEAMS_APP_ID, activity_types=DEMO_ACTIVITY_TYPES
    )
    fake.add_bot(BOT_APP_ID, BOT_PASSWORD)  # multi-tenant: tokens from botframework.com
    fake.install_bot_in_team(DEMO_TEAM_ID, BOT_APP_ID)
    personal = fake.add_personal_conversation(adele, BOT_APP_ID, tenant_id=DEMO_TENANT_ID)
    with contextlib.ExitStack() as cleanup:
        server = fake.serve()
        cleanup.callback(server.stop)
        secret_file, password_file = tmp / "client-secret", tmp / "bot-password"
        secret_file.write_text(CLIENT_SECRET + "\n")
        password_file.write_text(BOT_PASSWORD + "\n")

        def connect() -> None:
            settings = {
                "client_id": CLIENT_ID,
                "aad_tenant": DEMO_TENANT_ID,
                "app_id": DEMO_TEAMS_APP_ID,
                "bot_app_id": BOT_APP_ID,
                "login_url": server.base_url,
                "graph_url": server.base_url,
            }
            out = cli(
                "connect",
                "teams",
                "--tenant",
                TENANT,
                "--url",
                PSA_URL,
                *[
                    arg
                    for name, value in settings.items()
                    for arg in ("--setting", f"{name}={value}")
                ],
                "--secret",
                f"{teams_store.CLIENT_SECRET_NAME}=@{secret_file}",
                "--secret",
                f"{teams_store.BOT_PASSWORD_NAME}=@{password_file}",
            )
            assert "connected teams" in out
            assert "Graph token obtained" in out

        d = cleanup.enter_context(
            deploy(
                postgres_schema=postgres_schema,
                tmp=tmp,
                tenant=TENANT,
                provider="teams",
                connect=connect,
            )
        )
        users = {
            name: uuid.UUID(d.cli("user", "add", name, "--tenant", TENANT).strip())
            for name in ("adele", "alex", "unlinked")
        }
        service_url = fake.service_url(server.base_url)
        with d.store.sessions.begin() as session:
            teams_store.link_user(session, TENANT, users["adele"], adele)
            teams_store.link_user(session, TENANT, users["alex"], alex)
            teams_store.record_reference(
                session,
                TENANT,
                microsoft_user_id=adele,
                conversation_id=personal,
                conversation_type="personal",
                service_url=service_url,
                tenant_id_aad=DEMO_TENANT_ID,
            )
            teams_store.record_reference(
                session,
                TENANT,
                microsoft_user_id=adele,
                conversation_id=DEMO_CHANNEL_ID,
                conversation_type="channel",
                service_url=service_url,
                tenant_id_aad=DEMO_TENANT_ID,
                team_id=DEMO_TEAM_ID,
                channel_id=DEMO_CHANNEL_ID,
            )
        yield Teams(d, fake, server, adele, alex, personal, users)


def test_notify_dm_with_a_card_and_channel_post_each_deliver_once(teams: Teams) -> None:
    d, fake = teams.d, teams.fake
    adele = str(teams.users["adele"])
    card = {
        "title": "Ticket T-1042 escalated",
        "links": [{"title": "Open ticket", "url": f"{PSA_URL}/msp/tickets/1042"}],
    }
    steps: dict[str, dict[str, Any]] = {
        "notify_user": {"user_id": adele, "title": "T-1042 escalated", "message": "SLA at risk"},
        "send_dm": {"user_id": adele, "message": "T-1042 needs you", "card": card},
        "post_to_channel": {"channel_id": DEMO_CHANNEL_ID, "message": "T-1042 escalated to L2"},
    }
    handles = {
        action: d.enqueue(action, args, f"deliver.{action}") for action, args in steps.items()
    }
    out = {action: d.succeeded(d.wait(handle)) for action, handle in handles.items()}

    assert out["notify_user"] == {
        "delivered": True,
        "user_id": adele,
        "activity_type": "workEscalated",
    }
    [notice] = [
        n for n in fake.notifications(teams.adele) if n["topic"]["value"] == "T-1042 escalated"
    ]
    assert (notice["appId"].lower(), notice["teamsAppId"]) == (CLIENT_ID, DEMO_TEAMS_APP_ID)
    assert (notice["activityType"], notice["previewText"]["content"]) == (
        "workEscalated",
        "SLA at risk",
    )
    assert notice["topic"]["webUrl"].startswith("https://teams.microsoft.com/l/entity/")

    dm = out["send_dm"]
    assert (dm["sent"], dm["user_id"], dm["conversation_id"]) == (True, adele, teams.personal)
    [message] = [m for m in fake.personal_messages(teams.adele) if m["text"] == "T-1042 needs you"]
    assert (message["id"], message["conversationId"]) == (dm["activity_id"], teams.personal)
    assert message["botId"].lower() == BOT_APP_ID
    [attachment] = message["attachments"]
    assert attachment["contentType"] == ADAPTIVE_CARD
    content = attachment["content"]
    assert content["type"] == "AdaptiveCard"
    assert content["body"][0]["text"] == "Ticket T-1042 escalated"
    assert content["body"][1]["text"] == "T-1042 needs you"  # the card's text: the message's
    assert content["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open ticket", "url": f"{PSA_URL}/msp/tickets/1042"}
    ]
    assert len(teams.activity_posts("T-1042 needs you")) == 1

    post = out["post_to_channel"]
    assert (post["posted"], post["channel_id"], post["service_url_source"]) == (
        True,
        DEMO_CHANNEL_ID,
        "team",
    )
    [thread] = [
        m for m in fake.channel_messages(DEMO_CHANNEL_ID) if m["text"] == "T-1042 escalated to L2"
    ]
    assert post["conversation_id"] == f"{DEMO_CHANNEL_ID};messageid={thread['threadId']}"
    assert (thread["teamId"], thread["botId"].lower()) == (DEMO_TEAM_ID, BOT_APP_ID)
    assert len(teams.thread_posts("T-1042 escalated to L2")) == 1
    assert all(d.wait(h).attempt == 1 for h in handles.values())


def test_named_failures_through_the_worker(teams: Teams) -> None:
    d, fake = teams.d, teams.fake
    users = teams.users
    steps: dict[str, tuple[str, dict[str, Any]]] = {
        "unlinked-notify": (
            "notify_user",
            {"user_id": str(users["unlinked"]), "title": "nobody to notify"},
        ),
        "unlinked-dm": ("send_dm", {"user_id": str(users["unlinked"]), "message": "nobody"}),
        "no-bot-in-team": (
            "post_to_channel",
            {"channel_id": DEMO_TEAM_WITHOUT_BOT_ID, "message": "sales, hello"},
        ),
        "app-not-installed": (
            "notify_user",
            {"user_id": str(users["alex"]), "title": "Alex has no app"},
        ),
    }
    handles = {
        step: d.enqueue(action, args, f"fail.{step}") for step, (action, args) in steps.items()
    }
    results = {step: d.wait(handle) for step, handle in handles.items()}
    codes = {step: (r.status, (r.error or {}).get("code")) for step, r in results.items()}
    assert codes == {
        "unlinked-notify": ("FAILED", "USER_NOT_LINKED"),
        "unlinked-dm": ("FAILED", "USER_NOT_LINKED"),
        "no-bot-in-team": ("FAILED", "APP_NOT_IN_TEAM"),
        "app-not-installed": ("FAILED", "APP_NOT_INSTALLED"),
    }, (codes, d.worker_log()[-3000:])
    assert all(r.final and r.attempt == 1 for r in results.values())
    not_in_team = results["no-bot-in-team"].error
    assert not_in_team is not None and not_in_team["vendor"]["status"] == 403
    assert "not part of the conversation roster" in not_in_team["message"]
    not_installed = results["app-not-installed"].error
    assert not_installed is not None and "Install the Teams app" in not_installed["message"]

    # Refused once each, never retried, and nothing delivered.
    assert fake.notifications(teams.alex) == []
    assert (
        len(fake.calls("POST", f"/v1.0/users/{teams.alex}/teamwork/sendActivityNotification")) == 1
    )
    assert fake.channel_messages(DEMO_TEAM_WITHOUT_BOT_ID) == []
    assert len(teams.thread_posts("sales, hello")) == 1
    assert teams.activity_posts("nobody") == []


def test_a_connector_5xx_after_the_post_sends_no_second_message(teams: Teams) -> None:
    """The connector acts, then answers 5xx: OUTCOME_UNKNOWN, one message, no retry."""
    d, fake = teams.d, teams.fake
    dm_text, post_text = "lost answer DM", "lost answer post"
    # ``times=1``: a second POST (a retry) would be answered normally and show up as a 2nd message.
    fake.inject(
        dataclasses.replace(connector_fault(503), after=True),
        method="POST",
        path="*/v3/conversations/*/activities",
    )
    fake.inject(
        dataclasses.replace(connector_fault(502), after=True),
        method="POST",
        path="*/v3/conversations",
    )
    try:
        dm = d.enqueue(
            "send_dm", {"user_id": str(teams.users["adele"]), "message": dm_text}, "5xx.dm"
        )
        post = d.enqueue(
            "post_to_channel", {"channel_id": DEMO_CHANNEL_ID, "message": post_text}, "5xx.post"
        )
        results = {"dm": d.wait(dm), "post": d.wait(post)}
    finally:
        fake.clear_faults()
    for name, result in results.items():
        assert (result.status, result.final, result.attempt) == ("FAILED", True, 1), (
            name,
            result.error,
        )
        assert result.error is not None and result.error["code"] == "OUTCOME_UNKNOWN", result.error
    # The fake carried each request out once (the lost answers) and saw no second one.
    assert [m["text"] for m in fake.personal_messages(teams.adele)].count(dm_text) == 1
    assert len(teams.activity_posts(dm_text)) == 1
    assert [m["text"] for m in fake.channel_messages(DEMO_CHANNEL_ID)].count(post_text) == 1
    assert len(teams.thread_posts(post_text)) == 1
    assert all(r.fault for r in [*teams.activity_posts(dm_text), *teams.thread_posts(post_text)])


def test_the_canary_secrets_are_in_no_record(teams: Teams) -> None:
    d, fake = teams.d, teams.fake
    assert any(t.client_id.lower() == CLIENT_ID for t in fake.issued_tokens)
    assert any(t.client_id.lower() == BOT_APP_ID for t in fake.issued_tokens)
    tokens = [t.token for t in fake.issued_tokens if t.client_id.lower() in (CLIENT_ID, BOT_APP_ID)]
    d.assert_nowhere([CLIENT_SECRET, BOT_PASSWORD, *tokens])
