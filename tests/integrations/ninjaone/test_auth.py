"""NinjaOne OAuth: refresh ahead of expiry and once on a 401, rotation written back, refreshes
of concurrent actions coalesced, dead tokens named, and no credential ever in a payload or log.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import httpx
import pytest

from executor.pipeline import Outcome, Reschedule
from integrations.ninjaone.credentials import fingerprint
from sandbox.core import Fault
from tests.integrations.ninjaone.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    NinjaHarness,
    error_of,
    output_of,
    wait_for,
)

LIVE_FIND = ("devices.find", {"live": True})


def bearer(request: Any) -> str:
    header: str = request.headers["authorization"]
    return header.removeprefix("Bearer ")


def test_a_seed_refresh_token_bootstraps_credentials_and_rotation_is_stored(
    ninja: NinjaHarness,
) -> None:
    ninja.delete_secret("ninjaone_credentials")
    seed = ninja.fake.issue_refresh_token(CLIENT_ID)
    ninja.set_secret("ninjaone_refresh_token", seed)

    assert ninja.ok(*LIVE_FIND)["count"] == 3
    (token_call,) = ninja.fake.calls("POST", "/ws/oauth/token")
    assert token_call.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert token_call.body == {
        "grant_type": "refresh_token",
        "refresh_token": seed,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    stored = ninja.credentials()
    assert stored["refresh_token"] != seed
    assert not ninja.fake.refresh_token_valid(seed)  # NinjaOne rotated it away
    assert ninja.fake.refresh_token_valid(stored["refresh_token"])
    assert stored["expires_at"] == pytest.approx(ninja.now + 3600)
    assert stored["seeded_from"] == fingerprint(seed)
    (api_call,) = ninja.fake.calls("GET", "/v2/devices-detailed")
    assert bearer(api_call) == stored["access_token"]

    # The next action uses the stored token; the seed is not presented again.
    ninja.ok(*LIVE_FIND)
    assert ninja.fake.token_calls() == 1


def test_the_token_is_refreshed_five_minutes_before_it_expires(ninja: NinjaHarness) -> None:
    old = ninja.store_tokens(ttl=900)
    ninja.ok(*LIVE_FIND)
    assert ninja.fake.token_calls() == 0
    ninja.fake_clock.advance(601)  # 299 s left: inside the margin, still valid at NinjaOne
    ninja.fake.reset()
    ninja.ok(*LIVE_FIND)
    assert [(c.method, c.path) for c in ninja.fake.requests] == [
        ("POST", "/ws/oauth/token"),
        ("GET", "/v2/devices-detailed"),
    ]
    stored = ninja.credentials()
    assert bearer(ninja.fake.calls("GET")[0]) == stored["access_token"] != old["access_token"]
    assert stored["refresh_token"] != old["refresh_token"]


def test_a_401_refreshes_once_and_repeats_the_request(ninja: NinjaHarness) -> None:
    old = ninja.credentials()
    ninja.fake.revoke_access_token(old["access_token"])
    out = ninja.ok("devices.reboot", {"device_id": 1})
    assert out["reboot_requested"] is True
    assert [(c.method, c.path, c.status) for c in ninja.fake.requests] == [
        ("POST", "/v2/device/1/reboot/NORMAL", 401),
        ("POST", "/ws/oauth/token", 200),
        ("POST", "/v2/device/1/reboot/NORMAL", 204),
    ]
    assert len(ninja.fake.reboots) == 1
    assert ninja.credentials()["access_token"] != old["access_token"]


def test_a_second_401_is_a_failure_not_a_loop(ninja: NinjaHarness) -> None:
    ninja.fake.inject(
        Fault(status=401, body={"error": "not_authenticated", "error_description": "Nope"}),
        path="/v2/devices-detailed",
        times=None,
    )
    error = ninja.error(*LIVE_FIND)
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert error["vendor"] == {"status": 401, "message": "Nope"}
    assert ninja.fake.token_calls() == 1
    assert ninja.fake.count("GET", "/v2/devices-detailed") == 2


class HoldTokenRequests(httpx.BaseTransport):
    """Holds token requests until ``release()`` is true, then lets them through."""

    def __init__(self, inner: httpx.BaseTransport, release: Any) -> None:
        self._inner = inner
        self._release = release

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/ws/oauth/token":
            wait_for(self._release)
        return self._inner.handle_request(request)


@pytest.mark.parametrize("start", ["expired token", "seed refresh token only"])
def test_concurrent_actions_needing_a_refresh_make_one_refresh(
    ninja: NinjaHarness, start: str
) -> None:
    old = ninja.credentials()
    if start == "expired token":
        ninja.fake.expire_access_tokens()
    else:
        ninja.delete_secret("ninjaone_credentials")
        ninja.set_secret("ninjaone_refresh_token", ninja.fake.issue_refresh_token(CLIENT_ID))
    ledger = ninja.pipeline().ledger

    def both_need_a_token() -> bool:
        if start == "expired token":
            return sum(1 for c in ninja.fake.calls("GET") if c.status == 401) >= 2
        rows = [ledger.get("acme", key) for key in "ab"]
        return all(row is not None and row.status == "STARTED" for row in rows)

    # The first refresh is held until the second action needs a token too, so
    # both refresh at once; the second must wait for the first and reuse its token.
    pipeline = ninja.pipeline(HoldTokenRequests(ninja.fake.transport(), both_need_a_token))
    outcomes: dict[str, Outcome] = {}

    def run(key: str, input: dict[str, Any]) -> None:
        outcomes[key] = pipeline.execute(ninja.task("devices.find", input, key=key))

    threads = [
        threading.Thread(target=run, args=("a", {"live": True, "device_id": 1})),
        threading.Thread(target=run, args=("b", {"live": True, "device_id": 2})),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [output_of(outcomes[k])["devices"][0]["external_device_id"] for k in "ab"] == ["1", "2"]
    assert ninja.fake.token_calls() == 1
    stored = ninja.credentials()
    assert ninja.fake.refresh_token_valid(stored["refresh_token"])
    assert stored["access_token"] != old["access_token"]
    served = [c for c in ninja.fake.calls("GET") if c.status == 200]
    assert [bearer(c) for c in served] == [stored["access_token"]] * 2


def test_an_unusable_refresh_token_says_how_to_reconnect(ninja: NinjaHarness) -> None:
    creds = ninja.credentials()
    ninja.fake.revoke_refresh_token(creds["refresh_token"])
    ninja.fake.expire_access_tokens()
    error = ninja.error(*LIVE_FIND)
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert error["retryable"] is False
    assert "invalid_grant" in error["message"]
    assert "reconnect" in error["message"]
    assert (
        "patchbay connect ninjaone --tenant acme --secret ninjaone_refresh_token="
        in (error["message"])
    )
    assert error["vendor"]["status"] == 400
    dumped = json.dumps(error)
    assert creds["refresh_token"] not in dumped
    assert creds["access_token"] not in dumped
    assert ninja.credentials() == creds  # nothing half-written


def test_reconnecting_with_a_new_refresh_token_replaces_dead_credentials(
    ninja: NinjaHarness,
) -> None:
    dead = ninja.credentials()
    ninja.fake.revoke_refresh_token(dead["refresh_token"])
    ninja.fake.expire_access_tokens()
    new_seed = ninja.fake.issue_refresh_token(CLIENT_ID)
    ninja.set_secret("ninjaone_refresh_token", new_seed)

    ninja.ok(*LIVE_FIND)
    ninja.ok(*LIVE_FIND)
    assert ninja.fake.token_calls() == 1
    assert ninja.fake.calls("POST", "/ws/oauth/token")[0].body["refresh_token"] == new_seed
    assert ninja.credentials()["seeded_from"] == fingerprint(new_seed)


def test_a_rejected_client_secret_names_the_secrets_to_check(ninja: NinjaHarness) -> None:
    ninja.set_secret("ninjaone_client_secret", "not-the-right-client-secret")
    ninja.fake.expire_access_tokens()
    error = ninja.error(*LIVE_FIND)
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert "ninjaone_client_secret" in error["message"]
    assert "https://eu.ninjarmm.com" in error["message"]
    assert error["vendor"]["status"] == 401
    assert "not-the-right-client-secret" not in json.dumps(error)


def test_a_token_without_the_needed_scope_is_not_refreshed_in_vain(ninja: NinjaHarness) -> None:
    read_only = ninja.fake.issue_access_token(CLIENT_ID, scope=["monitoring"])
    ninja.set_secret(
        "ninjaone_credentials",
        json.dumps({"refresh_token": None, "access_token": read_only, "expires_at": 4e9}),
    )
    error = ninja.error("devices.reboot", {"device_id": 1})
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert "scope" in error["message"]
    assert ninja.fake.token_calls() == 0
    assert ninja.fake.reboots == []


def test_a_token_endpoint_outage_is_retried_later_and_changes_nothing(
    ninja: NinjaHarness,
) -> None:
    creds = ninja.credentials()
    ninja.fake.expire_access_tokens()
    ninja.fake_clock.advance(3600)
    ninja.fake.inject(Fault(status=503, body={"error": "unavailable"}), path="/ws/oauth/token")
    outcome = ninja.run(*LIVE_FIND, key="outage")
    assert isinstance(outcome, Reschedule)
    assert outcome.reason == "retry"
    assert ninja.credentials() == creds
    ninja.clock.advance(outcome.countdown)
    assert ninja.ok(*LIVE_FIND, key="outage")["count"] == 3
    assert ninja.fake.token_calls() == 2


def test_credentials_never_reach_payloads_ledger_rows_or_logs(
    ninja: NinjaHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ninja.delete_secret("ninjaone_credentials")
    seed = ninja.fake.issue_refresh_token(CLIENT_ID)
    ninja.set_secret("ninjaone_refresh_token", seed)
    ninja.ok(*LIVE_FIND)  # a refresh, logged
    creds = ninja.credentials()
    canaries = [CLIENT_SECRET, seed, creds["access_token"], creds["refresh_token"]]
    # A vendor that echoes every credential back in its error.
    ninja.fake.inject(
        Fault(
            status=400,
            body={"resultCode": "FAILURE", "errorMessage": "bad request: " + " ".join(canaries)},
        ),
        path="/v2/device/1/reboot/NORMAL",
    )
    error = ninja.error("devices.reboot", {"device_id": 1})
    assert error["code"] == "VENDOR_ERROR"
    assert "[REDACTED]" in error["vendor"]["message"]
    assert "NinjaOne access token refreshed" in caplog.text
    rows = ninja.ledger_texts()
    assert len(rows) == 2
    for canary in canaries:
        assert canary not in json.dumps(error)
        assert canary not in caplog.text
        assert all(canary not in row for row in rows)


class EchoCredentials(httpx.BaseTransport):
    """A NinjaOne that quotes every credential it was sent or issued back in its errors.

    The token endpoint works, or with ``fail_token`` answers 400 quoting what
    it was sent; ``path`` answers 400 quoting the bearer token and everything
    the token endpoint saw and issued, in the same step that refreshed.
    """

    def __init__(self, inner: httpx.BaseTransport, path: str, *, fail_token: bool) -> None:
        self._inner = inner
        self._path = path
        self._fail_token = fail_token
        self.seen: list[str] = []

    def _quote(self) -> dict[str, Any]:
        return {"resultCode": "FAILURE", "errorMessage": "bad request: " + " ".join(self.seen)}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if "authorization" in request.headers:
            self.seen.append(bearer(request))
        if request.url.path == "/ws/oauth/token":
            form = dict(httpx.QueryParams(request.read().decode()))
            self.seen += [form["refresh_token"], form["client_secret"]]
            if self._fail_token:
                return httpx.Response(
                    400,
                    json={"error": "invalid_request", "error_description": " ".join(self.seen)},
                )
            response = self._inner.handle_request(request)
            grant = json.loads(response.read())
            self.seen += [grant["access_token"], grant["refresh_token"]]
            return response
        if request.url.path == self._path:
            return httpx.Response(400, json=self._quote())
        return self._inner.handle_request(request)


@pytest.mark.parametrize(
    "case", ["seeded in the same step", "rotated in the same step", "token endpoint error"]
)
def test_credentials_a_vendor_echoes_in_the_step_that_refreshed_are_redacted(
    ninja: NinjaHarness, case: str
) -> None:
    """What the executor redacts covers every token the client holds, however it came."""
    if case == "seeded in the same step":
        ninja.delete_secret("ninjaone_credentials")
        ninja.set_secret("ninjaone_refresh_token", ninja.fake.issue_refresh_token(CLIENT_ID))
    else:
        ninja.fake_clock.advance(3600)  # the stored access token has expired
    echo = EchoCredentials(
        ninja.fake.transport(),
        "/v2/device/1/reboot/NORMAL",
        fail_token=case == "token endpoint error",
    )
    outcome = ninja.pipeline(echo).execute(ninja.task("devices.reboot", {"device_id": 1}))
    error = error_of(outcome)
    assert error["code"] in ("VENDOR_ERROR", "INTEGRATION_MISCONFIGURED")
    assert CLIENT_SECRET in echo.seen
    assert len(echo.seen) == (2 if case == "token endpoint error" else 5)
    dumped = json.dumps(error)
    assert "[REDACTED]" in dumped
    assert [value for value in echo.seen if value in dumped] == []
