"""``teams.notify_user`` against the fake Graph: the documented parameters, and Graph's refusals.

Graph's user-scoped ``sendActivityNotification`` takes ``topic, activityType,
chainId, previewText, teamsAppId, iconId, templateParameters`` only (an
OData action refuses unknown parameters, so no ``recipient``). The activity
type comes from the category (the manifest's table), and the topic's
``webUrl`` is a Teams deep link into the app's personal tab.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandbox.microsoft import DEMO_TEAMS_APP_ID
from tests.integrations.teams.conftest import (
    CLIENT_ID,
    NOTIFY_PATH,
    PSA_URL,
    TeamsHarness,
    both_backends,
    output_of,
)

CATEGORIES = {
    "assignment": "assignmentCreated",
    "customer_reply": "customerReplyReceived",
    "approval_request": "approvalRequested",
    "escalation": "workEscalated",
    "sla_risk": "slaRiskDetected",
}
DOCUMENTED_PARAMETERS = {
    "topic",
    "activityType",
    "chainId",
    "previewText",
    "teamsAppId",
    "iconId",
    "templateParameters",
}
CONTEXT = '{"page":"my_work","source":"notification"}'


def form_encoded(text: str) -> str:
    """``URLSearchParams``' serialisation of one value (application/x-www-form-urlencoded)."""
    out = []
    for byte in text.encode():
        char = chr(byte)
        if char.isascii() and (char.isalnum() or char in "*-._"):
            out.append(char)
        elif char == " ":
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def deep_link(web_url: str) -> str:
    """The reference's deep link: the app's personal tab opening ``web_url``."""
    return (
        f"https://teams.microsoft.com/l/entity/{DEMO_TEAMS_APP_ID}/alga-psa-personal-tab"
        f"?webUrl={form_encoded(web_url)}&context={form_encoded(CONTEXT)}"
    )


def only_notification(harness: TeamsHarness) -> dict[str, Any]:
    [notification] = harness.fake.notifications(harness.adele_id)
    return notification


@both_backends
def test_notify_sends_exactly_the_documented_parameters_to_the_linked_account(
    harness: TeamsHarness,
) -> None:
    out = harness.ok(
        "notify_user",
        harness.notify(
            title="Ticket T-1042 escalated",
            message="Customer is waiting on a reply",
            link=f"{PSA_URL}/msp/tickets/1042",
            category="assignment",
        ),
    )
    assert out == {
        "delivered": True,
        "user_id": str(harness.tech),
        "activity_type": "assignmentCreated",
    }
    [post] = harness.fake.calls("POST", NOTIFY_PATH)
    assert post.path == f"/v1.0/users/{harness.adele_id}/teamwork/sendActivityNotification"
    assert post.status == 204
    assert post.headers["content-type"] == "application/json"
    assert post.body == {
        "topic": {
            "source": "text",
            "value": "Ticket T-1042 escalated",
            "webUrl": deep_link(f"{PSA_URL}/msp/tickets/1042"),
        },
        "activityType": "assignmentCreated",
        "previewText": {"content": "Customer is waiting on a reply"},
        "teamsAppId": DEMO_TEAMS_APP_ID,
        "templateParameters": [{"name": "item", "value": "Ticket T-1042 escalated"}],
    }
    assert set(post.body) <= DOCUMENTED_PARAMETERS
    assert "recipient" not in post.body
    notification = only_notification(harness)
    assert notification["appId"] == CLIENT_ID  # the profile app's Graph token sent it
    assert notification["teamsAppId"] == DEMO_TEAMS_APP_ID


def test_each_category_is_its_manifest_activity_type(harness: TeamsHarness) -> None:
    for category, activity_type in CATEGORIES.items():
        out = harness.ok("notify_user", harness.notify(category=category))
        assert out["activity_type"] == activity_type, category
        assert harness.fake.notifications()[-1]["activityType"] == activity_type
    assert len(harness.fake.notifications(harness.adele_id)) == 5


def test_the_default_category_is_escalation(harness: TeamsHarness) -> None:
    out = harness.ok("notify_user", harness.notify())
    assert out["activity_type"] == "workEscalated"
    assert only_notification(harness)["activityType"] == "workEscalated"


def test_without_a_link_the_deep_link_opens_the_psa_dashboard_and_the_preview_is_the_title(
    harness: TeamsHarness,
) -> None:
    harness.ok("notify_user", harness.notify(title="SLA at risk: T-7"))
    notification = only_notification(harness)
    web_url = notification["topic"]["webUrl"]
    assert web_url == (
        f"https://teams.microsoft.com/l/entity/{DEMO_TEAMS_APP_ID}/alga-psa-personal-tab"
        "?webUrl=https%3A%2F%2Fpsa.example.com%2Fmsp%2Fdashboard"
        "&context=%7B%22page%22%3A%22my_work%22%2C%22source%22%3A%22notification%22%7D"
    )
    assert notification["previewText"] == {"content": "SLA at risk: T-7"}
    assert notification["templateParameters"] == [{"name": "item", "value": "SLA at risk: T-7"}]


def test_the_deep_link_carries_the_link_and_context_as_query_parameters(
    harness: TeamsHarness,
) -> None:
    link = "https://psa.example.com/msp/tickets?id=42&tab=notes#reply"
    harness.ok("notify_user", harness.notify(link=link))
    parts = urlsplit(only_notification(harness)["topic"]["webUrl"])
    assert (parts.scheme, parts.netloc) == ("https", "teams.microsoft.com")
    assert parts.path == f"/l/entity/{DEMO_TEAMS_APP_ID}/alga-psa-personal-tab"
    assert parse_qs(parts.query) == {"webUrl": [link], "context": [CONTEXT]}
    assert json.loads(parse_qs(parts.query)["context"][0]) == {
        "page": "my_work",
        "source": "notification",
    }


def test_a_base_url_with_a_trailing_slash_makes_no_double_slash(harness: TeamsHarness) -> None:
    harness.connect_teams({}, url="https://psa.example.com/")
    harness.ok("notify_user", harness.notify())
    web_url = only_notification(harness)["topic"]["webUrl"]
    assert parse_qs(urlsplit(web_url).query)["webUrl"] == ["https://psa.example.com/msp/dashboard"]


@both_backends
def test_package_metadata_stored_as_a_json_string_is_read(harness: TeamsHarness) -> None:
    # The reference's rows may hold the metadata as a JSON string rather than an object.
    metadata = {
        "baseUrl": "https://psa.acme.example",
        "loginUrl": harness.url,
        "graphUrl": harness.url,
    }
    harness.update_integration(package_metadata=json.dumps(metadata))
    harness.ok("notify_user", harness.notify())
    web_url = only_notification(harness)["topic"]["webUrl"]
    assert parse_qs(urlsplit(web_url).query)["webUrl"] == ["https://psa.acme.example/msp/dashboard"]


# -- Graph's refusals ----------------------------------------------------------------------


def test_a_recipient_without_the_teams_app_is_app_not_installed_with_what_to_do(
    harness: TeamsHarness,
) -> None:
    error = harness.error("notify_user", harness.notify(harness.alex))
    assert error["code"] == "APP_NOT_INSTALLED"
    assert error["retryable"] is False
    assert error["vendor"]["status"] == 403
    assert "Install the Teams app for that user" in error["message"]
    assert "not authorized to generate custom text notifications" in error["message"]
    [post] = harness.fake.calls("POST", NOTIFY_PATH)
    assert post.path == f"/v1.0/users/{harness.alex_id}/teamwork/sendActivityNotification"
    assert harness.fake.notifications() == []


def test_an_app_uninstalled_by_the_user_is_app_not_installed(harness: TeamsHarness) -> None:
    harness.ok("notify_user", harness.notify())
    harness.fake.uninstall_teams_app(harness.adele_id, CLIENT_ID)
    error = harness.error("notify_user", harness.notify())
    assert error["code"] == "APP_NOT_INSTALLED"
    assert len(harness.fake.notifications()) == 1


def test_an_unknown_entra_user_is_not_found_with_the_reference_message(
    harness: TeamsHarness,
) -> None:
    ghost = harness.new_user("ghost")
    harness.link(ghost, "9f9f9f9f-0000-4000-8000-000000000404")
    error = harness.error("notify_user", harness.notify(ghost))
    assert error["code"] == "NOT_FOUND"
    assert error["vendor"]["status"] == 404
    assert error["message"].startswith(
        "Microsoft Graph could not find the recipient, or the Teams app is not installed for them."
    )
    assert harness.fake.notifications() == []


def test_two_installs_of_the_app_for_the_recipient_are_a_conflict(harness: TeamsHarness) -> None:
    # An install that matches any teamsAppId, next to the demo Teams app's: Graph's 409.
    harness.fake.install_teams_app(harness.adele_id, CLIENT_ID, teams_app_id=None)
    error = harness.error("notify_user", harness.notify())
    assert error["code"] == "CONFLICT"
    assert error["vendor"]["status"] == 409
    assert "check the integration's app id" in error["message"]
    assert harness.fake.notifications() == []


def test_an_activity_type_the_manifest_lacks_is_a_vendor_error_not_a_retry(
    harness: TeamsHarness,
) -> None:
    harness.fake.install_teams_app(
        harness.adele_id,
        CLIENT_ID,
        teams_app_id=DEMO_TEAMS_APP_ID,
        activity_types=["workEscalated"],
    )
    output_of(harness.run("notify_user", harness.notify(category="escalation")))
    error = harness.error("notify_user", harness.notify(category="sla_risk"))
    assert error["code"] == "VENDOR_ERROR"
    assert error["vendor"] == {
        "status": 400,
        "message": "The activity type 'slaRiskDetected' is not declared in the Teams app manifest.",
    }
    assert harness.fake.count("POST", NOTIFY_PATH) == 2
