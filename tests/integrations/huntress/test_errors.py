"""Huntress's refusals: a refused key pair, a read-only key, the rate window, bad input; the canary.

A 429 from the account's sliding window (60 requests in any 60 s, no
``Retry-After``) re-schedules the step as throttled for the window: no worker
sleeps, the request is not repeated in a loop, and it is not counted as a
failed attempt. The key pair never reaches an error, a ledger row, a log
line or the fake's exported request log.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from executor.pipeline import Reschedule
from sandbox.core import Fault
from store import connections as conn
from tests.integrations.harness import rejection_of
from tests.integrations.huntress.conftest import (
    CANARIES,
    HuntressHarness,
    basic,
    error_of,
    output_of,
)

REPORTS = "/v1/incident_reports"
WINDOW = 61.2  # the documented 60 s plus the throttle's transit margin (RateLimit.send_window)


def fill_the_window(hunt: HuntressHarness) -> None:
    """Spend what is left of the account's 60 requests with another key of the same account.

    Another tool using the same Huntress account, as far as patchbay can tell.
    """
    seed = hunt.seed
    auth = {"Authorization": basic(seed["read_only_api_key"], seed["read_only_api_secret"])}
    with httpx.Client(base_url=hunt.url, headers=auth) as other_tool:
        while hunt.fake.in_window(hunt.account_id) < 60:
            assert other_tool.get("/v1/account").status_code == 200


# -- the key pair --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "args"),
    [
        ("incidents.find", {}),
        ("incidents.get", {"incident_id": 1001}),
        ("incidents.resolve", {"incident_id": 1001}),
        ("remediations.approve", {"incident_id": 1001}),
        ("organizations.list", {}),
        ("agents.get", {"agent_id": 301}),
        ("account.get", {}),
    ],
)
def test_a_refused_key_pair_is_misconfigured_naming_both_secrets(
    hunt: HuntressHarness, action: str, args: dict[str, Any]
) -> None:
    hunt.set_secret("huntress_api_secret", "hs_wrong_secret_0000")
    error = hunt.error(action, args)
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert error["retryable"] is False
    assert error["vendor"] == {"status": 401, "message": "Unauthorized"}
    assert "--secret huntress_api_key=" in error["message"]
    assert "--secret huntress_api_secret=@file" in error["message"]
    assert "API Credentials" in error["message"]
    assert hunt.fake.count() == 1


@pytest.mark.parametrize("missing", ["huntress_api_key", "huntress_api_secret"])
def test_a_missing_secret_is_named_and_nothing_is_sent(hunt: HuntressHarness, missing: str) -> None:
    hunt.delete_secret(missing)
    error = hunt.error("incidents.find", {})
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert missing in error["message"]
    assert error["details"] == {"missing": missing}
    assert hunt.fake.count() == 0


def test_an_unconnected_tenant_is_inactive_and_nothing_is_sent(hunt: HuntressHarness) -> None:
    with hunt.store.sessions.begin() as session:
        conn.disconnect(session, hunt.tenant, "huntress")
    error = hunt.error("incidents.find", {})
    assert error["code"] == "INTEGRATION_INACTIVE"
    assert hunt.fake.count() == 0


@pytest.mark.parametrize(
    ("action", "extra", "route", "permission"),
    [
        ("incidents.resolve", {}, "resolution", "resolve incident reports"),
        ("incidents.resolve", {"approve_remediations": True}, "remediations/bulk_approval",
         "write remediations"),
        ("remediations.approve", {}, "remediations/bulk_approval", "write remediations"),
        ("remediations.reject", {"comment": "No.", "useful": True},
         "remediations/bulk_rejection", "write remediations"),
    ],
)  # fmt: skip
def test_the_read_only_account_key_is_refused_writes_and_told_to_use_a_user_key(
    hunt: HuntressHarness, action: str, extra: dict[str, Any], route: str, permission: str
) -> None:
    pending = hunt.seed["pending_incident_id"]
    hunt.use_read_only_key()
    error = hunt.error(action, {"incident_id": pending, **extra})
    assert error["code"] == "PERMISSION_DENIED"
    assert error["vendor"] == {
        "status": 403,
        "message": "There was an issue with your API credential or permissions.",
    }
    assert "the default account API key is read-only" in error["message"]
    assert f"Use a user-based API key with permission to {permission}" in error["message"]
    [post] = hunt.fake.calls("POST")
    assert post.path == f"{REPORTS}/{pending}/{route}"
    assert hunt.fake.count("POST") == 1  # with approval first, the resolution never went
    assert hunt.report(pending)["status"] == "sent"


def test_the_read_only_key_reads(hunt: HuntressHarness) -> None:
    hunt.use_read_only_key()
    assert hunt.ok("incidents.find", {"limit": 1})["count"] == 1


# -- the rate window -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "args"),
    [("incidents.find", {}), ("incidents.get", {"incident_id": 1001}), ("account.get", {})],
)
def test_a_429_from_the_window_reschedules_the_step_for_the_window_without_a_loop(
    hunt: HuntressHarness, action: str, args: dict[str, Any]
) -> None:
    fill_the_window(hunt)
    before = hunt.clock()
    first = hunt.run(action, args, key="limited")
    assert isinstance(first, Reschedule)
    assert first.reason == "throttled"  # not an attempt: the vendor's window was full
    assert first.detail == {"retry_after": WINDOW}
    assert first.countdown == pytest.approx(WINDOW * 1.1)  # the pipeline's jitter, rng 0.5
    assert hunt.clock() == before  # no worker slept
    assert hunt.fake.refused_count(hunt.account_id) == 1  # one request, no retry loop
    waiting = hunt.row("limited")
    assert (waiting.status, waiting.wait_state["kind"], waiting.attempt) == (
        "WAITING",
        "throttled",
        1,
    )
    hunt.clock.advance(first.countdown)
    output_of(hunt.run(action, args, key="limited"))
    assert hunt.fake.refused_count(hunt.account_id) == 1
    assert hunt.row("limited").attempt == 1


def test_a_429_on_the_resolution_is_retried_after_the_window_it_proves_nothing_was_done(
    hunt: HuntressHarness,
) -> None:
    incident = hunt.seed["resolvable_incident_id"]
    fill_the_window(hunt)
    first = hunt.run("incidents.resolve", {"incident_id": incident}, key="resolve")
    assert isinstance(first, Reschedule)
    assert first.countdown >= WINDOW
    assert hunt.report(incident)["status"] == "sent"
    hunt.clock.advance(first.countdown)
    out = output_of(hunt.run("incidents.resolve", {"incident_id": incident}, key="resolve"))
    assert out["status"] == "closed"
    assert hunt.fake.count("POST") == 2 and hunt.fake.refused_count(hunt.account_id) == 1


def test_a_429_with_retry_after_waits_what_huntress_says(hunt: HuntressHarness) -> None:
    hunt.fake.configure_rate_limit(retry_after=True)
    fill_the_window(hunt)
    first = hunt.run("incidents.find", {}, key="header")
    assert isinstance(first, Reschedule) and first.reason == "throttled"
    assert first.detail["retry_after"] == 61.0  # the oldest request leaves after 60 s


# -- input errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "args", "field"),
    [
        ("incidents.find", {"status": "resolved"}, "status"),
        ("incidents.find", {"severity": "medium"}, "severity"),
        ("incidents.find", {"platform": "ios"}, "platform"),
        ("incidents.find", {"limit": 501}, "limit"),
        ("incidents.find", {"limit": 0}, "limit"),
        ("incidents.find", {"organization_id": "12"}, "organization_id"),
        ("incidents.find", {"agent_id": 0}, "agent_id"),
        ("incidents.find", {"unknown": 1}, "unknown"),
        ("incidents.get", {}, "incident_id"),
        ("incidents.get", {"incident_id": 2_147_483_648}, "incident_id"),
        ("incidents.resolve", {"incident_id": -1}, "incident_id"),
        ("incidents.resolve", {"incident_id": 1001, "approve_remediations": "yes"},
         "approve_remediations"),
        ("remediations.list", {"incident_id": 1001, "statuses": ["rejected"]}, "statuses.0"),
        ("remediations.reject", {"incident_id": 1001, "useful": True}, "comment"),
        ("remediations.reject", {"incident_id": 1001, "comment": "   ", "useful": True},
         "comment"),
        ("remediations.reject", {"incident_id": 1001, "comment": "No."}, "useful"),
        ("organizations.list", {"limit": 1000}, "limit"),
        ("agents.get", {"agent_id": "301"}, "agent_id"),
        ("account.get", {"account_id": 1}, "account_id"),
    ],
)  # fmt: skip
def test_bad_input_is_a_validation_error_naming_the_field_and_nothing_is_sent(
    hunt: HuntressHarness, action: str, args: dict[str, Any], field: str
) -> None:
    error = rejection_of(hunt.run(action, args))
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["field"] == field
    assert hunt.fake.count() == 0
    assert hunt.ledger_texts() == []  # refused before anything was recorded


# -- the canary ---------------------------------------------------------------------------------


def test_the_key_pair_never_reaches_errors_ledger_rows_logs_or_the_request_log(
    hunt: HuntressHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    resolvable, pending = hunt.seed["resolvable_incident_id"], hunt.seed["pending_incident_id"]
    texts: list[str] = []
    hunt.fake.inject(Fault(status=400, body={"error": "limit is invalid"}), path=REPORTS)
    texts.append(json.dumps(hunt.error("incidents.find", {})))
    texts.append(json.dumps(hunt.error("incidents.resolve", {"incident_id": pending})))
    hunt.fake.inject(Fault(status=500, after=True), method="POST")
    texts.append(json.dumps(hunt.ok("incidents.resolve", {"incident_id": resolvable})))
    hunt.fake.inject(Fault(status=500, after=True), method="POST")
    reject = {"incident_id": pending, "comment": "x", "useful": True}
    texts.append(json.dumps(hunt.error("remediations.reject", reject)))
    fill_the_window(hunt)
    assert isinstance(hunt.run("incidents.find", {}), Reschedule)
    hunt.clock.advance(WINDOW)
    hunt.use_read_only_key()
    texts.append(json.dumps(hunt.error("remediations.approve", {"incident_id": pending})))
    hunt.set_secret("huntress_api_secret", "hs_wrong")
    texts.append(json.dumps(error_of(hunt.run("account.get", {}))))
    texts += hunt.ledger_texts()
    texts.append(caplog.text)
    exported = hunt.vendor_requests()
    assert exported and all(r["headers"]["authorization"] == "Basic ***" for r in exported)
    texts.append(json.dumps(exported))
    for text in texts:
        for canary in CANARIES:
            assert canary not in text
