"""One tenant's Teams set-up never serves another; the secrets and tokens never leak.

A second tenant (``globex``) with its own users, links and conversation
references: none of them is ever used for ``acme``'s steps, even when both
know the same Microsoft user. The canary secrets, and every access token the
fake issued, never show up in an error, an output, a ledger row, a log line
or the fake's exported request log.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from sandbox.core import Fault
from sandbox.microsoft import (
    DEMO_BOT_APP_ID,
    DEMO_BOT_SECRET,
    DEMO_CHANNEL_ID,
    DEMO_PERSONAL_CONVERSATION_ID,
    DEMO_TEAM_ID,
    DEMO_TEAM_WITHOUT_BOT_ID,
    DEMO_TENANT_ID,
    connector_fault,
    graph_fault,
)
from store import teams as stored
from store.tenants import create_tenant
from tests.integrations.teams.conftest import (
    ACTIVITIES_PATH,
    BOT_APP_ID,
    CANARIES,
    CLIENT_ID,
    CONVERSATIONS_PATH,
    NOTIFY_PATH,
    OTHER_TENANT,
    TeamsHarness,
    both_backends,
    error_of,
    teams_settings,
)

POST_ARGS = {"channel_id": DEMO_CHANNEL_ID, "message": "Hello"}


@pytest.fixture
def globex(harness: TeamsHarness) -> TeamsHarness:
    """``globex``, connected to the demo app and bot, Adele linked, its own references."""
    other = harness.as_tenant(OTHER_TENANT)
    seed = harness.seed
    other.connect_teams(
        teams_settings(harness.url, client_id=seed["client_id"], bot_app_id=DEMO_BOT_APP_ID),
        url="https://psa.globex.example",
    )
    other.set_secret(stored.CLIENT_SECRET_NAME, seed["client_secret"])
    other.set_secret(stored.BOT_PASSWORD_NAME, DEMO_BOT_SECRET)
    user = other.new_user("gtech")
    other.link(user, harness.adele_id)
    other.tech = user
    other.record(DEMO_PERSONAL_CONVERSATION_ID, "personal", at=harness.clock() + timedelta(hours=1))
    other.record(
        DEMO_CHANNEL_ID,
        "channel",
        service_url=harness.fake.service_url(harness.url, region="emea"),
        team_id=DEMO_TEAM_ID,
        channel_id=DEMO_CHANNEL_ID,
        at=harness.clock() + timedelta(hours=1),
    )
    return other


@both_backends
def test_each_tenant_uses_its_own_app_bot_and_tokens(
    harness: TeamsHarness, globex: TeamsHarness
) -> None:
    harness.ok("notify_user", harness.notify())
    globex.ok("notify_user", globex.notify())
    harness.ok("send_dm", harness.dm())
    globex.ok("send_dm", globex.dm())
    assert [n["appId"] for n in harness.fake.notifications(harness.adele_id)] == [
        CLIENT_ID,
        harness.seed["client_id"],
    ]
    messages = harness.fake.personal_messages(harness.adele_id)
    assert [(m["botId"], m["conversationId"]) for m in messages] == [
        (BOT_APP_ID, harness.personal_conversation),
        (DEMO_BOT_APP_ID, DEMO_PERSONAL_CONVERSATION_ID),
    ]
    # Two tenants, two cached tokens for each API.
    assert len(harness.fake.calls("POST", "*/oauth2/v2.0/token")) == 4


@both_backends
def test_another_tenants_personal_conversation_is_never_used(
    harness: TeamsHarness, globex: TeamsHarness
) -> None:
    harness.forget_references()
    error = harness.error("send_dm", harness.dm())
    assert error["code"] == "NO_CONVERSATION"
    assert harness.vendor_calls() == 0


@both_backends
def test_another_tenants_service_urls_are_never_used(
    harness: TeamsHarness, globex: TeamsHarness
) -> None:
    harness.forget_references()
    assert harness.error("post_to_channel", POST_ARGS)["code"] == "NO_SERVICE_URL"
    # With only its own personal reference, acme uses that (not globex's team reference).
    harness.record(harness.personal_conversation, "personal")
    out = harness.ok("post_to_channel", POST_ARGS)
    assert out["service_url_source"] == "tenant_latest"
    [request] = harness.fake.calls("POST", CONVERSATIONS_PATH)
    assert request.path == "/amer/v3/conversations"


@both_backends
def test_another_tenants_users_are_not_linked_here(
    harness: TeamsHarness, globex: TeamsHarness
) -> None:
    for action, args in (
        ("notify_user", harness.notify(globex.tech)),
        ("send_dm", harness.dm(globex.tech)),
    ):
        error = harness.error(action, args)
        assert error["code"] == "USER_NOT_LINKED"
    assert harness.vendor_calls() == 0


@both_backends
def test_a_tenant_without_teams_is_inactive_even_when_another_has_it(
    harness: TeamsHarness, globex: TeamsHarness
) -> None:
    third = harness.as_tenant("initech")
    with harness.store.sessions.begin() as session:
        create_tenant(session, "initech")
    error = third.error("send_dm", harness.dm())
    assert error["code"] == "INTEGRATION_INACTIVE"
    assert harness.vendor_calls() == 0


# -- the canaries --------------------------------------------------------------------------


def test_secrets_and_tokens_never_reach_errors_outputs_ledger_rows_logs_or_the_request_log(
    harness: TeamsHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []

    def keep(payload: object) -> None:
        texts.append(json.dumps(payload))

    keep(harness.ok("notify_user", harness.notify()))
    keep(harness.ok("send_dm", harness.dm(card={"title": "C", "links": []})))
    keep(harness.ok("post_to_channel", POST_ARGS))
    keep(harness.error("notify_user", harness.notify(harness.alex)))  # 403
    keep(harness.error("post_to_channel", {**POST_ARGS, "channel_id": DEMO_TEAM_WITHOUT_BOT_ID}))
    harness.fake.inject(Fault(status=500, body={"error": "x"}, after=True), path=NOTIFY_PATH)
    keep(harness.error("notify_user", harness.notify()))  # outcome unknown
    harness.fake.inject(connector_fault(429, retry_after=1), path=ACTIVITIES_PATH)
    harness.run("send_dm", harness.dm())
    harness.fake.expire_tokens()  # a 401 and a refresh
    harness.clock.advance(5)
    keep(harness.ok("send_dm", harness.dm(message="after refresh")))
    harness.fake.inject(graph_fault(503), path=f"/{DEMO_TENANT_ID}/oauth2/v2.0/token")
    harness.delete_secret("teams_graph_token")
    harness.run("notify_user", harness.notify())
    harness.set_secret(stored.CLIENT_SECRET_NAME, "wrong-secret-value")
    keep(error_of(harness.run("notify_user", harness.notify(title="refused"))))
    harness.record(
        harness.personal_conversation,
        "personal",
        service_url=f"http://bot:{CANARIES[1]}@127.0.0.1:1/amer/",
    )
    keep(harness.error("send_dm", harness.dm()))
    texts += harness.ledger_texts()
    texts.append(caplog.text)
    exported = harness.vendor_requests()
    assert exported
    assert all(r["headers"].get("authorization", "Bearer ***") == "Bearer ***" for r in exported)
    texts.append(json.dumps(exported))
    secrets = [*CANARIES, *(t.token for t in harness.fake.issued_tokens)]
    assert len(secrets) > len(CANARIES) + 2  # Graph and bot tokens, and their replacements
    for text in texts:
        for secret in secrets:
            assert secret not in text
