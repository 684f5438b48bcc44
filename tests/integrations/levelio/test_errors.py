"""Level's refusals through the shared ladder: a refused key, 429s, a missing key; the canary key.

A 429 becomes RATE_LIMITED carrying its ``Retry-After`` (seconds, ``0`` or an
HTTP date, measured on the step's clock), and the executor re-schedules the
step for then: no worker sleeps, and Level is hit once per attempt. Four 429s
in a row end the step (the harness allows three attempts). The API key never
reaches an error, a ledger row, a log line or the fake's exported request log.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from executor.pipeline import Reschedule
from sandbox.core import Fault
from tests.integrations.harness import error_of, output_of
from tests.integrations.levelio.conftest import CANARY_KEY, LevelHarness

DC01 = 0
# The pipeline's retry delay with the harness's rng (0.5): Retry-After + 0.1 + 5 %.
SLACK = 0.1


def expected_countdown(retry_after: float) -> float:
    return retry_after + SLACK + 0.05 * retry_after


def reads(level: LevelHarness) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        "devices.get": ("/v2/devices/*", {"device_id": level.device_id(DC01)}),
        "alerts.list_active": ("/v2/alerts", {"live": True}),
        "updates.list": ("/v2/updates", {}),
        "automations.list": ("/v2/automations", {}),
    }


# -- 401 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "args"),
    [
        ("devices.find", {"live": True}),
        ("devices.get", {"device_id": "dev_1"}),
        ("alerts.list_active", {"live": True}),
        ("alerts.resolve", {"alert_id": "alr_1"}),
        ("updates.list", {}),
        ("automations.list", {}),
        ("automations.run_status", {"run_id": "run_1"}),
    ],
)
def test_a_refused_key_says_how_to_make_one(
    level: LevelHarness, action: str, args: dict[str, Any]
) -> None:
    level.use_key("LEVEL-wrong-key-1234")
    error = level.error(action, args)
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert error["retryable"] is False
    assert error["vendor"] == {"status": 401, "message": "Access denied"}
    assert "Settings > API" in error["message"]
    assert "--secret levelio_api_key=@file" in error["message"]
    assert level.fake.count() == 1


def test_a_missing_key_names_the_secret_and_sends_nothing(level: LevelHarness) -> None:
    level.delete_secret("levelio_api_key")
    error = level.error("devices.get", {"device_id": "dev_1"})
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert "levelio_api_key" in error["message"]
    assert level.fake.count() == 0


def test_an_unconnected_tenant_is_inactive(level: LevelHarness) -> None:
    from store import connections as conn

    with level.store.sessions.begin() as session:
        conn.disconnect(session, level.tenant, "levelio")
    error = level.error("devices.find", {})
    assert error["code"] == "INTEGRATION_INACTIVE"
    assert level.fake.count() == 0


# -- 429 --------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["devices.get", "alerts.list_active", "automations.list"])
@pytest.mark.parametrize(
    ("header", "retry_after"), [(30, 30.0), (0, 0.0), ("date", 45.0), (None, None)]
)
def test_a_429_is_retried_when_level_says_and_hits_level_once_per_attempt(
    level: LevelHarness, action: str, header: Any, retry_after: float | None
) -> None:
    path, args = reads(level)[action]
    value = level.fake.http_date(45) if header == "date" else header
    level.fake.force_429(1, retry_after=value, path=path)
    first = level.run(action, args, key="limited")
    assert isinstance(first, Reschedule)
    assert first.reason == "retry"
    assert first.detail == {"code": "RATE_LIMITED"}
    if retry_after is None:
        # No Retry-After: the executor's own backoff (2 s first, jittered to 1.5 s here).
        assert first.countdown == pytest.approx(1.5)
    else:
        assert first.countdown == pytest.approx(expected_countdown(retry_after))
    waiting = level.row("limited")
    assert (waiting.status, waiting.wait_state["kind"]) == ("WAITING", "retry")
    assert level.fake.count(path=path) == 1
    level.clock.advance(first.countdown)
    output_of(level.run(action, args, key="limited"))
    assert level.fake.count(path=path) == 2


def test_429_on_a_write_is_retried_too_it_proves_nothing_was_done(level: LevelHarness) -> None:
    alert = level.seed["alert_ids"][0]
    level.fake.force_429(1, retry_after=5, method="POST")
    first = level.run("alerts.resolve", {"alert_id": alert}, key="resolve")
    assert isinstance(first, Reschedule) and first.reason == "retry"
    assert first.countdown == pytest.approx(expected_countdown(5))
    level.clock.advance(first.countdown)
    assert output_of(level.run("alerts.resolve", {"alert_id": alert}, key="resolve"))["resolved"]
    assert level.fake.count("POST") == 2


def test_four_429s_in_a_row_end_the_step_rate_limited(level: LevelHarness) -> None:
    level.fake.force_429(4, retry_after=1, path="/v2/updates")
    error = error_of(level.run_until_final("updates.list", {}, key="flood"))
    assert error["code"] == "RATE_LIMITED"
    assert error["retryable"] is True
    assert error["vendor"] == {"status": 429, "message": "Too many requests"}
    assert level.fake.count(path="/v2/updates") == 3  # one per attempt, three attempts


def test_no_worker_ever_sleeps_on_a_429(level: LevelHarness) -> None:
    level.fake.force_429(1, retry_after=120, path="/v2/updates")
    before = level.clock()
    assert isinstance(level.run("updates.list", {}), Reschedule)
    assert level.clock() == before


# -- the key ---------------------------------------------------------------------------------


def test_the_key_never_reaches_errors_ledger_rows_logs_or_the_request_log(
    level: LevelHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    level.fake.inject(
        Fault(status=400, body={"error": f"bad key {CANARY_KEY}"}), path="/v2/updates"
    )
    texts.append(json.dumps(level.error("updates.list", {})))
    level.fake.inject(Fault(status=403, body={"error": f"no {CANARY_KEY}"}), method="POST")
    texts.append(json.dumps(level.error("alerts.resolve", {"alert_id": "alr_1"})))
    level.fake.inject(
        Fault(status=500, body={"error": f"boom {CANARY_KEY}"}, after=True), method="POST"
    )
    texts.append(json.dumps(level.error("automations.trigger", {"webhook_token": "x"})))
    level.fake.trigger_body = "run"
    texts.append(
        json.dumps(
            output_of(
                level.run_until_final(
                    "automations.trigger",
                    {"webhook_token": level.seed["webhook_tokens"][0], "wait_for_run": True},
                    key="followed",
                )
            )
        )
    )
    texts.append(json.dumps(level.ok("devices.find", {"live": True})))
    level.delete_secret("levelio_api_key")
    texts.append(json.dumps(level.error("devices.get", {"device_id": "dev_1"})))
    assert any(r.headers.get("authorization") == CANARY_KEY for r in level.fake.requests)
    exported = json.dumps(level.vendor_requests())
    assert "authorization" in exported
    for text in (*texts, *level.ledger_texts(), caplog.text, exported):
        assert CANARY_KEY not in text
