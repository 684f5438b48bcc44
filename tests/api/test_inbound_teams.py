"""The Teams bot's messaging endpoint: only the Bot Connector's signed activities are recorded.

The tokens are the sandbox's fake identity platform's, which publishes its
own signing keys on loopback; the endpoint fetches them through the outbound
policy exactly as it would Microsoft's. Every refusal leaves nothing recorded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from api.context import ApiContext
from api.errors import ErrorPayload
from api.inbound import inbound_routers
from api.inbound.botframework import (
    DEFAULT_METADATA_URL,
    ConnectorTokenVerifier,
    MetadataURLRefused,
)
from executor.api import Executor
from executor.app import ExecutorRuntime
from executor.settings import Settings
from sandbox.core import Fault, ManualClock
from sandbox.microsoft import FakeMicrosoft
from sandbox.microsoft.botframework import BOT_KEYS_PATH
from store import Store
from store import connections as conn
from store.tenants import create_tenant
from tests.api.inbound_support import (
    AAD_TENANT,
    ADELE,
    BOT_APP_ID,
    CHANNEL,
    MAX_BODY,
    OTHER_BOT_APP_ID,
    PERSONAL,
    SERVICE_URL,
    TEAM,
    TENANT,
    channel_activity,
    connect_teams,
    inbound_client,
    personal_activity,
    references,
)

Activity = dict[str, Any]


@dataclass
class Bot:
    """The endpoint's app, the fake that signs for the Bot Connector, and the verifier's clock."""

    fake: FakeMicrosoft
    fake_url: str
    client: httpx.Client
    store: Store
    clock: ManualClock

    def post(
        self,
        activity: Activity,
        *,
        tenant: str = TENANT,
        authorization: str | None = None,
        **sign: Any,
    ) -> httpx.Response:
        """POST ``activity`` with the token the Bot Connector would send (or ``authorization``)."""
        if authorization is None:
            authorization = self.fake.bot_authorization(
                activity, sign.pop("bot", BOT_APP_ID), **sign
            )
        return self.client.post(
            f"/inbound/teams/{tenant}/messages",
            content=json.dumps(activity).encode(),
            headers={"Authorization": authorization, "Content-Type": "application/json"},
        )

    def key_fetches(self) -> int:
        return self.fake.count("GET", BOT_KEYS_PATH)


@pytest.fixture
def bot(settings: Settings, store: Store) -> Iterator[Bot]:
    fake = FakeMicrosoft()
    clock = ManualClock()
    with fake.serve() as server:
        configured = settings.model_copy(
            update={
                "sandbox": True,
                "bot_openid_metadata_url": fake.bot_openid_metadata_url(server.base_url),
            }
        )
        verifier = ConnectorTokenVerifier.from_settings(configured, clock=clock)
        connect_teams(store)
        with inbound_client(configured, verifier=verifier) as client:
            yield Bot(fake, server.base_url, client, store, clock)


def refused(response: httpx.Response, status: int, reason: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    ErrorPayload.model_validate(body)
    assert body["details"]["reason"] == reason, body
    return body


# -- accepted ----------------------------------------------------------------------------------


def test_a_signed_personal_activity_records_the_conversation(bot: Bot) -> None:
    response = bot.post(personal_activity())
    assert (response.status_code, response.json()) == (200, {})
    [ref] = references(bot.store)
    assert (ref.tenant, ref.microsoft_user_id, ref.conversation_id) == (
        TENANT,
        ADELE.lower(),
        PERSONAL,
    )
    assert (ref.conversation_type, ref.service_url) == ("personal", SERVICE_URL.rstrip("/"))
    assert (ref.tenant_id_aad, ref.channel_id_bot_framework) == (AAD_TENANT, "msteams")
    assert ref.last_activity_at is not None

    # Another activity in the same chat refreshes the one reference.
    assert bot.post(personal_activity(activity_type="conversationUpdate")).status_code == 200
    assert len(references(bot.store)) == 1


def test_a_signed_channel_activity_records_the_channel_with_its_team(bot: Bot) -> None:
    activity = channel_activity()
    assert bot.post(activity).status_code == 200
    [ref] = references(bot.store)
    assert (ref.conversation_type, ref.conversation_id) == (
        "channel",
        f"{CHANNEL};messageid=1736928000000",
    )
    assert ref.context == {"team_id": TEAM, "channel_id": CHANNEL}


def test_a_loopback_service_url_is_recorded_in_sandbox_mode(bot: Bot) -> None:
    service_url = "http://127.0.0.1:3978/amer/"
    assert bot.post(personal_activity(service_url)).status_code == 200
    [ref] = references(bot.store)
    assert ref.service_url == "http://127.0.0.1:3978/amer"


def test_a_token_just_past_its_expiry_passes_within_the_five_minutes_of_skew(bot: Bot) -> None:
    just_expired = time.time() - 3600 - 120
    assert bot.post(personal_activity(), issued_at=just_expired).status_code == 200


def test_an_activity_saying_the_bot_was_removed_records_nothing(bot: Bot) -> None:
    activity = personal_activity(activity_type="installationUpdate")
    activity["action"] = "remove"
    assert bot.post(activity).status_code == 200
    removed = channel_activity()
    removed["type"] = "conversationUpdate"
    removed["membersRemoved"] = [{"id": f"28:{BOT_APP_ID}"}]
    assert bot.post(removed).status_code == 200
    assert references(bot.store) == []


# -- refused: the token ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        ("", "missing"),
        ("Basic dXNlcjpwYXNz", "malformed"),
        ("Bearer", "malformed"),
        ("Bearer not.a.jwt", "malformed"),
    ],
)
def test_a_request_without_a_bearer_jwt_is_401(bot: Bot, authorization: str, reason: str) -> None:
    if authorization:
        response = bot.post(personal_activity(), authorization=authorization)
    else:
        response = bot.client.post(f"/inbound/teams/{TENANT}/messages", json=personal_activity())
    body = refused(response, 401, reason)
    assert body["code"] == "UNAUTHENTICATED"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert references(bot.store) == []


def test_an_unsigned_token_is_401(bot: Bot) -> None:
    refused(bot.post(personal_activity(), algorithm="none"), 401, "unsigned")
    assert references(bot.store) == []


def test_an_hmac_token_keyed_with_the_published_public_key_is_401(bot: Bot) -> None:
    """Key confusion: HS256 with the published RSA key as the secret is never accepted."""
    [jwk] = httpx.get(bot.fake_url + BOT_KEYS_PATH).json()["keys"]
    public_pem = jwt.PyJWK(jwk, algorithm="RS256").key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": jwk["kid"]}
    claims = {
        "iss": "https://api.botframework.com",
        "aud": BOT_APP_ID,
        "serviceurl": SERVICE_URL,
        "exp": int(time.time()) + 600,
    }
    signing_input = ".".join(segment(json.dumps(part).encode()) for part in (header, claims))
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{segment(mac)}"
    refused(bot.post(personal_activity(), authorization=f"Bearer {token}"), 401, "bad_algorithm")
    assert references(bot.store) == []


def segment(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_an_expired_token_is_401(bot: Bot) -> None:
    long_ago = time.time() - 7200
    refused(bot.post(personal_activity(), issued_at=long_ago, lifetime=3600), 401, "expired")
    assert references(bot.store) == []


def test_a_token_not_valid_yet_is_401(bot: Bot) -> None:
    later = time.time() + 3600
    refused(bot.post(personal_activity(), issued_at=later), 401, "not_yet_valid")
    assert references(bot.store) == []


def test_a_token_for_another_bot_is_401(bot: Bot) -> None:
    refused(bot.post(personal_activity(), bot=OTHER_BOT_APP_ID), 401, "wrong_audience")
    assert references(bot.store) == []


def test_a_token_of_another_issuer_is_401(bot: Bot) -> None:
    issuer = "https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/"
    refused(bot.post(personal_activity(), issuer=issuer), 401, "wrong_issuer")
    assert references(bot.store) == []


def test_a_token_signed_by_a_key_not_published_is_401(bot: Bot) -> None:
    held = bot.fake.add_bot_signing_key(publish=False)
    refused(bot.post(personal_activity(), key=held), 401, "unknown_key")
    # The same key claiming a published key's id: the signature does not verify.
    published = bot.fake.current_bot_signing_key
    refused(bot.post(personal_activity(), key=held, kid=published), 401, "bad_signature")
    assert references(bot.store) == []


def test_a_new_published_key_is_fetched_once_and_accepted(bot: Bot) -> None:
    assert bot.post(personal_activity()).status_code == 200
    assert bot.key_fetches() == 1
    rotated = bot.fake.rotate_bot_signing_key()
    bot.clock.advance(11)  # past the refetch cooldown
    assert bot.post(channel_activity(), key=rotated).status_code == 200
    assert bot.key_fetches() == 2
    assert len(references(bot.store)) == 2
    # Known keys are not fetched again.
    assert bot.post(personal_activity()).status_code == 200
    assert bot.key_fetches() == 2


def test_unknown_kids_refetch_at_most_once_per_cooldown(bot: Bot) -> None:
    assert bot.post(personal_activity()).status_code == 200
    bot.clock.advance(11)
    for _ in range(3):
        forged = bot.fake.add_bot_signing_key(publish=False)
        refused(bot.post(personal_activity(), key=forged), 401, "unknown_key")
    assert bot.key_fetches() == 2
    # A key published meanwhile is found once the cooldown has passed.
    late = bot.fake.add_bot_signing_key()
    refused(bot.post(personal_activity(), key=late), 401, "unknown_key")
    bot.clock.advance(11)
    assert bot.post(personal_activity(), key=late).status_code == 200


def test_the_keys_are_refetched_after_their_ttl_and_a_retired_key_then_fails(bot: Bot) -> None:
    old = bot.fake.current_bot_signing_key
    assert bot.post(personal_activity()).status_code == 200
    bot.fake.rotate_bot_signing_key(retire_previous=True)
    assert bot.post(personal_activity(), key=old).status_code == 200  # still cached
    bot.clock.advance(6 * 3600)
    refused(bot.post(personal_activity(), key=old), 401, "unknown_key")


def test_a_service_url_claim_other_than_the_activitys_is_401(bot: Bot) -> None:
    activity = personal_activity()
    other = "https://smba.trafficmanager.net/emea/"
    refused(bot.post(activity, service_url=other), 401, "service_url_mismatch")
    refused(bot.post(activity, claims={"serviceurl": None}), 401, "missing_claim")
    assert references(bot.store) == []


def test_a_key_not_endorsed_for_teams_is_403(bot: Bot) -> None:
    skype_only = bot.fake.rotate_bot_signing_key(endorsements=("skype",))
    bot.clock.advance(11)
    refused(bot.post(personal_activity(), key=skype_only), 403, "not_endorsed")
    assert references(bot.store) == []


def test_no_keys_to_verify_with_is_503_not_a_verdict(bot: Bot) -> None:
    bot.fake.inject(Fault(status=500), path="/v1/.well-known/openidconfiguration")
    response = bot.post(personal_activity())
    refused(response, 503, "keys_unavailable")
    assert response.headers["Retry-After"]
    bot.clock.advance(11)
    assert bot.post(personal_activity()).status_code == 200


# -- refused: the activity and the tenant ----------------------------------------------------


def test_an_untrusted_service_url_is_400_even_when_signed(bot: Bot) -> None:
    # A token whose claim names the attacker's host too: the URL itself is refused.
    activity = personal_activity("https://attacker.trafficmanager.net/")
    body = refused(bot.post(activity), 400, "untrusted_service_url")
    assert "attacker.trafficmanager.net" in body["message"]
    assert references(bot.store) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"conversation": {"id": PERSONAL}}, "conversationType"),
        ({"channelId": "webchat"}, "channelId"),
        ({"from": {"name": "nobody"}}, "from"),
    ],
)
def test_a_malformed_activity_is_400(bot: Bot, change: Activity, field: str) -> None:
    activity = personal_activity() | change
    if activity["channelId"] != "msteams":
        bot.fake.rotate_bot_signing_key(endorsements=("msteams", "webchat"))
        bot.clock.advance(11)
    body = refused(bot.post(activity), 400, "malformed")
    assert field in body["message"]
    assert references(bot.store) == []


def test_a_body_that_is_not_an_activity_is_400(bot: Bot) -> None:
    token = bot.fake.sign_bot_activity(personal_activity(), BOT_APP_ID)
    for body in (b"not json", b"[]", b'{"type": "message"}'):
        response = bot.client.post(
            f"/inbound/teams/{TENANT}/messages",
            content=body,
            headers={"Authorization": f"Bearer {token}"},
        )
        refused(response, 400, "malformed")


def test_an_unverified_caller_learns_nothing_about_its_body(bot: Bot) -> None:
    """The token is judged before the body: 401 whatever the body, never 400."""
    for body in (b"not json", b"[]", b"{}"):
        for authorization in ("Bearer not.a.jwt", "Bearer pb_some_api_token"):
            response = bot.client.post(
                f"/inbound/teams/{TENANT}/messages",
                content=body,
                headers={"Authorization": authorization},
            )
            refused(response, 401, "malformed")


def test_a_tenant_without_teams_is_404_and_nothing_is_recorded(bot: Bot) -> None:
    with bot.store.sessions.begin() as session:
        create_tenant(session, "globex")
    unknown = refused(bot.post(personal_activity(), tenant="nobody"), 404, "not_connected")
    without = refused(bot.post(personal_activity(), tenant="globex"), 404, "not_connected")
    assert unknown["message"] == without["message"]
    with bot.store.sessions.begin() as session:
        conn.disconnect(session, TENANT, "teams", kind="teams")
    refused(bot.post(personal_activity()), 404, "not_connected")
    assert references(bot.store) == []


def test_an_unsigned_request_to_a_tenant_without_teams_learns_nothing(bot: Bot) -> None:
    response = bot.post(personal_activity(), tenant="nobody", algorithm="none")
    refused(response, 401, "unsigned")


@pytest.mark.parametrize("chunked", [False, True])
def test_an_oversize_body_is_413(bot: Bot, chunked: bool) -> None:
    activity = personal_activity()
    activity["text"] = "x" * MAX_BODY
    content = json.dumps(activity).encode()
    headers = {"Authorization": bot.fake.bot_authorization(activity, BOT_APP_ID)}

    def pieces() -> Iterator[bytes]:
        for i in range(0, len(content), 1024):
            yield content[i : i + 1024]

    response = bot.client.post(
        f"/inbound/teams/{TENANT}/messages",
        content=pieces() if chunked else content,
        headers=headers,
    )
    refused(response, 413, "too_large")
    assert references(bot.store) == []
    assert bot.key_fetches() == 0  # refused before the token was looked at


# -- the metadata URL ------------------------------------------------------------------------


@pytest.mark.parametrize("sandbox", [False, True])
def test_a_metadata_url_off_microsofts_host_is_refused(settings: Settings, sandbox: bool) -> None:
    elsewhere = "https://login.botframework.example.com/v1/.well-known/openidconfiguration"
    with pytest.raises(MetadataURLRefused, match="PATCHBAY_BOT_OPENID_METADATA_URL"):
        ConnectorTokenVerifier(elsewhere, sandbox=sandbox)
    with pytest.raises(MetadataURLRefused):
        ConnectorTokenVerifier(DEFAULT_METADATA_URL.replace("https", "http"), sandbox=sandbox)
    assert ConnectorTokenVerifier(DEFAULT_METADATA_URL, sandbox=sandbox).metadata_url == (
        DEFAULT_METADATA_URL
    )


def test_a_loopback_metadata_url_stops_the_routers_outside_sandbox_mode(settings: Settings) -> None:
    loopback = "http://127.0.0.1:8999/v1/.well-known/openidconfiguration"
    runtime = ExecutorRuntime(
        settings.model_copy(update={"sandbox": False, "bot_openid_metadata_url": loopback})
    )
    try:
        ctx = ApiContext(executor=Executor(runtime))
        with pytest.raises(MetadataURLRefused, match="sandbox mode"):
            inbound_routers(ctx)
    finally:
        runtime.close()


def test_a_jwks_uri_off_the_policy_is_never_fetched(bot: Bot) -> None:
    """The metadata may not send the verifier elsewhere: no keys, so 503, and no request."""
    metadata = {
        "issuer": "https://api.botframework.com",
        "jwks_uri": "https://keys.attacker.example/v1/.well-known/keys",
        "id_token_signing_alg_values_supported": ["RS256"],
    }
    bot.fake.inject(Fault(status=200, body=metadata), path="/v1/.well-known/openidconfiguration")
    refused(bot.post(personal_activity()), 503, "keys_unavailable")
    assert bot.key_fetches() == 0
