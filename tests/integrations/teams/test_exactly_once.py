"""Each notification, message and post reaches Teams at most once, whatever fails.

Neither Graph nor the Bot Connector can be asked afterwards whether a
notification or message arrived, so an answer that proves nothing (a 5xx,
a dropped connection) after the request was sent ends the step as
OUTCOME_UNKNOWN: it is never sent a second time. A 429 proves nothing was
done: the step waits what Teams said and sends once. A step delivered twice
under one idempotency key runs once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from executor.pipeline import Finished, Reschedule
from sandbox.core import Fault
from sandbox.microsoft import DEMO_CHANNEL_ID, connector_fault, graph_fault
from tests.integrations.teams.conftest import (
    ACTIVITIES_PATH,
    CONVERSATIONS_PATH,
    NOTIFY_PATH,
    TeamsHarness,
    error_of,
    output_of,
)

POST_ARGS = {"channel_id": DEMO_CHANNEL_ID, "message": "Outage: VPN is down."}


def delivered(harness: TeamsHarness, action: str) -> int:
    """How many notifications, messages or posts Teams actually took."""
    if action == "notify_user":
        return len(harness.fake.notifications())
    return len(harness.fake.sent_activities())


# (action, its input, the path its mutating request goes to, the vendor's 5xx fault)
Step = tuple[str, Callable[[TeamsHarness], dict[str, Any]], str, Callable[[int], Fault]]
STEPS: dict[str, Step] = {
    "notify_user": ("notify_user", lambda h: h.notify(), NOTIFY_PATH, graph_fault),
    "send_dm": ("send_dm", lambda h: h.dm(), ACTIVITIES_PATH, connector_fault),
    "post_to_channel": ("post_to_channel", lambda h: POST_ARGS, CONVERSATIONS_PATH,
                        connector_fault),
}  # fmt: skip


@pytest.mark.parametrize("step", STEPS)
def test_a_5xx_after_teams_acted_is_outcome_unknown_and_never_sent_again(
    harness: TeamsHarness, step: str
) -> None:
    action, args, path, fault = STEPS[step]
    status = 500
    harness.fake.inject(dataclasses.replace(fault(status), after=True), path=path)
    error = harness.error(action, args(harness), key="k-5xx")
    assert error["code"] == "OUTCOME_UNKNOWN"
    assert error["details"]["cause"] == "TRANSIENT_FAILURE"
    assert error["vendor"]["status"] == status
    assert "not repeated automatically" in error["message"]
    assert delivered(harness, action) == 1
    # Delivered again, the step answers its recorded outcome: nothing is resent.
    again = error_of(harness.run(action, args(harness), key="k-5xx"))
    assert again["code"] == "OUTCOME_UNKNOWN"
    assert harness.fake.count("POST", path) == 1
    assert delivered(harness, action) == 1


@pytest.mark.parametrize("step", STEPS)
def test_a_5xx_that_did_nothing_is_still_not_sent_again(harness: TeamsHarness, step: str) -> None:
    # The answer cannot tell the two apart: the step may not guess that nothing happened.
    action, args, path, fault = STEPS[step]
    harness.fake.inject(fault(503), path=path)
    error = harness.error(action, args(harness))
    assert error["code"] == "OUTCOME_UNKNOWN"
    assert harness.fake.count("POST", path) == 1
    assert delivered(harness, action) == 0


@pytest.mark.parametrize("step", STEPS)
def test_a_connection_dropped_after_teams_acted_is_outcome_unknown(
    harness: TeamsHarness, step: str
) -> None:
    action, args, path, _ = STEPS[step]
    harness.fake.inject(Fault(disconnect=True), path=path)
    outcome = harness.run_until_final(action, args(harness), key="k-drop")
    error = error_of(outcome)
    assert error["code"] == "OUTCOME_UNKNOWN"
    assert harness.fake.count("POST", path) == 1
    assert delivered(harness, action) == 1


@pytest.mark.parametrize("step", STEPS)
def test_a_429_waits_retry_after_and_delivers_exactly_once(
    harness: TeamsHarness, step: str
) -> None:
    action, args, path, fault = STEPS[step]
    throttled = dataclasses.replace(fault(429), headers={"Retry-After": "7"})
    harness.fake.inject(throttled, path=path)
    first = harness.run(action, args(harness), key="k-429")
    assert isinstance(first, Reschedule)
    assert first.reason == "retry"
    assert first.countdown >= 7  # never sooner than Teams said
    assert delivered(harness, action) == 0
    before = harness.clock()
    # Not due yet: delivering the task early does not send.
    early = harness.run(action, args(harness), key="k-429")
    assert not isinstance(early, Finished)
    assert harness.fake.count("POST", path) == 1
    harness.clock.advance(first.countdown)
    assert harness.clock() > before
    output_of(harness.run(action, args(harness), key="k-429"))
    assert harness.fake.count("POST", path) == 2
    assert delivered(harness, action) == 1
    assert harness.row_status("k-429") == ("SUCCEEDED", 2)


def test_a_429_on_every_attempt_ends_after_the_attempts_without_a_delivery(
    harness: TeamsHarness,
) -> None:
    harness.fake.inject(connector_fault(429, retry_after=2), path=ACTIVITIES_PATH, times=None)
    outcome = harness.run_until_final("send_dm", harness.dm(), key="k-always")
    error = error_of(outcome)
    assert error["code"] == "RATE_LIMITED"
    assert harness.fake.count("POST", ACTIVITIES_PATH) == 3  # max_attempts
    assert harness.fake.sent_activities() == []


@pytest.mark.parametrize("step", STEPS)
def test_the_same_idempotency_key_twice_sends_once(harness: TeamsHarness, step: str) -> None:
    action, args, path, _ = STEPS[step]
    first = harness.run(action, args(harness), key="k-twice")
    second = harness.run(action, args(harness), key="k-twice")
    assert isinstance(second, Finished) and second.replayed
    assert output_of(second) == output_of(first)
    assert harness.fake.count("POST", path) == 1
    assert delivered(harness, action) == 1


def test_the_same_key_with_another_input_is_refused(harness: TeamsHarness) -> None:
    harness.ok("send_dm", harness.dm(message="first"), key="k-conflict")
    outcome = harness.run("send_dm", harness.dm(message="second"), key="k-conflict")
    assert not isinstance(outcome, Finished)
    assert [m["text"] for m in harness.fake.sent_activities()] == ["first"]


def test_a_failure_before_sending_is_retried_and_delivers_once(harness: TeamsHarness) -> None:
    # The token endpoint is down: nothing was sent, so the step may run again.
    harness.fake.inject(graph_fault(503), path="/botframework.com/oauth2/v2.0/token")
    first = harness.run("send_dm", harness.dm(), key="k-token")
    assert isinstance(first, Reschedule) and first.reason == "retry"
    assert harness.fake.sent_activities() == []
    harness.clock.advance(first.countdown)
    output_of(harness.run("send_dm", harness.dm(), key="k-token"))
    assert len(harness.fake.sent_activities()) == 1
