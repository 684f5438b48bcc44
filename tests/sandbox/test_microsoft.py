"""FakeMicrosoft: client-credentials tokens, Graph auth, calendar events, faults, loopback."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.core import REDACTED, Fault, ManualClock
from sandbox.microsoft import (
    BOT_FRAMEWORK_RESOURCE,
    GRAPH_RESOURCE,
    FakeMicrosoft,
    graph_fault,
)
from tests.sandbox.microsoft_support import (
    BOT_SCOPE,
    CLIENT_ID,
    DOMAIN,
    EPOCH,
    GRAPH_SCOPE,
    LIFETIME,
    OTHER_ID,
    OTHER_UPN,
    SECRET,
    TENANT,
    UPN,
    USER_ID,
    fake_microsoft,
)

TOKEN_PATH = f"/{TENANT}/oauth2/v2.0/token"
EVENTS = f"/v1.0/users/{USER_ID}/events"
TOKEN_ERROR_KEYS = {
    "error",
    "error_description",
    "error_codes",
    "timestamp",
    "trace_id",
    "correlation_id",
    "error_uri",
}


def event_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject": "Onsite: replace switch",
        "body": {"contentType": "HTML", "content": "<p>Bring the <b>spare</b> PSU.</p>"},
        "start": {"dateTime": "2027-02-01T09:00:00", "timeZone": "Pacific Standard Time"},
        "end": {"dateTime": "2027-02-01T10:30:00", "timeZone": "Pacific Standard Time"},
        "attendees": [{"emailAddress": {"address": OTHER_UPN, "name": "Alex Wilber"}}],
        "showAs": "Busy",
    }
    body.update(overrides)
    return body


def form(**overrides: str | None) -> dict[str, str]:
    base: dict[str, str | None] = {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "scope": GRAPH_SCOPE,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def ms(clock: ManualClock) -> FakeMicrosoft:
    return fake_microsoft(clock)


@pytest.fixture
def http(ms: FakeMicrosoft) -> Iterator[httpx.Client]:
    with httpx.Client(transport=ms.transport(), base_url="https://ms.test") as c:
        yield c


@pytest.fixture
def token(http: httpx.Client) -> str:
    response = http.post(TOKEN_PATH, data=form())
    assert response.status_code == 200
    value: str = response.json()["access_token"]
    return value


@pytest.fixture
def graph(ms: FakeMicrosoft, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=ms.transport(), base_url="https://ms.test", headers=bearer(token)
    ) as c:
        yield c


def assert_graph_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
    assert error["innerError"]["request-id"] == response.headers["request-id"]
    return error


# -- token endpoint ---------------------------------------------------------------------


def test_client_credentials_grant_issues_a_short_lived_graph_token(
    ms: FakeMicrosoft, http: httpx.Client
) -> None:
    response = http.post(TOKEN_PATH, data=form())

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == body["ext_expires_in"] == 300
    assert "no-store" in response.headers["Cache-Control"]
    jwt = claims(body["access_token"])
    assert jwt["aud"] == GRAPH_RESOURCE
    assert jwt["tid"] == TENANT
    assert jwt["appid"] == CLIENT_ID
    assert jwt["roles"] == ["Calendars.ReadWrite"]
    assert jwt["exp"] - jwt["iat"] == 300
    assert jwt["iat"] == int(EPOCH)
    info = ms.token_info(body["access_token"])
    assert info is not None and info.resource == GRAPH_RESOURCE
    assert ms.issued_tokens == [info]


def test_tenant_by_domain_graph_app_id_scope_basic_auth_and_bot_scope(
    ms: FakeMicrosoft, http: httpx.Client
) -> None:
    by_domain = http.post(f"/{DOMAIN.upper()}/oauth2/v2.0/token", data=form())
    assert by_domain.status_code == 200
    app_id_scope = http.post(
        TOKEN_PATH, data=form(scope="00000003-0000-0000-c000-000000000000/.default")
    )
    assert claims(app_id_scope.json()["access_token"])["aud"] == GRAPH_RESOURCE

    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    via_basic = http.post(
        TOKEN_PATH,
        data=form(client_id=None, client_secret=None),
        headers={"Authorization": f"Basic {basic}"},
    )
    assert via_basic.status_code == 200
    both = http.post(TOKEN_PATH, data=form(), headers={"Authorization": f"Basic {basic}"})
    assert both.status_code == 400
    assert both.json()["error"] == "invalid_request"

    bot = http.post(TOKEN_PATH, data=form(scope=BOT_SCOPE))
    assert bot.status_code == 200
    bot_token = bot.json()["access_token"]
    assert claims(bot_token)["aud"] == BOT_FRAMEWORK_RESOURCE
    assert claims(bot_token)["roles"] == []
    info = ms.token_info(bot_token)
    assert info is not None and info.resource == BOT_FRAMEWORK_RESOURCE


@pytest.mark.parametrize(
    ("path", "data", "status", "error", "code"),
    [
        ("/not-a-tenant/oauth2/v2.0/token", form(), 400, "invalid_request", 90002),
        (TOKEN_PATH, form(grant_type=None), 400, "invalid_request", 900144),
        (TOKEN_PATH, form(grant_type="password"), 400, "unsupported_grant_type", 70003),
        (TOKEN_PATH, form(client_id=None), 400, "invalid_request", 900144),
        (TOKEN_PATH, form(client_id="unknown-app"), 400, "unauthorized_client", 700016),
        (TOKEN_PATH, form(client_secret=None), 401, "invalid_client", 7000218),
        (TOKEN_PATH, form(client_secret="wrong-" + SECRET), 401, "invalid_client", 7000215),
        (TOKEN_PATH, form(scope=None), 400, "invalid_request", 900144),
        (
            TOKEN_PATH,
            form(scope="https://graph.microsoft.com/Calendars.ReadWrite"),
            400,
            "invalid_scope",
            1002012,
        ),
        (TOKEN_PATH, form(scope="https://foo.microsoft.com/.default"), 400, "invalid_scope", 70011),
        (TOKEN_PATH, form(scope=f"{GRAPH_SCOPE} {BOT_SCOPE}"), 400, "invalid_scope", 70011),
    ],
)
def test_token_errors_are_the_identity_platforms(
    http: httpx.Client, path: str, data: dict[str, str], status: int, error: str, code: int
) -> None:
    response = http.post(path, data=data, headers={"client-request-id": "corr-123"})

    assert response.status_code == status
    body = response.json()
    assert set(body) == TOKEN_ERROR_KEYS
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert f"Correlation ID: {body['correlation_id']}" in body["error_description"]
    assert body["correlation_id"] == "corr-123"
    assert body["error_uri"].endswith(f"?code={code}")
    assert body["timestamp"] == "2027-01-15 08:00:00Z"
    assert SECRET not in response.text


def test_token_endpoint_reads_forms_only_and_only_accepts_post(http: httpx.Client) -> None:
    as_json = http.post(TOKEN_PATH, json=form())
    assert as_json.status_code == 400
    assert as_json.json()["error_codes"] == [900144]
    assert "'grant_type'" in as_json.json()["error_description"]

    get = http.get(TOKEN_PATH)
    assert get.status_code == 400
    assert get.json()["error_codes"] == [900561]


def test_expired_client_secret(ms: FakeMicrosoft, http: httpx.Client) -> None:
    ms.expire_client_secret(TENANT, CLIENT_ID)
    response = http.post(TOKEN_PATH, data=form())
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.json()["error_codes"] == [7000222]


# -- Graph authentication -------------------------------------------------------------------


def test_missing_token_is_an_empty_access_token(http: httpx.Client) -> None:
    response = http.get(EVENTS, headers={"client-request-id": "mine-1"})

    error = assert_graph_error(response, 401, "InvalidAuthenticationToken")
    assert error["message"] == "Access token is empty."
    assert error["innerError"]["client-request-id"] == "mine-1"
    assert response.headers["client-request-id"] == "mine-1"
    assert error["innerError"]["date"] == "2027-01-15T08:00:00"
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert assert_graph_error(
        http.get(EVENTS, headers={"Authorization": "Basic abc"}), 401, "InvalidAuthenticationToken"
    )["message"] == ("Access token is empty.")


def test_malformed_unknown_and_revoked_tokens(
    ms: FakeMicrosoft, http: httpx.Client, token: str
) -> None:
    not_jwt = assert_graph_error(
        http.get(EVENTS, headers=bearer("opaque")), 401, "InvalidAuthenticationToken"
    )
    assert not_jwt["message"].startswith("IDX14100: JWT is not well formed")
    forged = token.rsplit(".", 1)[0] + ".forged"
    unknown = assert_graph_error(
        http.get(EVENTS, headers=bearer(forged)), 401, "InvalidAuthenticationToken"
    )
    assert unknown["message"] == "Access token validation failure."

    assert http.get(EVENTS, headers=bearer(token)).status_code == 200
    ms.revoke_token(token)
    revoked = assert_graph_error(
        http.get(EVENTS, headers=bearer(token)), 401, "InvalidAuthenticationToken"
    )
    assert revoked["message"] == "Access token validation failure."


def test_token_expiry_follows_the_fake_clock(
    ms: FakeMicrosoft, clock: ManualClock, http: httpx.Client, token: str
) -> None:
    clock.advance(LIFETIME - 1)
    assert http.get(EVENTS, headers=bearer(token)).status_code == 200
    clock.advance(1)
    expired = assert_graph_error(
        http.get(EVENTS, headers=bearer(token)), 401, "InvalidAuthenticationToken"
    )
    assert expired["message"] == "Lifetime validation failed, the token is expired."

    fresh = http.post(TOKEN_PATH, data=form()).json()["access_token"]
    assert http.get(EVENTS, headers=bearer(fresh)).status_code == 200
    ms.expire_tokens()
    assert http.get(EVENTS, headers=bearer(fresh)).status_code == 401
    newest = ms.issue_token(TENANT, CLIENT_ID, lifetime=10)
    assert http.get(EVENTS, headers=bearer(newest)).status_code == 200
    ms.expire_token(newest)
    assert http.get(EVENTS, headers=bearer(newest)).status_code == 401


def test_graph_accepts_only_graph_tokens_with_calendar_permissions(
    ms: FakeMicrosoft, http: httpx.Client
) -> None:
    bot_token = http.post(TOKEN_PATH, data=form(scope=BOT_SCOPE)).json()["access_token"]
    audience = assert_graph_error(
        http.get(EVENTS, headers=bearer(bot_token)), 401, "InvalidAuthenticationToken"
    )
    assert audience["message"] == "Access token validation failure. Invalid audience."

    ms.add_app(TENANT, "reader-app", "reader-secret", graph_roles=["Calendars.Read"])
    ms.add_app(TENANT, "mail-app", "mail-secret", graph_roles=["Mail.Send"])
    reader = ms.issue_token(TENANT, "reader-app")
    mailer = ms.issue_token(TENANT, "mail-app")
    assert http.get(EVENTS, headers=bearer(reader)).status_code == 200
    denied = assert_graph_error(
        http.post(EVENTS, json=event_body(), headers=bearer(reader)), 403, "ErrorAccessDenied"
    )
    assert denied["message"] == "Access is denied. Check credentials and try again."
    assert_graph_error(http.get(EVENTS, headers=bearer(mailer)), 403, "ErrorAccessDenied")
    assert ms.creates == 0


def test_me_needs_a_delegated_token(graph: httpx.Client) -> None:
    error = assert_graph_error(graph.get("/v1.0/me/events"), 400, "BadRequest")
    assert error["message"] == "/me request is only valid with delegated authentication flow."


def test_users_are_scoped_to_the_tokens_tenant(ms: FakeMicrosoft, http: httpx.Client) -> None:
    ms.add_app("other-tenant", "other-app", "other-secret")
    ms.add_user("shared-user", "shared@example.com")  # no tenant: visible to every tenant
    foreign = ms.issue_token("other-tenant", "other-app")

    error = assert_graph_error(http.get(EVENTS, headers=bearer(foreign)), 404, "ErrorInvalidUser")
    assert error["message"] == f"The requested user '{USER_ID}' is invalid."
    shared = http.get("/v1.0/users/shared@example.com/events", headers=bearer(foreign))
    assert shared.status_code == 200


# -- events -------------------------------------------------------------------------------------


def test_create_event_returns_graphs_event_in_utc(ms: FakeMicrosoft, graph: httpx.Client) -> None:
    response = graph.post(f"/v1.0/users/{UPN}/events", json=event_body())

    assert response.status_code == 201
    event = response.json()
    assert event["@odata.context"] == (
        f"https://ms.test/v1.0/$metadata#users('{USER_ID}')/events/$entity"
    )
    assert event["@odata.etag"] == f'W/"{event["changeKey"]}"'
    assert event["id"].startswith("AAMk")
    assert event["subject"] == "Onsite: replace switch"
    assert event["body"] == {
        "contentType": "html",
        "content": "<p>Bring the <b>spare</b> PSU.</p>",
    }
    assert event["bodyPreview"] == "Bring the spare PSU."
    assert event["start"] == {"dateTime": "2027-02-01T17:00:00.0000000", "timeZone": "UTC"}
    assert event["end"] == {"dateTime": "2027-02-01T18:30:00.0000000", "timeZone": "UTC"}
    assert event["originalStartTimeZone"] == "Pacific Standard Time"
    assert event["showAs"] == "busy"
    assert event["type"] == "singleInstance"
    assert (
        event["createdDateTime"]
        == event["lastModifiedDateTime"]
        == ("2027-01-15T08:00:00.0000000Z")
    )
    assert event["attendees"] == [
        {
            "type": "required",
            "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
            "emailAddress": {"name": "Alex Wilber", "address": OTHER_UPN},
        }
    ]
    assert event["organizer"] == {"emailAddress": {"name": "Adele Vance", "address": UPN}}
    assert event["iCalUId"] and event["webLink"].startswith("https://outlook.office365.com/")
    assert "transactionId" not in event  # only returned when the app set it
    assert response.headers["request-id"]
    assert ms.creates == 1

    by_id = graph.get(f"{EVENTS}/{event['id']}")
    assert by_id.status_code == 200
    assert by_id.json() == event
    assert ms.events(UPN) == [{k: v for k, v in event.items() if k != "@odata.context"}]


def test_prefer_outlook_timezone_and_other_zone_spellings(graph: httpx.Client) -> None:
    created = graph.post(
        EVENTS,
        json=event_body(
            start={"dateTime": "2027-02-01T09:00:00.0000000", "timeZone": "Europe/Berlin"},
            end={"dateTime": "2027-02-01T09:00:00Z", "timeZone": "Europe/Berlin"},
        ),
    ).json()
    assert created["start"]["dateTime"] == "2027-02-01T08:00:00.0000000"
    assert created["end"]["dateTime"] == "2027-02-01T09:00:00.0000000"

    seen = graph.get(
        f"{EVENTS}/{created['id']}", headers={"Prefer": 'outlook.timezone="Eastern Standard Time"'}
    ).json()
    assert seen["start"] == {
        "dateTime": "2027-02-01T03:00:00.0000000",
        "timeZone": "Eastern Standard Time",
    }
    bad = graph.get(f"{EVENTS}/{created['id']}", headers={"Prefer": 'outlook.timezone="Mars"'})
    assert_graph_error(bad, 400, "TimeZoneNotSupportedException")


def test_calendars_default_and_named(ms: FakeMicrosoft, graph: httpx.Client) -> None:
    calendars = graph.get(f"/v1.0/users/{USER_ID}/calendars").json()["value"]
    assert [c["name"] for c in calendars] == ["Calendar"]
    default = graph.get(f"/v1.0/users/{UPN}/calendar").json()
    assert default["isDefaultCalendar"] is True and default["id"] == calendars[0]["id"]
    dispatch = ms.add_calendar(UPN, "Dispatch")

    in_default = graph.post(f"/v1.0/users/{USER_ID}/calendar/events", json=event_body()).json()
    in_dispatch = graph.post(
        f"/v1.0/users/{USER_ID}/calendars/{dispatch['id']}/events", json=event_body()
    ).json()

    def ids(path: str) -> list[str]:
        return [e["id"] for e in graph.get(path).json()["value"]]

    assert ids(EVENTS) == [in_default["id"], in_dispatch["id"]]
    assert ids(f"/v1.0/users/{USER_ID}/calendar/events") == [in_default["id"]]
    assert ids(f"/v1.0/users/{USER_ID}/calendars/{dispatch['id']}/events") == [in_dispatch["id"]]
    other_calendar = graph.get(f"/v1.0/users/{USER_ID}/calendar/events/{in_dispatch['id']}")
    assert_graph_error(other_calendar, 404, "ErrorItemNotFound")
    assert_graph_error(
        graph.get(f"/v1.0/users/{USER_ID}/calendars/AAMkAGCalnope/events"), 404, "ErrorItemNotFound"
    )
    assert_graph_error(
        graph.get(f"/v1.0/users/{USER_ID}/calendars/not-an-id/events"),
        400,
        "ErrorInvalidIdMalformed",
    )
    assert [c["name"] for c in ms.calendars(USER_ID)] == ["Calendar", "Dispatch"]


def test_patch_is_a_partial_update(
    ms: FakeMicrosoft, clock: ManualClock, graph: httpx.Client
) -> None:
    created = graph.post(EVENTS, json=event_body()).json()
    clock.advance(90)

    response = graph.patch(
        f"{EVENTS}/{created['id']}",
        json={"subject": "Onsite: switch replaced", "end": created["end"] | {"timeZone": "UTC"}},
        headers={"If-Match": created["@odata.etag"]},
    )

    assert response.status_code == 200
    updated = response.json()
    assert updated["subject"] == "Onsite: switch replaced"
    assert updated["body"] == created["body"]
    assert updated["attendees"] == created["attendees"]
    assert updated["start"] == created["start"]
    assert updated["originalEndTimeZone"] == "UTC"
    assert updated["createdDateTime"] == created["createdDateTime"]
    assert updated["lastModifiedDateTime"] == "2027-01-15T08:01:30.0000000Z"
    assert updated["changeKey"] != created["changeKey"]
    assert ms.updates == 1

    stale = graph.patch(
        f"{EVENTS}/{created['id']}",
        json={"subject": "lost update"},
        headers={"If-Match": created["@odata.etag"]},
    )
    assert_graph_error(stale, 412, "ErrorIrresolvableConflict")
    before_start = graph.patch(
        f"{EVENTS}/{created['id']}",
        json={"end": {"dateTime": "2027-02-01T08:00:00", "timeZone": "Pacific Standard Time"}},
    )
    assert_graph_error(before_start, 400, "ErrorPropertyValidationFailure")
    assert graph.get(f"{EVENTS}/{created['id']}").json()["subject"] == "Onsite: switch replaced"


def test_delete_event(ms: FakeMicrosoft, graph: httpx.Client) -> None:
    created = graph.post(EVENTS, json=event_body()).json()

    deleted = graph.delete(f"{EVENTS}/{created['id']}")

    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_graph_error(graph.get(f"{EVENTS}/{created['id']}"), 404, "ErrorItemNotFound")
    assert_graph_error(graph.delete(f"{EVENTS}/{created['id']}"), 404, "ErrorItemNotFound")
    assert_graph_error(graph.get(f"{EVENTS}/12345"), 400, "ErrorInvalidIdMalformed")
    assert ms.deletes == 1
    assert ms.events(USER_ID) == []


def test_list_pages_with_top_and_next_link(ms: FakeMicrosoft, graph: httpx.Client) -> None:
    made = [graph.post(EVENTS, json=event_body(subject=f"job {n}")).json()["id"] for n in range(5)]
    ms.add_event(OTHER_UPN, event_body())  # someone else's calendar stays out of the list

    seen: list[str] = []
    url: str | None = f"{EVENTS}?$top=2&$select=subject"
    pages = 0
    while url is not None:
        page = graph.get(url)
        assert page.status_code == 200
        body = page.json()
        assert body["@odata.context"].endswith(f"users('{USER_ID}')/events")
        for event in body["value"]:
            assert set(event) == {"@odata.etag", "id", "subject"}
            seen.append(event["id"])
        url = body.get("@odata.nextLink")
        pages += 1
    assert seen == made
    assert pages == 3
    assert len(graph.get(EVENTS).json()["value"]) == 5  # default page size 10

    assert_graph_error(graph.get(f"{EVENTS}?$top=abc"), 400, "BadRequest")
    assert_graph_error(graph.get(f"{EVENTS}?$filter=subject eq 'x'"), 400, "BadRequest")
    assert_graph_error(graph.get(f"{EVENTS}?$select=nope"), 400, "BadRequest")


# -- transactionId -------------------------------------------------------------------------------


def test_transaction_id_makes_a_retried_create_return_the_first_event(
    ms: FakeMicrosoft, graph: httpx.Client
) -> None:
    first = graph.post(EVENTS, json=event_body(transactionId="pb-run-7/step-2"))
    retry = graph.post(EVENTS, json=event_body(transactionId="pb-run-7/step-2", subject="v2"))

    assert first.status_code == retry.status_code == 201
    assert retry.json()["id"] == first.json()["id"]
    assert retry.json()["subject"] == "Onsite: replace switch"
    assert retry.json()["transactionId"] == "pb-run-7/step-2"
    assert ms.creates == 1
    assert len(ms.events(USER_ID)) == 1

    # Per mailbox: another user's create with the same id is a different event.
    elsewhere = graph.post(
        f"/v1.0/users/{OTHER_ID}/events", json=event_body(transactionId="pb-run-7/step-2")
    )
    assert elsewhere.json()["id"] != first.json()["id"]
    assert ms.creates == 2

    change = graph.patch(f"{EVENTS}/{first.json()['id']}", json={"transactionId": "other"})
    assert_graph_error(change, 400, "ErrorInvalidRequest")
    same = graph.patch(f"{EVENTS}/{first.json()['id']}", json={"transactionId": "pb-run-7/step-2"})
    assert same.status_code == 200

    graph.delete(f"{EVENTS}/{first.json()['id']}")
    again = graph.post(EVENTS, json=event_body(transactionId="pb-run-7/step-2"))
    assert again.status_code == 201
    assert again.json()["id"] != first.json()["id"]
    assert ms.creates == 3


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (event_body(colour="blue"), "RequestBodyRead"),
        (event_body(subject=42), "RequestBodyRead"),
        (event_body(subject={"text": "x"}), "RequestBodyRead"),
        (event_body(body="plain text"), "RequestBodyRead"),
        (event_body(body={"contentType": "markdown", "content": "x"}), "RequestBodyRead"),
        (event_body(showAs="away"), "RequestBodyRead"),
        (event_body(isAllDay=None), "RequestBodyRead"),
        (event_body(reminderMinutesBeforeStart=True), "RequestBodyRead"),
        (event_body(attendees={"emailAddress": {"address": OTHER_UPN}}), "RequestBodyRead"),
        (event_body(start={"dateTime": "2027-02-01T09:00:00"}), "TimeZoneNotSupportedException"),
        (
            event_body(start={"dateTime": "2027-02-01T09:00:00", "timeZone": "Mars/Olympus"}),
            "TimeZoneNotSupportedException",
        ),
        (
            event_body(start={"dateTime": "next tuesday", "timeZone": "UTC"}),
            "ErrorPropertyValidationFailure",
        ),
        (
            event_body(start={"dateTime": "2027-02-30T09:00:00", "timeZone": "UTC"}),
            "ErrorPropertyValidationFailure",
        ),
        (
            # 09:00 Pacific is 17:00 UTC, after this 12:00 UTC end.
            event_body(end={"dateTime": "2027-02-01T12:00:00", "timeZone": "UTC"}),
            "ErrorPropertyValidationFailure",
        ),
        ({"subject": "no times"}, "ErrorPropertyValidationFailure"),
    ],
)
def test_invalid_event_bodies_are_refused_like_graph(
    ms: FakeMicrosoft, graph: httpx.Client, body: dict[str, Any], code: str
) -> None:
    assert_graph_error(graph.post(EVENTS, json=body), 400, code)
    assert ms.creates == 0


def test_payloads_that_are_not_json_objects(graph: httpx.Client) -> None:
    empty = assert_graph_error(graph.post(EVENTS), 400, "BadRequest")
    assert empty["message"] == "Empty Payload. JSON content expected."
    broken = graph.post(EVENTS, content=b"{nope", headers={"Content-Type": "application/json"})
    assert_graph_error(broken, 400, "BadRequest")
    assert_graph_error(graph.post(EVENTS, json=[event_body()]), 400, "BadRequest")


def test_zero_length_events_and_ignored_read_only_properties(graph: httpx.Client) -> None:
    same = {"dateTime": "2027-02-01T09:00:00", "timeZone": "UTC"}
    response = graph.post(EVENTS, json=event_body(start=same, end=same, id="AAMkmine"))
    assert response.status_code == 201
    assert response.json()["id"] != "AAMkmine"


def test_unknown_user_unlicensed_user_and_unknown_routes(
    ms: FakeMicrosoft, graph: httpx.Client
) -> None:
    ms.add_user("no-mailbox", "kiosk@contoso.onmicrosoft.com", tenant_id=DOMAIN, mailbox=False)

    unknown = assert_graph_error(
        graph.post("/v1.0/users/ghost@contoso.onmicrosoft.com/events", json=event_body()),
        404,
        "ErrorInvalidUser",
    )
    assert unknown["message"] == "The requested user 'ghost@contoso.onmicrosoft.com' is invalid."
    assert_graph_error(
        graph.get("/v1.0/users/kiosk@contoso.onmicrosoft.com/events"),
        404,
        "MailboxNotEnabledForRESTAPI",
    )
    segment = assert_graph_error(graph.get(f"/v1.0/users/{USER_ID}/eventz"), 400, "BadRequest")
    assert segment["message"] == "Resource not found for the segment 'eventz'."
    wrong_method = graph.put(f"{EVENTS}/AAMkADxyz", json={})
    assert_graph_error(wrong_method, 405, "BadRequest")
    assert set(wrong_method.headers["Allow"].split(", ")) == {"DELETE", "GET", "PATCH"}
    assert ms.creates == 0


def test_seeding_helpers(ms: FakeMicrosoft) -> None:
    event = ms.add_event(UPN, event_body(transactionId="seed-1"))
    assert event["transactionId"] == "seed-1"
    assert ms.events(USER_ID) == [event]
    with pytest.raises(ValueError, match="ErrorPropertyValidationFailure"):
        ms.add_event(UPN, {"subject": "no times"})
    with pytest.raises(KeyError):
        ms.events("nobody")
    with pytest.raises(ValueError, match="exists"):
        ms.add_user(USER_ID, "dup@example.com")
    demo = FakeMicrosoft().seed_demo()
    assert set(demo) == {"tenant_id", "client_id", "client_secret", "users", "teams"}
    assert len(demo["users"]) == 2


# -- faults ------------------------------------------------------------------------------------


def test_injected_throttling_and_outages_change_nothing(
    ms: FakeMicrosoft, graph: httpx.Client
) -> None:
    ms.inject(graph_fault(429, retry_after=3), method="POST", path="/v1.0/users/*/events")
    ms.inject(graph_fault(503, retry_after=1), method="POST", path="/v1.0/users/*/events")

    throttled = graph.post(EVENTS, json=event_body(transactionId="t-1"))
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "3"
    assert throttled.json()["error"]["code"] == "ApplicationThrottled"
    unavailable = graph.post(EVENTS, json=event_body(transactionId="t-1"))
    assert unavailable.status_code == 503
    assert unavailable.json()["error"]["code"] == "ServiceUnavailable"
    assert ms.creates == 0

    assert graph.post(EVENTS, json=event_body(transactionId="t-1")).status_code == 201
    assert ms.creates == 1
    assert [r.status for r in ms.calls("POST", "/v1.0/users/*/events")] == [429, 503, 201]
    assert [r.fault for r in ms.calls("POST", "/v1.0/*")] == [True, True, False]


def test_token_endpoint_faults(ms: FakeMicrosoft, http: httpx.Client) -> None:
    ms.inject(Fault(status=503, body="busy", headers={"Retry-After": "2"}), path=TOKEN_PATH)
    assert http.post(TOKEN_PATH, data=form()).status_code == 503
    assert ms.issued_tokens == []
    assert http.post(TOKEN_PATH, data=form()).status_code == 200


# -- secrets never echoed -------------------------------------------------------------


def test_no_error_body_echoes_a_secret_or_a_token(
    ms: FakeMicrosoft, clock: ManualClock, http: httpx.Client, token: str
) -> None:
    bot_token = http.post(TOKEN_PATH, data=form(scope=BOT_SCOPE)).json()["access_token"]
    revoked = ms.issue_token(TENANT, CLIENT_ID)
    ms.revoke_token(revoked)
    answers = [
        http.post(TOKEN_PATH, data=form(client_secret=SECRET + "x")),
        http.post(TOKEN_PATH, data=form(scope="https://graph.microsoft.com/User.Read")),
        http.post(TOKEN_PATH, data=form(grant_type="refresh_token", refresh_token=SECRET)),
        http.post("/nope/oauth2/v2.0/token", data=form()),
        http.get(EVENTS, headers=bearer(bot_token)),
        http.get(EVENTS, headers=bearer(revoked)),
        http.get(EVENTS, headers=bearer(token + "x")),
        http.post(EVENTS, json={"subject": 1}, headers=bearer(token)),
        http.get("/v1.0/users/ghost/events", headers=bearer(token)),
    ]
    clock.advance(LIFETIME)
    answers.append(http.get(EVENTS, headers=bearer(token)))

    assert all(a.status_code >= 400 for a in answers)
    secrets = [SECRET, token, bot_token, revoked]
    for answer in answers:
        exposed = answer.text + json.dumps(dict(answer.headers))
        for value in secrets:
            assert value not in exposed

    exported = http.get("/__sandbox/requests").json()["requests"]
    assert exported and all(
        r["headers"].get("authorization") in (None, f"Bearer {REDACTED}") for r in exported
    )
    assert SECRET not in json.dumps(exported) and token not in json.dumps(exported)


# -- real HTTP ----------------------------------------------------------------------------------


def test_full_flow_over_loopback(clock: ManualClock) -> None:
    """Token, a create lost on the wire and retried, list, update, expiry, delete."""
    fake = FakeMicrosoft(clock=clock, epoch_origin=EPOCH, token_lifetime=LIFETIME)
    demo = fake.seed_demo()
    user = demo["users"][0]["userPrincipalName"]
    with fake.serve() as server, httpx.Client(base_url=server.base_url, timeout=5) as c:
        token_url = f"/{demo['tenant_id']}/oauth2/v2.0/token"
        grant = {
            "grant_type": "client_credentials",
            "client_id": demo["client_id"],
            "client_secret": demo["client_secret"],
            "scope": GRAPH_SCOPE,
        }
        token = c.post(token_url, data=grant).json()["access_token"]
        headers = bearer(token)
        events = f"/v1.0/users/{user}/events"

        # The vendor creates the event, the caller never hears back; the retry is safe.
        fake.inject(Fault(disconnect=True), method="POST", path=events)
        with pytest.raises(httpx.RemoteProtocolError):
            c.post(events, json=event_body(transactionId="pb:run-1:step-1"), headers=headers)
        retried = c.post(events, json=event_body(transactionId="pb:run-1:step-1"), headers=headers)
        assert retried.status_code == 201
        assert fake.creates == 1
        event_id = retried.json()["id"]

        c.post(events, json=event_body(subject="second"), headers=headers)
        first_page = c.get(events, params={"$top": "1"}, headers=headers).json()
        assert first_page["value"][0]["id"] == event_id
        next_link = first_page["@odata.nextLink"]
        assert next_link.startswith(server.base_url)
        assert c.get(next_link, headers=headers).json()["value"][0]["subject"] == "second"

        patched = c.patch(f"{events}/{event_id}", json={"showAs": "tentative"}, headers=headers)
        assert patched.json()["showAs"] == "tentative"

        clock.advance(LIFETIME)
        assert c.delete(f"{events}/{event_id}", headers=headers).status_code == 401
        headers = bearer(c.post(token_url, data=grant).json()["access_token"])
        assert c.delete(f"{events}/{event_id}", headers=headers).status_code == 204
        assert [e["subject"] for e in fake.events(user)] == ["second"]
