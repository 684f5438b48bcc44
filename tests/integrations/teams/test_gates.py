"""What every Teams step checks before it calls Microsoft, in the reference's order.

Each refusal names what is wrong in the reference's words and sends nothing:
not a notification, not a message, not even a token request.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sandbox.microsoft import DEMO_CHANNEL_ID, DEMO_TEAM_ID
from store import teams as stored
from store.connections import TEAMS_ADDON_KEY
from store.models import TeamsIntegration, TenantAddon
from store.types import utcnow
from tests.integrations.teams.conftest import (
    BOT_APP_ID,
    CANARY_BOT_SECRET,
    TeamsHarness,
    both_backends,
    rejection_of,
)

ADDON_INACTIVE = "The Teams add-on is not active for this tenant."
NOT_INSTALLED = (
    "The Teams integration is not installed and active for this tenant. Configure it under "
    "Settings > Integrations."
)
MISSING_SETUP = (
    "The Teams integration is missing its Microsoft profile, app ID, or package base URL."
)
PROFILE_UNUSABLE = "The Microsoft profile selected for Teams is missing or archived."
NO_CLIENT_SECRET = (
    "Selected Teams Microsoft profile is missing the client secret required for Graph delivery."
)
NO_BOT_CREDENTIALS = "Teams bot credentials are not configured"


def every_action(harness: TeamsHarness) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("notify_user", harness.notify()),
        ("send_dm", harness.dm()),
        ("post_to_channel", {"channel_id": DEMO_CHANNEL_ID, "message": "Hello"}),
    ]


def assert_refused_before_any_request(
    harness: TeamsHarness, code: str, message: str
) -> list[dict[str, Any]]:
    """Every action fails with ``code`` and a message starting with ``message``; nothing sent."""
    errors = []
    for action, args in every_action(harness):
        error = harness.error(action, args)
        assert error["code"] == code, (action, error)
        assert error["message"].startswith(message), (action, error["message"])
        assert error["retryable"] is False
        errors.append(error)
    assert harness.vendor_calls() == 0
    return errors


# -- 1, 2: the add-on and the install --------------------------------------------------------


def _set_addon_expiry(harness: TeamsHarness, expires_at: datetime | None, *, drop: bool) -> None:
    with harness.store.sessions.begin() as session:
        addon = session.get(TenantAddon, (harness.tenant, TEAMS_ADDON_KEY))
        assert addon is not None
        if drop:
            session.delete(addon)
        else:
            addon.expires_at = expires_at


@both_backends
def test_without_the_teams_add_on_every_action_is_inactive(harness: TeamsHarness) -> None:
    _set_addon_expiry(harness, None, drop=True)
    assert_refused_before_any_request(harness, "INTEGRATION_INACTIVE", ADDON_INACTIVE)


@both_backends
def test_an_expired_add_on_is_inactive_and_one_expiring_later_is_active(
    harness: TeamsHarness,
) -> None:
    _set_addon_expiry(harness, utcnow() - timedelta(minutes=1), drop=False)
    assert_refused_before_any_request(harness, "INTEGRATION_INACTIVE", ADDON_INACTIVE)
    _set_addon_expiry(harness, utcnow() + timedelta(days=30), drop=False)
    assert harness.ok("notify_user", harness.notify())["delivered"] is True


@both_backends
def test_an_install_that_is_not_active_is_inactive(harness: TeamsHarness) -> None:
    for status in ("not_configured", "install_pending", "error"):
        harness.update_integration(install_status=status)
        assert_refused_before_any_request(harness, "INTEGRATION_INACTIVE", NOT_INSTALLED)


def test_the_add_on_is_checked_before_the_install(harness: TeamsHarness) -> None:
    harness.update_integration(install_status="install_pending")
    _set_addon_expiry(harness, None, drop=True)
    assert_refused_before_any_request(harness, "INTEGRATION_INACTIVE", ADDON_INACTIVE)


# -- 3, 4: profile, app id, base URL ------------------------------------------------------------


MISSING_SETUP_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"selected_profile_id": None}, ["profile"]),
    ({"app_id": None}, ["app_id"]),
    ({"app_id": "   "}, ["app_id"]),
    ({"package_metadata": {}}, ["base_url"]),
    ({"package_metadata": {"baseUrl": "  "}}, ["base_url"]),
    ({"package_metadata": json.dumps({"loginUrl": "x"})}, ["base_url"]),
    ({"package_metadata": "not json"}, ["base_url"]),
    ({"selected_profile_id": None, "app_id": None}, ["profile", "app_id"]),
]


@both_backends
def test_a_missing_profile_app_id_or_base_url_is_misconfigured(harness: TeamsHarness) -> None:
    with harness.store.sessions() as session:
        row = session.get(TeamsIntegration, harness.tenant)
        assert row is not None
        original = {
            "selected_profile_id": row.selected_profile_id,
            "app_id": row.app_id,
            "package_metadata": dict(row.package_metadata),
        }
    for change, missing in MISSING_SETUP_CASES:
        harness.update_integration(**change)
        errors = assert_refused_before_any_request(
            harness, "INTEGRATION_MISCONFIGURED", MISSING_SETUP
        )
        assert all(error["details"]["missing"] == missing for error in errors), change
        assert "patchbay connect teams --tenant acme" in errors[0]["message"]
        harness.update_integration(**original)
    # Put back, the set-up works again: the cases were refused for what they changed.
    assert harness.ok("notify_user", harness.notify())["delivered"] is True


@both_backends
def test_an_archived_profile_is_misconfigured(harness: TeamsHarness) -> None:
    with harness.store.sessions.begin() as session:
        row = session.get(TeamsIntegration, harness.tenant)
        assert row is not None
        profile = stored.selected_profile(session, row)
        assert profile is not None
        profile.is_archived = True
        profile_id = str(profile.profile_id)
    errors = assert_refused_before_any_request(
        harness, "INTEGRATION_MISCONFIGURED", PROFILE_UNUSABLE
    )
    assert errors[0]["details"] == {"profile_id": profile_id}


# -- credentials -----------------------------------------------------------------------------


def test_a_missing_client_secret_refuses_notifications(harness: TeamsHarness) -> None:
    harness.delete_secret(stored.CLIENT_SECRET_NAME)
    error = harness.error("notify_user", harness.notify())
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert error["message"].startswith(NO_CLIENT_SECRET)
    assert harness.vendor_calls() == 0
    # The bot's steps do not need the profile's secret.
    assert harness.ok("send_dm", harness.dm())["sent"] is True


def test_a_missing_client_secret_names_the_secret_to_set(harness: TeamsHarness) -> None:
    harness.delete_secret(stored.CLIENT_SECRET_NAME)
    error = harness.error("notify_user", harness.notify())
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    # The fix is `--secret teams_client_secret=...`: the error must say which secret.
    assert stored.CLIENT_SECRET_NAME in json.dumps(error)


def test_a_blank_client_secret_is_missing(harness: TeamsHarness) -> None:
    harness.set_secret(stored.CLIENT_SECRET_NAME, "   ")
    error = harness.error("notify_user", harness.notify())
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert error["message"].startswith(NO_CLIENT_SECRET)
    assert harness.vendor_calls() == 0


def test_missing_bot_credentials_refuse_the_bots_steps(harness: TeamsHarness) -> None:
    cases = [
        (True, False, ["bot_app_id"]),
        (False, True, [stored.BOT_PASSWORD_NAME]),
        (True, True, ["bot_app_id", stored.BOT_PASSWORD_NAME]),
    ]
    for no_bot_id, no_password, named in cases:
        harness.update_integration(bot_id=None if no_bot_id else BOT_APP_ID)
        if no_password:
            harness.delete_secret(stored.BOT_PASSWORD_NAME)
        else:
            harness.set_secret(stored.BOT_PASSWORD_NAME, CANARY_BOT_SECRET)
        for action, args in every_action(harness)[1:]:
            error = harness.error(action, args)
            assert error["code"] == "INTEGRATION_MISCONFIGURED", (action, named)
            assert error["message"].startswith(NO_BOT_CREDENTIALS)
            for name in named:
                assert name in error["message"]
            assert len(error["details"]["missing"]) == len(named)
    assert harness.vendor_calls() == 0
    # Notifications do not use the bot.
    assert harness.ok("notify_user", harness.notify())["delivered"] is True


def test_a_refused_client_secret_is_misconfigured_naming_microsofts_code(
    harness: TeamsHarness,
) -> None:
    harness.set_secret(stored.CLIENT_SECRET_NAME, "not-the-secret")
    error = harness.error("notify_user", harness.notify())
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert "invalid_client" in error["message"]
    assert stored.CLIENT_SECRET_NAME in error["message"]
    assert harness.fake.count("POST", "/v1.0/*") == 0


def test_a_refused_bot_password_is_misconfigured(harness: TeamsHarness) -> None:
    harness.set_secret(stored.BOT_PASSWORD_NAME, "not-the-password")
    error = harness.error("send_dm", harness.dm())
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert "invalid_client" in error["message"]
    assert stored.BOT_PASSWORD_NAME in error["message"]
    assert harness.fake.sent_activities() == []


# -- notify_user's capability, linked accounts ---------------------------------------------------


def test_notifications_turned_off_are_capability_disabled(harness: TeamsHarness) -> None:
    harness.connect_teams({"activity_notifications": "off"})
    error = harness.error("notify_user", harness.notify())
    assert error["code"] == "CAPABILITY_DISABLED"
    assert error["message"].startswith(
        "Activity notifications are disabled for the Teams integration."
    )
    assert "activity_notifications=on" in error["message"]
    assert harness.vendor_calls() == 0
    # The capability is notify_user's alone.
    assert harness.ok("send_dm", harness.dm())["sent"] is True


def test_the_capability_is_checked_before_the_linked_account(harness: TeamsHarness) -> None:
    harness.update_integration(enabled_capabilities=[])
    error = harness.error("notify_user", harness.notify(harness.unlinked))
    assert error["code"] == "CAPABILITY_DISABLED"


@both_backends
def test_a_user_without_a_linked_account_is_not_linked(harness: TeamsHarness) -> None:
    cases = [
        ("notify_user", "notify", {"title": "T"}),
        ("send_dm", "message", {"message": "M"}),
    ]
    for action, verb, extra in cases:
        error = harness.error(action, {"user_id": str(harness.unlinked), **extra})
        assert error["code"] == "USER_NOT_LINKED"
        assert error["message"].startswith(
            f"The target user has no linked Microsoft account, so Teams cannot {verb} them."
        )
        assert error["details"] == {"user_id": str(harness.unlinked)}
    assert harness.vendor_calls() == 0


def test_an_unknown_user_id_is_not_linked(harness: TeamsHarness) -> None:
    error = harness.error("send_dm", harness.dm(uuid.uuid4()))
    assert error["code"] == "USER_NOT_LINKED"


def test_an_unlinked_account_is_no_longer_used(harness: TeamsHarness) -> None:
    with harness.store.sessions.begin() as session:
        assert stored.unlink_user(session, harness.tenant, harness.tech)
    error = harness.error("notify_user", harness.notify())
    assert error["code"] == "USER_NOT_LINKED"


# -- input -------------------------------------------------------------------------------------


def _card_links(count: int) -> list[dict[str, str]]:
    return [{"title": f"L{n}", "url": f"https://psa.example.com/{n}"} for n in range(count)]


USER = "5b0f3a52-4a1c-4b6e-9d0e-0f6c1d2e3a4b"
CHANNEL = DEMO_CHANNEL_ID


BAD_INPUT: list[tuple[str, dict[str, Any], str]] = [
    ("notify_user", {"user_id": USER, "title": "T", "category": "urgent"}, "category"),
    ("notify_user", {"user_id": USER, "title": "T", "link": "not a url"}, "link"),
    ("notify_user", {"user_id": USER, "title": "T", "link": "psa.example.com/x"}, "link"),
    ("notify_user", {"user_id": USER, "title": "T", "link": "javascript:alert(1)"}, "link"),
    ("notify_user", {"user_id": USER, "title": "T", "link": "ftp://psa.example.com/"},
     "link"),
    ("notify_user", {"user_id": USER, "title": "   "}, "title"),
    ("notify_user", {"user_id": USER}, "title"),
    ("notify_user", {"user_id": "tech1", "title": "T"}, "user_id"),
    ("notify_user", {"user_id": USER, "title": "T", "message": ""}, "message"),
    ("notify_user", {"user_id": USER, "title": "T", "recipient": {}}, "recipient"),
    ("send_dm", {"user_id": USER, "message": "   "}, "message"),
    ("send_dm", {"user_id": USER, "message": ""}, "message"),
    ("send_dm", {"user_id": USER}, "message"),
    ("send_dm", {"user_id": 42, "message": "M"}, "user_id"),
    ("send_dm", {"user_id": "not-a-uuid", "message": "M"}, "user_id"),
    ("send_dm", {"user_id": USER, "message": "M",
                 "card": {"title": "C", "links": _card_links(6)}}, "card.links"),
    ("send_dm", {"user_id": USER, "message": "M",
                 "card": {"title": "C", "links": [{"title": "x", "url": "nope"}]}},
     "card.links.0.url"),
    ("send_dm", {"user_id": USER, "message": "M", "card": {"message": "no title"}},
     "card.title"),
    ("send_dm", {"user_id": USER, "message": "M", "card": {"title": "C", "color": "red"}},
     "card.color"),
    ("send_dm", {"user_id": USER, "message": "M", "service_url": "https://x.example/"},
     "service_url"),
    ("post_to_channel", {"channel_id": CHANNEL, "message": "M",
                         "service_url": "https://smba.trafficmanager.net/amer/"},
     "service_url"),
    ("post_to_channel", {"channel_id": "General", "message": "M"}, "channel_id"),
    ("post_to_channel", {"channel_id": "19:abc@thread.tacv2;messageid=1", "message": "M"},
     "channel_id"),
    ("post_to_channel", {"channel_id": "19:a b@thread.tacv2", "message": "M"}, "channel_id"),
    ("post_to_channel", {"channel_id": "19:abc@thread.evil", "message": "M"}, "channel_id"),
    ("post_to_channel", {"channel_id": CHANNEL, "message": " "}, "message"),
    ("post_to_channel", {"channel_id": CHANNEL}, "message"),
    ]  # fmt: skip


def test_bad_input_is_a_validation_error_naming_the_field_before_any_request(
    harness: TeamsHarness,
) -> None:
    for action, args, field in BAD_INPUT:
        error = rejection_of(harness.run(action, args))
        assert error["code"] == "VALIDATION_ERROR", (action, args)
        assert error["details"]["field"] == field, (action, args, error["details"])
    assert harness.vendor_calls() == 0
    assert harness.ledger_texts() == []  # refused before anything was recorded


def test_a_team_channel_reference_does_not_need_a_channel_id(harness: TeamsHarness) -> None:
    # Recorded from the team's General channel (the team's id), no channel in the context.
    harness.forget_references()
    harness.record(DEMO_TEAM_ID, "channel", team_id=DEMO_TEAM_ID)
    out = harness.ok("post_to_channel", {"channel_id": DEMO_TEAM_ID, "message": "M"})
    assert out["service_url_source"] == "team"
