"""FakeNinjaOne: OAuth grants and rotation, the v2 API, script runs and their activities."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.core import Fault, ManualClock
from sandbox.ninjaone import FakeNinjaOne, parse_device_filter
from tests.sandbox.ninjaone_samples import (
    ACTION_UID,
    ALERT_RESET_BODIES,
    CLIENT_ID,
    CLIENT_SECRET,
    CREDENTIAL_ID,
    LINUX,
    MAC,
    REBOOT_BODIES,
    RUN_SCRIPT_BODIES,
    SCRIPT_ID,
    SERVER,
    SHELL_SCRIPT_ID,
    SWITCH,
    WINDOWS,
    seed,
)

EPOCH = 1_800_000_000.0
RESULT_DELAY = 30.0
NOT_AUTHENTICATED = {
    "error": "not_authenticated",
    "error_description": "Invalid credentials",
    "error_code": 10,
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def ninja(clock: ManualClock) -> FakeNinjaOne:
    fake = FakeNinjaOne(
        clock=clock,
        epoch_origin=EPOCH,
        access_token_ttl=3600.0,
        script_result_delay=RESULT_DELAY,
        reboot_delay=60.0,
    )
    seed(fake)
    return fake


@pytest.fixture
def http(ninja: FakeNinjaOne) -> Iterator[httpx.Client]:
    with httpx.Client(transport=ninja.transport(), base_url="https://app.ninja.test") as c:
        yield c


@pytest.fixture
def token(ninja: FakeNinjaOne) -> str:
    return ninja.issue_access_token(CLIENT_ID)


@pytest.fixture
def api(ninja: FakeNinjaOne, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=ninja.transport(),
        base_url="https://app.ninja.test",
        headers={"Authorization": f"Bearer {token}"},
    ) as c:
        yield c


def post_form(http: httpx.Client, **form: str) -> httpx.Response:
    return http.post("/ws/oauth/token", data=form)


def refresh(http: httpx.Client, refresh_token: str) -> httpx.Response:
    return post_form(
        http,
        grant_type="refresh_token",
        refresh_token=refresh_token,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


# -- OAuth --------------------------------------------------------------------------


def test_refresh_grant_with_client_secret_post(ninja: FakeNinjaOne, http: httpx.Client) -> None:
    first = ninja.issue_refresh_token(CLIENT_ID)
    response = refresh(http, first)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "refresh_token"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "monitoring management control"
    assert response.headers["Cache-Control"] == "no-store"
    assert http.get("/v2/devices", headers=bearer(body["access_token"])).status_code == 200


def test_refresh_tokens_rotate(ninja: FakeNinjaOne, http: httpx.Client) -> None:
    first = ninja.issue_refresh_token(CLIENT_ID)
    second = refresh(http, first).json()["refresh_token"]
    assert second != first
    assert not ninja.refresh_token_valid(first)
    assert ninja.refresh_token_valid(second)

    stale = refresh(http, first)
    assert stale.status_code == 400
    assert stale.json() == {
        "error": "invalid_grant",
        "error_description": "The refresh token is invalid, expired or revoked",
    }
    third = refresh(http, second)
    assert third.status_code == 200
    assert refresh(http, "never-issued").json()["error"] == "invalid_grant"


def test_refresh_grant_with_client_secret_basic(ninja: FakeNinjaOne, http: httpx.Client) -> None:
    rt = ninja.issue_refresh_token(CLIENT_ID)
    response = http.post(
        "/ws/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": rt},
        headers=basic(CLIENT_ID, CLIENT_SECRET),
    )
    assert response.status_code == 200
    # A client_id in the form is allowed alongside Basic when it agrees.
    again = http.post(
        "/ws/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": response.json()["refresh_token"],
            "client_id": CLIENT_ID,
        },
        headers=basic(CLIENT_ID, CLIENT_SECRET),
    )
    assert again.status_code == 200


def test_bad_client_authentication(ninja: FakeNinjaOne, http: httpx.Client) -> None:
    rt = ninja.issue_refresh_token(CLIENT_ID)
    wrong_secret = post_form(
        http, grant_type="refresh_token", refresh_token=rt, client_id=CLIENT_ID, client_secret="x"
    )
    assert wrong_secret.status_code == 401
    assert wrong_secret.json() == {
        "error": "invalid_client",
        "error_description": "Client authentication failed",
    }
    unknown = post_form(http, grant_type="client_credentials", client_id="who", client_secret="x")
    assert unknown.status_code == 401
    nothing = post_form(http, grant_type="client_credentials")
    assert nothing.json()["error"] == "invalid_client"

    basic_wrong = http.post(
        "/ws/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic(CLIENT_ID, "nope"),
    )
    assert basic_wrong.status_code == 401
    assert basic_wrong.headers["WWW-Authenticate"].startswith("Basic")
    garbled = http.post(
        "/ws/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic !!!"},
    )
    assert garbled.status_code == 401
    # The refresh token was not consumed by the failed attempts.
    assert ninja.refresh_token_valid(rt)


@pytest.mark.parametrize(
    ("form", "headers", "error"),
    [
        ({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, {}, "invalid_request"),
        (
            {"grant_type": "password", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
            {},
            "unsupported_grant_type",
        ),
        (
            {"grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
            {},
            "invalid_request",
        ),
        (
            {"grant_type": "client_credentials", "client_secret": CLIENT_SECRET},
            basic(CLIENT_ID, CLIENT_SECRET),
            "invalid_request",
        ),
        (
            {"grant_type": "client_credentials", "client_id": "other"},
            basic(CLIENT_ID, CLIENT_SECRET),
            "invalid_request",
        ),
        (
            {
                "grant_type": "client_credentials",
                "scope": "monitoring root",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            },
            {},
            "invalid_scope",
        ),
        (
            {
                "grant_type": "authorization_code",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            },
            {},
            "invalid_request",
        ),
    ],
)
def test_token_request_errors(
    http: httpx.Client, form: dict[str, str], headers: dict[str, str], error: str
) -> None:
    response = http.post("/ws/oauth/token", data=form, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert CLIENT_SECRET not in response.text


def test_token_endpoint_wants_a_form(http: httpx.Client) -> None:
    response = http.post(
        "/ws/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_client_credentials_grant_has_no_refresh_token_and_no_user(
    ninja: FakeNinjaOne, http: httpx.Client
) -> None:
    response = post_form(
        http, grant_type="client_credentials", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    body = response.json()
    assert response.status_code == 200
    assert "refresh_token" not in body
    assert body["scope"] == "monitoring"
    assert http.get("/v2/devices", headers=bearer(body["access_token"])).status_code == 200
    wide = post_form(
        http,
        grant_type="client_credentials",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scope="monitoring management",
    ).json()
    assert wide["scope"] == "monitoring management"
    refused = http.post(
        f"/v2/device/{WINDOWS}/script/run",
        json=RUN_SCRIPT_BODIES[0],
        headers=bearer(wide["access_token"]),
    )
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "user_context_required",
        "error_description": (
            "Access key does not have user context which is required for this request"
        ),
        "error_code": 5,
    }
    assert ninja.script_runs == []


def test_client_limited_to_some_grants(ninja: FakeNinjaOne, http: httpx.Client) -> None:
    ninja.add_client("m2m", "m2m-secret", grant_types=["client_credentials"])
    rt = ninja.issue_refresh_token("m2m")
    response = post_form(
        http,
        grant_type="refresh_token",
        refresh_token=rt,
        client_id="m2m",
        client_secret="m2m-secret",
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


def test_refresh_token_of_another_client_is_invalid_grant(
    ninja: FakeNinjaOne, http: httpx.Client
) -> None:
    ninja.add_client("other", "other-secret")
    theirs = ninja.issue_refresh_token("other")
    assert refresh(http, theirs).json()["error"] == "invalid_grant"
    assert ninja.refresh_token_valid(theirs)


def test_refresh_may_narrow_but_not_widen_scope(ninja: FakeNinjaOne, http: httpx.Client) -> None:
    rt = ninja.issue_refresh_token(CLIENT_ID, scope=["monitoring", "management"])
    wider = post_form(
        http,
        grant_type="refresh_token",
        refresh_token=rt,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scope="monitoring control",
    )
    assert wider.json()["error"] == "invalid_scope"
    narrow = post_form(
        http,
        grant_type="refresh_token",
        refresh_token=rt,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scope="monitoring",
    ).json()
    assert narrow["scope"] == "monitoring"
    # The rotated refresh token keeps the original grant.
    assert refresh(http, narrow["refresh_token"]).json()["scope"] == "monitoring management"


def test_authorization_code_grant(ninja: FakeNinjaOne, http: httpx.Client) -> None:
    code = ninja.issue_authorization_code(CLIENT_ID, redirect_uri="http://localhost/cb", user_id=9)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "http://localhost/cb",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    body = http.post("/ws/oauth/token", data=form).json()
    assert {"access_token", "refresh_token"} <= set(body)
    again = http.post("/ws/oauth/token", data=form)
    assert again.json()["error"] == "invalid_grant"  # codes are single use

    other = ninja.issue_authorization_code(CLIENT_ID, redirect_uri="http://localhost/cb")
    mismatch = http.post(
        "/ws/oauth/token", data={**form, "code": other, "redirect_uri": "http://evil/cb"}
    )
    assert mismatch.json()["error"] == "invalid_grant"

    headers = bearer(body["access_token"])
    http.post(f"/v2/device/{WINDOWS}/script/run", json=RUN_SCRIPT_BODIES[0], headers=headers)
    assert ninja.script_runs[0].user_id == 9


def test_authorization_code_expires(
    ninja: FakeNinjaOne, http: httpx.Client, clock: ManualClock
) -> None:
    code = ninja.issue_authorization_code(CLIENT_ID)
    clock.advance(601)
    response = post_form(
        http,
        grant_type="authorization_code",
        code=code,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    assert response.json()["error"] == "invalid_grant"


def test_revocation_endpoint(ninja: FakeNinjaOne, http: httpx.Client) -> None:
    rt = ninja.issue_refresh_token(CLIENT_ID)
    at = ninja.issue_access_token(CLIENT_ID)
    for value in (rt, at):
        response = http.post(
            "/ws/oauth/revoke", data={"token": value}, headers=basic(CLIENT_ID, CLIENT_SECRET)
        )
        assert response.status_code == 200
    assert not ninja.refresh_token_valid(rt)
    assert http.get("/v2/devices", headers=bearer(at)).status_code == 401
    assert http.post("/ws/oauth/revoke", data={"token": "x"}).status_code == 401
    missing = http.post("/ws/oauth/revoke", data={}, headers=basic(CLIENT_ID, CLIENT_SECRET))
    assert missing.status_code == 400


def test_seeding_helpers_check_their_arguments(ninja: FakeNinjaOne) -> None:
    with pytest.raises(KeyError):
        ninja.issue_refresh_token("nobody")
    with pytest.raises(ValueError, match="scope"):
        ninja.issue_access_token(CLIENT_ID, scope=["root"])
    with pytest.raises(ValueError, match="scopes"):
        ninja.add_client("x", "y", scopes=["admin"])
    with pytest.raises(ValueError, match="exists"):
        ninja.add_device("dup", device_id=WINDOWS)
    with pytest.raises(KeyError):
        ninja.add_alert(999, message="no such device")


# -- API auth -------------------------------------------------------------------------


def test_api_needs_a_bearer_token(http: httpx.Client) -> None:
    missing = http.get("/v2/devices")
    assert missing.status_code == 401
    assert missing.json() == NOT_AUTHENTICATED
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    unknown = http.get("/v2/devices", headers=bearer("forged-token"))
    assert unknown.status_code == 401
    assert unknown.json() == NOT_AUTHENTICATED
    assert "forged-token" not in unknown.text
    for header in ("Token abc", "Bearer", "Bearer a b"):
        malformed = http.get("/v2/devices", headers={"Authorization": header})
        assert malformed.status_code == 400
        assert malformed.json() == {
            "error": "invalid_header",
            "error_description": "Invalid 'Authorization' header",
            "error_code": 1,
        }


def test_access_tokens_expire_and_refresh_recovers(
    ninja: FakeNinjaOne, http: httpx.Client, clock: ManualClock
) -> None:
    body = refresh(http, ninja.issue_refresh_token(CLIENT_ID)).json()
    headers = bearer(body["access_token"])
    clock.advance(3599.9)
    assert http.get("/v2/devices", headers=headers).status_code == 200
    clock.advance(0.1)
    expired = http.get("/v2/devices", headers=headers)
    assert expired.status_code == 401
    assert expired.json() == {**NOT_AUTHENTICATED, "error_description": "Access token has expired"}
    renewed = refresh(http, body["refresh_token"]).json()
    assert http.get("/v2/devices", headers=bearer(renewed["access_token"])).status_code == 200


def test_short_ttl_and_revocation_helpers(ninja: FakeNinjaOne, http: httpx.Client) -> None:
    short = ninja.issue_access_token(CLIENT_ID, ttl=0)
    assert http.get("/v2/devices", headers=bearer(short)).status_code == 401
    one, two = ninja.issue_access_token(CLIENT_ID), ninja.issue_access_token(CLIENT_ID)
    ninja.revoke_access_token(one)
    assert http.get("/v2/devices", headers=bearer(one)).status_code == 401
    assert http.get("/v2/devices", headers=bearer(two)).status_code == 200
    ninja.expire_access_tokens()
    assert http.get("/v2/devices", headers=bearer(two)).status_code == 401
    rt = ninja.issue_refresh_token(CLIENT_ID)
    ninja.revoke_refresh_token(rt)
    assert refresh(http, rt).status_code == 400


def test_scopes_gate_reads_and_writes(ninja: FakeNinjaOne, http: httpx.Client) -> None:
    read_only = bearer(ninja.issue_access_token(CLIENT_ID, scope=["monitoring"]))
    assert http.get("/v2/devices", headers=read_only).status_code == 200
    refused = http.post(f"/v2/device/{WINDOWS}/reboot/NORMAL", headers=read_only)
    assert refused.status_code == 401
    assert refused.json()["error"] == "insufficient_privileges"
    write_only = bearer(ninja.issue_access_token(CLIENT_ID, scope=["management"]))
    assert http.get("/v2/devices", headers=write_only).status_code == 401
    assert ninja.reboots == []


def test_errors_never_echo_credentials(ninja: FakeNinjaOne, http: httpx.Client) -> None:
    rt = ninja.issue_refresh_token(CLIENT_ID)
    at = ninja.issue_access_token(CLIENT_ID, user_id=None)
    responses = [
        post_form(
            http,
            grant_type="refresh_token",
            refresh_token=rt + "x",
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
        ),
        post_form(
            http,
            grant_type="refresh_token",
            refresh_token=rt,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET + "x",
        ),
        http.post(
            "/ws/oauth/token", data={"grant_type": "x"}, headers=basic(CLIENT_ID, CLIENT_SECRET)
        ),
        http.get("/v2/devices", headers=bearer(at + "x")),
        http.get("/v2/device/999", headers=bearer(at)),
        http.post(
            f"/v2/device/{WINDOWS}/script/run", json={"type": "SCRIPT", "id": 1}, headers=bearer(at)
        ),
    ]
    for response in responses:
        assert response.status_code >= 400
        for secret in (rt, at, CLIENT_SECRET):
            assert secret not in response.text


# -- devices ----------------------------------------------------------------------------


def test_devices_page_by_last_id(api: httpx.Client) -> None:
    ids: list[int] = []
    after: int | None = None
    while True:
        params = {"pageSize": 2, **({"after": after} if after else {})}
        page = api.get("/v2/devices", params=params).json()
        ids += [d["id"] for d in page]
        if len(page) < 2:
            break
        after = page[-1]["id"]
    assert ids == [1, 2, 3, 4, 5]
    assert [d["id"] for d in api.get("/v2/devices").json()] == [1, 2, 3, 4, 5]
    assert api.get("/v2/devices", params={"after": 5}).json() == []


def test_device_list_item_shape(api: httpx.Client) -> None:
    first = api.get("/v2/devices", params={"pageSize": 1}).json()[0]
    assert first["id"] == WINDOWS
    assert first["systemName"] == "CONTOSO-WS01"
    assert first["displayName"] == "CONTOSO-WS01"
    assert first["nodeClass"] == "WINDOWS_WORKSTATION"
    assert first["organizationId"] == 1
    assert first["locationId"] == 10
    assert first["offline"] is False
    assert first["tags"] == ["front-desk"]
    assert first["references"] == {
        "organization": {"id": 1, "name": "Contoso"},
        "location": {"id": 10, "name": "HQ"},
    }
    for stamp in ("created", "lastContact", "lastUpdate"):
        assert isinstance(first[stamp], float)
        assert EPOCH - 100_000 < first[stamp] <= EPOCH  # epoch seconds, not ms
    assert "ipAddresses" not in first  # Device-only fields are not in the list


@pytest.mark.parametrize(
    ("df", "ids"),
    [
        ("id = 2", [2]),
        ("id in (1, 4)", [1, 4]),
        ("org = 2", [3, 4, 5]),
        ("org in (1,2) AND offline", [3]),
        ("class = MAC", [3]),
        ("class notin (MAC, NMS_SWITCH) and online", [1, 2, 4]),
        ("org != 2", [1, 2]),
        ("loc = 10", [1, 2]),
        ("status = APPROVED AND org = 1", [1, 2]),
    ],
)
def test_device_filter(api: httpx.Client, df: str, ids: list[int]) -> None:
    assert [d["id"] for d in api.get("/v2/devices", params={"df": df}).json()] == ids


@pytest.mark.parametrize("df", ["CONTOSO-WS01", "org = two", "name = x", "id in ()", "org >= 1"])
def test_unsupported_device_filter_is_400(api: httpx.Client, df: str) -> None:
    response = api.get("/v2/devices", params={"df": df})
    assert response.status_code == 400
    body = response.json()
    assert body["resultCode"] == "FAILURE"
    assert body["errorMessage"] == "Invalid device filter"
    assert body["incidentId"].startswith("WEB-")


def test_parse_device_filter_directly() -> None:
    keep = parse_device_filter("offline AND class in (MAC)")
    assert keep({"offline": True, "nodeClass": "MAC"})
    assert not keep({"offline": False, "nodeClass": "MAC"})


@pytest.mark.parametrize("params", [{"pageSize": "x"}, {"after": "last"}, {"pageSize": -1}])
def test_bad_paging_parameters(api: httpx.Client, params: dict[str, str | int]) -> None:
    assert api.get("/v2/devices", params=params).status_code == 400


def test_device_detail(api: httpx.Client) -> None:
    device = api.get(f"/v2/device/{SERVER}").json()
    assert device["id"] == SERVER
    assert device["displayName"] == "Domain ctl"
    assert device["nodeClass"] == "WINDOWS_SERVER"
    assert device["os"]["name"] == "Windows Server 2022 Standard Edition"
    assert device["ipAddresses"] and device["macAddresses"]
    assert isinstance(device["lastContact"], float)
    detailed = api.get("/v2/devices-detailed", params={"df": f"id = {SERVER}"}).json()
    assert detailed == [device]


def test_device_not_found_and_bad_id(api: httpx.Client) -> None:
    missing = api.get("/v2/device/999")
    assert missing.status_code == 404
    assert missing.json()["resultCode"] == "NOT_FOUND"
    assert missing.json()["errorMessage"] == "Device 999 not found"
    assert api.get("/v2/device/abc").status_code == 400


def test_unknown_routes(api: httpx.Client) -> None:
    missing = api.get("/v2/nowhere")
    assert missing.status_code == 404
    assert missing.json()["errorMessage"] == "HTTP 404 Not Found"
    wrong = api.delete("/v2/devices")
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "GET"


# -- scripting options ---------------------------------------------------------------


def test_scripting_options_for_windows(api: httpx.Client) -> None:
    options = api.get(f"/v2/device/{WINDOWS}/scripting/options").json()
    assert options["categories"] == [{"id": 2, "name": "Maintenance", "internal": False}]
    assert options["scripts"] == [
        {
            "type": "SCRIPT",
            "id": SCRIPT_ID,
            "name": "Clear temp files",
            "language": "PowerShell",
            "description": "Deletes old temp files",
            "architecture": ["32", "64"],
            "categoryId": 2,
        },
        {
            "type": "ACTION",
            "uid": ACTION_UID,
            "name": "Flush DNS cache",
            "description": "",
            "architecture": ["32", "64"],
        },
    ]
    assert options["credentials"] == {
        "roles": ["SYSTEM", "LOGGED_ON_USER", "LOCAL_ADMIN", "DOMAIN_ADMIN"],
        "credentials": [{"id": CREDENTIAL_ID, "name": "Contoso domain admin", "type": "BASIC"}],
    }


def test_scripting_options_depend_on_the_device(api: httpx.Client) -> None:
    mac = api.get(f"/v2/device/{MAC}/scripting/options").json()
    assert [s.get("id") or s.get("uid") for s in mac["scripts"]] == [SHELL_SCRIPT_ID, ACTION_UID]
    assert mac["credentials"]["roles"] == ["SYSTEM", "LOGGED_ON_USER", "PREFERRED_CREDENTIAL_MAC"]
    linux = api.get(f"/v2/device/{LINUX}/scripting/options").json()
    assert "PREFERRED_CREDENTIAL_LINUX" in linux["credentials"]["roles"]
    switch = api.get(f"/v2/device/{SWITCH}/scripting/options").json()
    assert switch["scripts"] == []
    assert switch["credentials"] == {"roles": [], "credentials": []}
    assert api.get("/v2/device/999/scripting/options").status_code == 404


# -- script runs ------------------------------------------------------------------------


@pytest.mark.parametrize("body", RUN_SCRIPT_BODIES)
def test_valid_runs_are_accepted(
    ninja: FakeNinjaOne, api: httpx.Client, body: dict[str, Any]
) -> None:
    response = api.post(f"/v2/device/{WINDOWS}/script/run", json=body)
    assert response.status_code == 204
    assert response.content == b""
    (run,) = ninja.script_runs
    assert run.device_id == WINDOWS
    assert run.type == body["type"]
    assert run.script_id == body.get("id")
    assert run.action_uid == body.get("uid")
    assert run.parameters == body.get("parameters")
    assert run.run_as == body.get("runAs", "SYSTEM")


@pytest.mark.parametrize(
    ("device", "body", "status", "message"),
    [
        (999, {"type": "SCRIPT", "id": SCRIPT_ID}, 404, "Device 999 not found"),
        (WINDOWS, ["SCRIPT"], 400, "Request body must be a JSON object"),
        (WINDOWS, {"id": SCRIPT_ID}, 400, "type is required"),
        (WINDOWS, {"type": "script", "id": SCRIPT_ID}, 400, "type must be SCRIPT or ACTION"),
        (WINDOWS, {"type": "SCRIPT"}, 400, "id is required when type is SCRIPT"),
        (WINDOWS, {"type": "SCRIPT", "uid": ACTION_UID}, 400, "id is required when type is SCRIPT"),
        (WINDOWS, {"type": "SCRIPT", "id": "7"}, 400, "id must be an integer"),
        (WINDOWS, {"type": "SCRIPT", "id": 404}, 404, "Script 404 not found"),
        (WINDOWS, {"type": "ACTION", "id": SCRIPT_ID}, 400, "uid is required when type is ACTION"),
        (WINDOWS, {"type": "ACTION", "uid": 5}, 400, "uid must be a string"),
        (WINDOWS, {"type": "ACTION", "uid": "0000"}, 404, "Action 0000 not found"),
        (
            WINDOWS,
            {"type": "SCRIPT", "id": SHELL_SCRIPT_ID},
            400,
            f"Collect logs is not available for device {WINDOWS}",
        ),
        (
            SWITCH,
            {"type": "ACTION", "uid": ACTION_UID},
            400,
            f"Flush DNS cache is not available for device {SWITCH}",
        ),
        (
            WINDOWS,
            {"type": "SCRIPT", "id": SCRIPT_ID, "parameters": 5},
            400,
            "parameters must be a string",
        ),
        (
            WINDOWS,
            {"type": "SCRIPT", "id": SCRIPT_ID, "parameters": "x" * 30_001},
            400,
            "parameters must be at most 30000 characters",
        ),
        (
            WINDOWS,
            {"type": "SCRIPT", "id": SCRIPT_ID, "runAs": "system"},
            400,
            "runAs must be a credential role or identifier offered",
        ),
        (
            WINDOWS,
            {"type": "SCRIPT", "id": SCRIPT_ID, "runAs": "PREFERRED_CREDENTIAL_MAC"},
            400,
            "runAs must be a credential role or identifier offered",
        ),
        (
            WINDOWS,
            {"type": "SCRIPT", "id": SCRIPT_ID, "runAs": CREDENTIAL_ID},
            400,
            "runAs must be a credential role or identifier offered",
        ),
    ],
)
def test_run_validation(
    ninja: FakeNinjaOne, api: httpx.Client, device: int, body: object, status: int, message: str
) -> None:
    response = api.post(f"/v2/device/{device}/script/run", json=body)
    assert response.status_code == status
    assert response.json()["errorMessage"] == message
    assert response.json()["resultCode"] == ("NOT_FOUND" if status == 404 else "FAILURE")
    assert ninja.script_runs == []


def test_parameters_at_the_limit_and_non_json_body(ninja: FakeNinjaOne, api: httpx.Client) -> None:
    ok = api.post(
        f"/v2/device/{WINDOWS}/script/run",
        json={"type": "SCRIPT", "id": SCRIPT_ID, "parameters": "x" * 30_000},
    )
    assert ok.status_code == 204
    form = api.post(f"/v2/device/{WINDOWS}/script/run", data={"type": "SCRIPT", "id": "7"})
    assert form.status_code == 400
    assert len(ninja.script_runs) == 1


def test_run_result_appears_in_activities_after_the_delay(
    ninja: FakeNinjaOne, api: httpx.Client, clock: ManualClock
) -> None:
    newest_before = ninja.add_activity(WINDOWS, activityType="SYSTEM", statusCode="COMPLETED")["id"]
    clock.advance(5)
    assert (
        api.post(f"/v2/device/{WINDOWS}/script/run", json=RUN_SCRIPT_BODIES[1]).status_code == 204
    )
    (run,) = ninja.script_runs
    assert run.completes_at == run.requested_at + RESULT_DELAY

    def newer() -> list[dict[str, Any]]:
        body = api.get(
            f"/v2/device/{WINDOWS}/activities", params={"newerThan": newest_before}
        ).json()
        return list(body["activities"])

    (started,) = newer()
    assert started["statusCode"] == "START_REQUESTED"
    assert started["seriesUid"] == run.series_uid
    assert "activityResult" not in started
    jobs = api.get(f"/v2/device/{WINDOWS}/jobs").json()
    assert [(j["uid"], j["jobStatus"], j["sourceName"]) for j in jobs] == [
        (run.series_uid, "IN_PROCESS", "Clear temp files")
    ]

    clock.advance(RESULT_DELAY - 0.5)
    assert len(newer()) == 1
    clock.advance(0.5)
    completed, again = newer()
    assert again == started
    assert completed["id"] > started["id"]
    assert completed == {
        "id": completed["id"],
        "deviceId": WINDOWS,
        "activityTime": EPOCH + 5 + RESULT_DELAY,
        "severity": "NONE",
        "priority": "NONE",
        "seriesUid": run.series_uid,
        "activityType": "ACTION",
        "statusCode": "COMPLETED",
        "status": "Completed",
        "activityResult": "SUCCESS",
        "sourceConfigUid": completed["sourceConfigUid"],
        "sourceName": "Clear temp files",
        "subject": "Clear temp files",
        "userId": 1,
        "message": "Removed 12 files",
        "type": "Action",
        "data": {
            "scriptType": "SCRIPT",
            "scriptId": SCRIPT_ID,
            "runAs": "LOGGED_ON_USER",
            "exitCode": 0,
            "output": "Removed 12 files",
        },
    }
    assert api.get(f"/v2/device/{WINDOWS}/jobs").json() == []
    assert completed in ninja.activities(WINDOWS)


def test_failed_script_and_action_results(
    ninja: FakeNinjaOne, api: httpx.Client, clock: ManualClock
) -> None:
    api.post(f"/v2/device/{LINUX}/script/run", json={"type": "SCRIPT", "id": SHELL_SCRIPT_ID})
    api.post(f"/v2/device/{LINUX}/script/run", json={"type": "ACTION", "uid": ACTION_UID})
    clock.advance(RESULT_DELAY)
    completed = api.get(f"/v2/device/{LINUX}/activities", params={"status": "COMPLETED"}).json()[
        "activities"
    ]
    by_name = {a["sourceName"]: a for a in completed}
    assert by_name["Collect logs"]["activityResult"] == "FAILURE"
    assert by_name["Collect logs"]["data"]["exitCode"] == 2
    assert by_name["Flush DNS cache"]["data"]["actionUid"] == ACTION_UID
    assert by_name["Flush DNS cache"]["sourceConfigUid"] == ACTION_UID
    assert ninja.activities(WINDOWS) == []


def test_activity_query_parameters(ninja: FakeNinjaOne, api: httpx.Client) -> None:
    for i in range(25):
        ninja.add_activity(SERVER, activityType="SYSTEM", statusCode="COMPLETED", message=f"m{i}")
    ninja.add_activity(WINDOWS, activityType="SYSTEM", statusCode="COMPLETED")
    url = f"/v2/device/{SERVER}/activities"
    first = api.get(url, params={"pageSize": 10}).json()
    ids = [a["id"] for a in first["activities"]]
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == 10
    assert first["lastActivityId"] == ids[-1]
    second = api.get(url, params={"pageSize": 10, "olderThan": first["lastActivityId"]}).json()
    assert second["activities"][0]["id"] == ids[-1] - 1
    assert len(api.get(url).json()["activities"]) == 25  # default pageSize 200
    assert api.get(url, params={"activityType": "ACTION"}).json() == {"activities": []}
    assert len(api.get(url, params={"status": "STARTED,COMPLETED"}).json()["activities"]) == 25
    assert api.get(url, params={"seriesUid": "none"}).json()["activities"] == []
    for bad in ({"pageSize": 9}, {"pageSize": 1001}, {"olderThan": "x"}):
        assert api.get(url, params=bad).status_code == 400
    assert api.get("/v2/device/999/activities").status_code == 404


# -- reboot ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["NORMAL", "FORCED"])
@pytest.mark.parametrize("body", [*REBOOT_BODIES, None])
def test_reboot_modes(
    ninja: FakeNinjaOne, api: httpx.Client, mode: str, body: dict[str, Any] | None
) -> None:
    response = api.post(f"/v2/device/{SERVER}/reboot/{mode}", json=body)
    assert response.status_code == 204
    (reboot,) = ninja.reboots
    assert (reboot.device_id, reboot.mode, reboot.user_id) == (SERVER, mode, 1)
    assert reboot.reason == (body or {}).get("reason")


def test_reboot_errors(ninja: FakeNinjaOne, api: httpx.Client) -> None:
    bad_mode = api.post(f"/v2/device/{SERVER}/reboot/SOFT")
    assert bad_mode.status_code == 400
    assert bad_mode.json()["errorMessage"] == "mode must be NORMAL or FORCED"
    assert api.post(f"/v2/device/{SERVER}/reboot/normal").status_code == 400
    assert api.post("/v2/device/999/reboot/NORMAL").status_code == 404
    assert api.post(f"/v2/device/{SERVER}/reboot/NORMAL", json=["now"]).status_code == 400
    assert api.post(f"/v2/device/{SERVER}/reboot/NORMAL", json={"reason": 1}).status_code == 400
    assert ninja.reboots == []


def test_reboot_shows_up_as_an_activity(
    ninja: FakeNinjaOne, api: httpx.Client, clock: ManualClock
) -> None:
    api.post(f"/v2/device/{SERVER}/reboot/FORCED", json={"reason": "hung"})
    assert ninja.activities(SERVER) == []
    clock.advance(60)
    (activity,) = ninja.activities(SERVER)
    assert activity["statusCode"] == "SYSTEM_REBOOTED"
    assert activity["message"] == "Forced reboot: hung"


# -- alerts -----------------------------------------------------------------------------


def test_alerts_list(api: httpx.Client) -> None:
    alerts = api.get("/v2/alerts").json()
    assert [a["deviceId"] for a in alerts] == [WINDOWS, MAC, LINUX]
    cpu = alerts[0]
    assert cpu["uid"] == "0b7d5d8e-4b7c-4c55-9d7e-000000000001"
    assert cpu["message"] == "CPU above 90%"
    assert cpu["sourceType"] == "CONDITION_AGENT_CPU"
    assert cpu["createTime"] == EPOCH
    assert cpu["device"]["systemName"] == "CONTOSO-WS01"
    by_type = api.get("/v2/alerts", params={"sourceType": "AGENT_OFFLINE"}).json()
    assert [a["deviceId"] for a in by_type] == [LINUX]
    by_df = api.get("/v2/alerts", params={"df": "org = 2", "lang": "en", "tz": "UTC"}).json()
    assert [a["deviceId"] for a in by_df] == [MAC, LINUX]
    assert api.get("/v2/alerts", params={"df": "nonsense"}).status_code == 400
    assert [a["deviceId"] for a in api.get(f"/v2/device/{MAC}/alerts").json()] == [MAC]
    assert api.get("/v2/device/999/alerts").status_code == 404


@pytest.mark.parametrize("body", [*ALERT_RESET_BODIES, None])
def test_alert_reset_by_post(ninja: FakeNinjaOne, api: httpx.Client, body: object) -> None:
    uid = "0b7d5d8e-4b7c-4c55-9d7e-000000000002"
    assert api.post(f"/v2/alert/{uid}/reset", json=body).status_code == 204
    assert uid not in [a["uid"] for a in api.get("/v2/alerts").json()]
    assert api.post(f"/v2/alert/{uid}/reset").status_code == 404  # already reset
    (reset,) = ninja.alert_resets
    assert (reset.uid, reset.method, reset.body) == (uid, "POST", body)


def test_alert_reset_by_delete_and_unknown(ninja: FakeNinjaOne, api: httpx.Client) -> None:
    uid = "0b7d5d8e-4b7c-4c55-9d7e-000000000003"
    assert api.delete(f"/v2/alert/{uid}").status_code == 204
    assert len(ninja.active_alerts()) == 2
    missing = api.delete("/v2/alert/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert missing.json()["resultCode"] == "NOT_FOUND"
    assert api.post(f"/v2/alert/{uid}/reset", json=[1]).status_code == 400
    assert [r.method for r in ninja.alert_resets] == ["DELETE"]


# -- faults -------------------------------------------------------------------------------


def test_injected_429_then_success(ninja: FakeNinjaOne, api: httpx.Client) -> None:
    ninja.inject(
        Fault(status=429, body="<html>Too many requests</html>", headers={"Retry-After": "5"}),
        path="/v2/devices",
    )
    limited = api.get("/v2/devices")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "5"
    assert api.get("/v2/devices").status_code == 200
    assert [r.status for r in ninja.calls("GET", "/v2/devices")] == [429, 200]


def test_injected_500_on_run_means_no_run(ninja: FakeNinjaOne, api: httpx.Client) -> None:
    ninja.inject(Fault(status=500, body={"resultCode": "FAILURE"}), path="/v2/device/*/script/run")
    assert (
        api.post(f"/v2/device/{WINDOWS}/script/run", json=RUN_SCRIPT_BODIES[0]).status_code == 500
    )
    assert ninja.script_runs == []


def test_lost_response_after_the_run_was_accepted(ninja: FakeNinjaOne, api: httpx.Client) -> None:
    ninja.inject(Fault(disconnect=True), method="POST", path="/v2/device/*/script/run")
    with pytest.raises(httpx.RemoteProtocolError):
        api.post(f"/v2/device/{WINDOWS}/script/run", json=RUN_SCRIPT_BODIES[0])
    assert len(ninja.script_runs) == 1


def test_token_endpoint_can_fail_too(ninja: FakeNinjaOne, http: httpx.Client) -> None:
    rt = ninja.issue_refresh_token(CLIENT_ID)
    ninja.inject(Fault(status=503), path="/ws/oauth/token")
    assert refresh(http, rt).status_code == 503
    assert ninja.refresh_token_valid(rt)  # a failed call rotates nothing
    assert refresh(http, rt).status_code == 200


# -- over real HTTP ------------------------------------------------------------------------


def test_full_flow_over_loopback(clock: ManualClock) -> None:
    ninja = FakeNinjaOne(clock=clock, script_result_delay=10.0)
    demo = ninja.seed_demo()
    with ninja.serve() as server, httpx.Client(base_url=server.base_url) as c:
        tokens = c.post(
            "/ws/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": demo["refresh_token"]},
            auth=(demo["client_id"], demo["client_secret"]),
        ).json()
        c.headers["Authorization"] = f"Bearer {tokens['access_token']}"

        devices = c.get("/v2/devices", params={"pageSize": 2}).json()
        devices += c.get("/v2/devices", params={"pageSize": 2, "after": devices[-1]["id"]}).json()
        assert [d["id"] for d in devices] == demo["device_ids"]
        server_id = devices[0]["id"]

        scripts = c.get(f"/v2/device/{server_id}/scripting/options").json()["scripts"]
        script = next(s for s in scripts if s["type"] == "SCRIPT")
        newest = c.get(f"/v2/device/{server_id}/activities", params={"pageSize": 10}).json()
        since = newest.get("lastActivityId", 0)
        run = c.post(
            f"/v2/device/{server_id}/script/run", json={"type": "SCRIPT", "id": script["id"]}
        )
        assert run.status_code == 204

        clock.advance(10.0)
        activities = c.get(
            f"/v2/device/{server_id}/activities",
            params={"newerThan": since, "status": "COMPLETED"},
        ).json()["activities"]
        assert [a["message"] for a in activities] == ["Removed 1,284 files (2.3 GB)."]

        assert (
            c.post(f"/v2/device/{server_id}/reboot/NORMAL", json={"reason": "x"}).status_code == 204
        )
        alert = c.get("/v2/alerts").json()[0]
        assert c.post(f"/v2/alert/{alert['uid']}/reset", json={}).status_code == 204
        assert alert["uid"] not in [a["uid"] for a in c.get("/v2/alerts").json()]

        assert c.post("/__sandbox/faults", json={"status": 500, "path": "/v2/*"}).status_code == 201
        assert c.get("/v2/devices").status_code == 500
        log = c.get("/__sandbox/requests", params={"path": "/ws/oauth/token"}).json()["requests"]
        assert log[0]["headers"]["authorization"] == "Basic ***"
        assert log[0]["body"]["refresh_token"] == "***"
    assert len(ninja.script_runs) == 1
    assert len(ninja.reboots) == 1
