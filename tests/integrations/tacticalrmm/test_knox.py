"""Knox mode against FakeTacticalRmm over loopback HTTP, through the pipeline.

A tenant connected with ``auth_mode=knox`` and a user name and password: the
first call logs in with ``/v2/checkcreds/`` (never ``/v2/login/``, which
answers 500 without a TOTP code on a real server) and stores the token; a
refused token is replaced once and the request sent once more (a write
included: a 401 means the server did nothing); a second 401 is the error;
concurrent refreshes make one login; a TOTP account and wrong credentials
are named; no user name, password or token reaches an error, a ledger row or
a log line.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from executor.pipeline import Outcome, Pipeline, Reschedule
from executor.throttle import MemoryThrottle, Throttle
from sandbox.core import Fault
from sandbox.tacticalrmm import CHECKCREDS_TTL, KNOX_TTL
from store import connections as conn
from tests.integrations.tacticalrmm.conftest import (
    TENANT,
    TacticalHarness,
    error_of,
    output_of,
)

USERNAME = "knox-CANARY-user-8c1e04"
PASSWORD = "knox-CANARY-password-51f0aa"
TOTP_USERNAME = "knox-CANARY-totp-user-2d77"
CHECKCREDS = "/v2/checkcreds/"
LOGIN = "/v2/login/"
SCRIPTS = "/scripts/"
REFUSED = Fault(
    status=401, body={"detail": "Invalid token."}, headers={"WWW-Authenticate": "Token"}
)
DC01 = 0


@pytest.fixture
def knox(tactical: TacticalHarness) -> TacticalHarness:
    """The tenant reconnected in Knox mode: a user name and password, no API key, no token yet."""
    tactical.fake.add_user(USERNAME, PASSWORD)
    tactical.fake.add_user(TOTP_USERNAME, PASSWORD, totp_code="424242")
    with tactical.store.sessions.begin() as session:
        conn.connect(
            session,
            TENANT,
            "tacticalrmm",
            instance_url=tactical.url,
            settings={"auth_mode": "knox"},
        )
    tactical.delete_secret("tacticalrmm_api_key")
    tactical.set_secret("tacticalrmm_username", USERNAME)
    tactical.set_secret("tacticalrmm_password", PASSWORD)
    return tactical


def stored_token(knox: TacticalHarness) -> str | None:
    return knox.secret("tacticalrmm_knox_token")


def sent_token(request: Any) -> str:
    header: str = request.headers["authorization"]
    assert header.startswith("Token "), header
    return header.removeprefix("Token ")


def store_live_token(knox: TacticalHarness) -> str:
    token = knox.fake.issue_knox_token(USERNAME)
    knox.set_secret("tacticalrmm_knox_token", token)
    return token


def calls(knox: TacticalHarness, path: str) -> list[tuple[str, int | None]]:
    return [(r.method, r.status) for r in knox.fake.requests if r.path == path]


# -- logging in --------------------------------------------------------------------------


def test_the_first_call_logs_in_with_checkcreds_and_stores_the_token(knox: TacticalHarness) -> None:
    assert stored_token(knox) is None
    assert knox.ok("scripts.list", {})["count"] == 3
    login, read = knox.fake.requests
    assert (login.method, login.path, login.status) == ("POST", CHECKCREDS, 200)
    assert login.body == {"username": USERNAME, "password": PASSWORD}
    assert "authorization" not in login.headers and "x-api-key" not in login.headers
    token = stored_token(knox)
    assert token is not None
    assert (read.path, read.status, sent_token(read)) == (SCRIPTS, 200, token)
    # A real Knox token: used once, AUTO_REFRESH turned 180 s into the full TTL.
    assert knox.fake.knox_expiry(token) == pytest.approx(knox.fake.now() + KNOX_TTL)
    assert KNOX_TTL > CHECKCREDS_TTL

    # The stored token serves every later action: no second login, never /v2/login/.
    assert knox.ok("agents.get", {"agent_id": knox.agent_id(DC01)})["agent"]
    assert knox.fake.count("POST", CHECKCREDS) == 1
    assert knox.fake.count(path=LOGIN) == 0
    assert sent_token(knox.fake.requests[-1]) == token


def test_a_revoked_token_is_replaced_once_and_the_read_sent_again(knox: TacticalHarness) -> None:
    old = store_live_token(knox)
    knox.fake.revoke_knox_tokens(old)
    assert knox.ok("scripts.list", {})["count"] == 3
    assert [(r.method, r.path, r.status) for r in knox.fake.requests] == [
        ("GET", SCRIPTS, 401),
        ("POST", CHECKCREDS, 200),
        ("GET", SCRIPTS, 200),
    ]
    new = stored_token(knox)
    assert new is not None and new != old
    assert [sent_token(r) for r in knox.fake.calls("GET")] == [old, new]
    assert knox.fake.count(path=LOGIN) == 0


def test_an_expired_token_is_replaced_too(knox: TacticalHarness) -> None:
    old = store_live_token(knox)
    knox.clock.advance(KNOX_TTL + 1)  # five hours unused
    assert knox.ok("scripts.list", {})["count"] == 3
    assert knox.fake.count("POST", CHECKCREDS) == 1
    assert stored_token(knox) not in (None, old)


def test_a_refused_write_is_sent_once_more_after_the_refresh_and_runs_once(
    knox: TacticalHarness,
) -> None:
    token = store_live_token(knox)
    agent_id = knox.agent_id(DC01)
    path = f"/agents/{agent_id}/cmd/"
    knox.fake.inject(REFUSED, method="POST", path=path)
    out = knox.ok("agents.run_command", {"agent_id": agent_id, "command": "hostname"})
    assert out["output"] == "CONTOSO-DC01\r\n"
    # The 401 proves the server did nothing, so the retry is not a second run.
    assert calls(knox, path) == [("POST", 401), ("POST", 200)]
    assert calls(knox, CHECKCREDS) == [("POST", 200)]
    new = stored_token(knox)
    assert new not in (None, token)
    assert [sent_token(r) for r in knox.fake.calls("POST", path)] == [token, new]


def test_a_throttled_login_after_a_refused_write_is_retried_later_not_outcome_unknown(
    knox: TacticalHarness,
) -> None:
    store_live_token(knox)
    agent_id = knox.agent_id(DC01)
    path = f"/agents/{agent_id}/cmd/"
    args = {"agent_id": agent_id, "command": "hostname"}
    knox.fake.inject(REFUSED, method="POST", path=path)
    knox.fake.inject(
        Fault(
            status=429,
            body={"detail": "Request was throttled. Expected available in 30 seconds."},
            headers={"Retry-After": "30"},
        ),
        path=CHECKCREDS,
    )
    outcome = knox.run("agents.run_command", args, key="throttled-login")
    assert isinstance(outcome, Reschedule), outcome
    assert outcome.reason == "retry"
    knox.clock.advance(outcome.countdown)
    assert knox.ok("agents.run_command", args, key="throttled-login")["output"]
    assert calls(knox, path) == [("POST", 401), ("POST", 200)]


def test_still_refused_after_the_refresh_is_the_error_and_there_is_no_second_refresh(
    knox: TacticalHarness,
) -> None:
    store_live_token(knox)
    knox.fake.inject(REFUSED, method="GET", path=SCRIPTS, times=2)
    error = knox.error("scripts.list", {})
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert error["retryable"] is False
    assert error["vendor"] == {"status": 401, "message": "Invalid token."}
    assert "401" in error["message"] and "Invalid token." in error["message"]
    assert calls(knox, SCRIPTS) == [("GET", 401), ("GET", 401)]
    assert calls(knox, CHECKCREDS) == [("POST", 200)]


# -- what cannot log in ------------------------------------------------------------------


def test_a_totp_account_is_misconfigured_and_told_to_use_an_api_key(knox: TacticalHarness) -> None:
    knox.set_secret("tacticalrmm_username", TOTP_USERNAME)
    error = knox.error("scripts.list", {})
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert "TOTP" in error["message"]
    assert "API key" in error["message"]
    assert "--setting auth_mode=api_key --secret tacticalrmm_api_key=@file" in error["message"]
    assert [(r.method, r.path) for r in knox.fake.requests] == [("POST", CHECKCREDS)]
    assert stored_token(knox) is None


def test_wrong_credentials_name_the_secrets_to_replace(knox: TacticalHarness) -> None:
    wrong = "knox-CANARY-wrong-password-0e3b"
    knox.set_secret("tacticalrmm_password", wrong)
    error = knox.error("scripts.list", {})
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert error["vendor"] == {"status": 400, "message": "Bad credentials"}
    assert (
        "--secret tacticalrmm_username=@file --secret tacticalrmm_password=@file"
        in (error["message"])
    )
    assert wrong not in json.dumps(error) and USERNAME not in json.dumps(error)
    assert [(r.path, r.status) for r in knox.fake.requests] == [(CHECKCREDS, 400)]
    assert stored_token(knox) is None


@pytest.mark.parametrize("missing", ["tacticalrmm_username", "tacticalrmm_password"])
def test_missing_credentials_are_named_and_nothing_is_sent(
    knox: TacticalHarness, missing: str
) -> None:
    knox.delete_secret(missing)
    error = knox.error("scripts.list", {})
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert "Knox credentials are not configured" in error["message"]
    assert f"missing {missing}" in error["message"]
    assert knox.fake.requests == []


def test_api_key_mode_ignores_knox_secrets(knox: TacticalHarness) -> None:
    with knox.store.sessions.begin() as session:
        conn.connect(
            session, TENANT, "tacticalrmm", instance_url=knox.url, settings={"auth_mode": "api_key"}
        )
    error = knox.error("scripts.list", {})
    assert "Tactical RMM API key is not configured" in error["message"]
    assert knox.fake.requests == []


def test_an_unknown_stored_auth_mode_is_misconfigured(knox: TacticalHarness) -> None:
    with knox.store.sessions.begin() as session:
        conn.connect(
            session, TENANT, "tacticalrmm", instance_url=knox.url, settings={"auth_mode": "oauth"}
        )
    error = knox.error("scripts.list", {})
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert "--setting auth_mode=api_key|knox" in error["message"]
    assert knox.fake.requests == []


# -- concurrent refreshes ------------------------------------------------------------------


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


class HoldLogins(httpx.BaseTransport):
    """The network, except that checkcreds requests wait until ``release()`` is true.

    Shared by both actions' clients: closing one client must not close the
    connections the other is using, so only :meth:`shutdown` closes them.
    """

    def __init__(self, release: Callable[[], bool]) -> None:
        self._inner = httpx.HTTPTransport()
        self._release = release

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == CHECKCREDS:
            wait_for(self._release)
        return self._inner.handle_request(request)

    def close(self) -> None:
        pass

    def shutdown(self) -> None:
        self._inner.close()


def test_concurrent_refreshes_for_one_tenant_make_one_checkcreds_call(
    knox: TacticalHarness,
) -> None:
    old = store_live_token(knox)
    knox.fake.revoke_knox_tokens(old)

    def both_refused() -> bool:
        return sum(1 for r in knox.fake.calls("GET", SCRIPTS) if r.status == 401) >= 2

    # The first login is held until the second action has been refused too, so
    # both refresh at once; the second must wait for the first and use its token.
    transport = HoldLogins(both_refused)
    pipeline = Pipeline(
        catalog=knox.catalog,
        store=knox.store,
        settings=knox.settings,
        throttle=Throttle(MemoryThrottle(clock=knox.fake_clock), {}, max_wait=0.0),
        transports={"tacticalrmm": transport},
        clock=knox.clock,
        rng=lambda: 0.5,
    )
    outcomes: dict[str, Outcome] = {}

    def run(key: str) -> None:
        outcomes[key] = pipeline.execute(knox.task("scripts.list", {}, key=key))

    threads = [threading.Thread(target=run, args=(key,)) for key in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    transport.shutdown()
    assert [output_of(outcomes[k])["count"] for k in "ab"] == [3, 3]
    assert knox.fake.count("POST", CHECKCREDS) == 1
    new = stored_token(knox)
    assert new not in (None, old)
    served = [r for r in knox.fake.calls("GET", SCRIPTS) if r.status == 200]
    assert [sent_token(r) for r in served] == [new, new]


# -- credentials stay secret -----------------------------------------------------------------


def test_no_user_name_password_or_token_reaches_errors_ledger_rows_or_logs(
    knox: TacticalHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    outcomes: list[dict[str, Any]] = []
    outcomes.append(knox.ok("scripts.list", {}))  # logs in
    first = stored_token(knox)
    knox.fake.revoke_knox_tokens()
    outcomes.append(knox.ok("scripts.list", {}))  # refreshes
    second = stored_token(knox)
    knox.fake.inject(
        Fault(status=401, body={"detail": f"Invalid token {second} for {USERNAME}."}),
        path=SCRIPTS,
        times=2,
    )
    outcomes.append(error_of(knox.run("scripts.list", {})))  # still refused
    third = stored_token(knox)
    knox.fake.inject(
        Fault(status=400, body=f"Bad credentials for {USERNAME}/{PASSWORD}"), path=CHECKCREDS
    )
    knox.fake.revoke_knox_tokens()
    outcomes.append(error_of(knox.run("scripts.list", {})))  # refused login
    knox.set_secret("tacticalrmm_username", TOTP_USERNAME)
    outcomes.append(error_of(knox.run("scripts.list", {})))  # TOTP
    assert [o.get("code") for o in outcomes[2:]] == ["INTEGRATION_MISCONFIGURED"] * 3
    assert "Knox token obtained" in caplog.text
    secrets = [USERNAME, PASSWORD, TOTP_USERNAME, first, second, third]
    assert all(isinstance(s, str) and len(s) > 8 for s in secrets)
    rows = knox.ledger_texts()
    assert len(rows) == 5
    exported = json.dumps(knox.vendor_requests())
    for text in (*map(json.dumps, outcomes), caplog.text, *rows):
        for secret in secrets:
            assert str(secret) not in text
    for secret in (PASSWORD, first, second, third):
        assert str(secret) not in exported
