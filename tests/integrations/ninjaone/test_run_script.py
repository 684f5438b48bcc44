"""``ninjaone.devices.run_script`` with ``wait_for_result``: Pending, re-checks, result, timeout.

NinjaOne answers a run with no body; the result appears later as a COMPLETED
activity of the run's series. The pipeline re-schedules the step (no worker
held) and calls the check step; the manual clock makes every wait exact.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from executor.pipeline import Dropped, Finished, Reschedule
from sandbox.core import Fault
from tests.integrations.ninjaone.conftest import NinjaHarness, error_of, output_of

SERVER, CLEAR_TEMP = 1, 1
WAIT = {"device_id": SERVER, "script_id": CLEAR_TEMP, "wait_for_result": True}


def waiting(outcome: object) -> Reschedule:
    assert isinstance(outcome, Reschedule), outcome
    assert outcome.reason == "waiting"
    return outcome


def test_waits_for_the_result_through_re_checks(ninja: NinjaHarness) -> None:
    started = ninja.now
    pipeline = ninja.pipeline()
    step = ninja.task("devices.run_script", {**WAIT, "parameters": "-Days 7"}, key="run-wait")

    first = waiting(pipeline.execute(step))
    assert first.countdown == 3
    row = pipeline.ledger.get("acme", "run-wait")
    assert row is not None and row.status == "WAITING"
    assert row.wait_state is not None
    assert row.wait_state["state"] == {"after_activity_id": 0, "series_uid": None, "checks": 0}
    (run,) = ninja.fake.script_runs

    countdowns: list[float] = []
    outcome = None
    for _ in range(5):
        ninja.clock.advance(first.countdown if not countdowns else countdowns[-1])
        outcome = pipeline.execute(step)
        if not isinstance(outcome, Reschedule):
            break
        countdowns.append(waiting(outcome).countdown)
    # The run's START activity is found at the first check, its result (10 s in) later.
    assert countdowns == [6, 12]
    out = output_of(outcome)  # type: ignore[arg-type]
    assert out == {
        "run_requested": True,
        "external_device_id": "1",
        "vendor_response": None,
        "completed": True,
        "result": "SUCCESS",
        "output": "Removed 1,284 files (2.3 GB).",
        "exit_code": 0,
        "series_uid": run.series_uid,
        "completed_at": datetime.fromtimestamp(started + 10, UTC)
        .isoformat()
        .replace("+00:00", "Z"),
    }
    assert isinstance(outcome, Finished) and outcome.row.attempt == 1
    assert len(ninja.fake.script_runs) == 1
    assert ninja.fake.count("POST", "/v2/device/1/script/run") == 1


def test_a_wait_that_outlives_its_timeout_ends_as_timeout(ninja: NinjaHarness) -> None:
    ninja.fake.script_result_delay = 10_000
    pipeline = ninja.pipeline()
    step = ninja.task("devices.run_script", {**WAIT, "timeout_seconds": 10}, key="run-slow")
    countdown = waiting(pipeline.execute(step)).countdown
    for _ in range(10):
        ninja.clock.advance(countdown)
        outcome = pipeline.execute(step)
        if not isinstance(outcome, Reschedule):
            break
        countdown = waiting(outcome).countdown
        assert countdown <= 10  # never scheduled past the deadline
    error = error_of(outcome)
    assert error["code"] == "TIMEOUT"
    assert error["details"]["state"]["series_uid"] == ninja.fake.script_runs[0].series_uid
    assert "not reported a result" in error["details"]["note"]
    assert len(ninja.fake.script_runs) == 1


def run_to_end(
    ninja: NinjaHarness, input: dict[str, Any], key: str, outcome: object = None
) -> dict[str, Any]:
    """Execute (or carry on from ``outcome``), advancing the clock to each re-check."""
    pipeline = ninja.pipeline()
    step = ninja.task("devices.run_script", input, key=key)
    outcome = outcome or pipeline.execute(step)
    for _ in range(20):
        if not isinstance(outcome, Reschedule):
            break
        ninja.clock.advance(outcome.countdown)
        outcome = pipeline.execute(step)
    return output_of(outcome)  # type: ignore[arg-type]


def test_a_failing_check_is_a_later_check_never_a_second_run(ninja: NinjaHarness) -> None:
    pipeline = ninja.pipeline()
    step = ninja.task("devices.run_script", WAIT, key="run-flaky")
    first = waiting(pipeline.execute(step))
    ninja.fake.inject(
        Fault(status=503, body={"resultCode": "FAILURE", "errorMessage": "busy"}),
        path="/v2/device/1/activities",
        times=2,
    )
    ninja.clock.advance(first.countdown)
    again = waiting(pipeline.execute(step))
    assert "busy" in again.detail["note"]
    # A duplicate delivery before the re-check is due starts nothing either.
    assert isinstance(pipeline.execute(step), Dropped)
    out = run_to_end(ninja, WAIT, "run-flaky", again)
    assert out["completed"] is True
    assert len(ninja.fake.script_runs) == 1


def test_an_earlier_run_of_the_same_script_is_not_mistaken_for_this_one(
    ninja: NinjaHarness,
) -> None:
    ninja.ok("devices.run_script", {"device_id": SERVER, "script_id": CLEAR_TEMP})
    ninja.clock.advance(60)  # its COMPLETED activity is now in the log
    out = run_to_end(ninja, WAIT, "second-run")
    first, second = ninja.fake.script_runs
    assert out["series_uid"] == second.series_uid != first.series_uid


def test_a_failed_script_still_reports_its_output(ninja: NinjaHarness) -> None:
    failing = ninja.fake.add_script("Check disk", output="disk errors found", result="FAILURE")
    failing_exit = ninja.fake.add_script("Exit 3", output="three", exit_code=3)
    out = run_to_end(ninja, {**WAIT, "script_id": failing["id"]}, "fail-run")
    assert (out["result"], out["output"], out["exit_code"]) == ("FAILURE", "disk errors found", 0)
    coded = run_to_end(ninja, {**WAIT, "script_id": failing_exit["id"]}, "exit-run")
    assert coded["exit_code"] == 3


def test_a_built_in_action_is_waited_for_by_its_uid(ninja: NinjaHarness) -> None:
    uid = ninja.demo["action_uids"][0]
    out = run_to_end(
        ninja,
        {"device_id": 3, "type": "ACTION", "action_uid": uid, "wait_for_result": True},
        "action-run",
    )
    assert (out["completed"], out["output"]) == (True, "DNS cache flushed.")
    assert out["series_uid"] == ninja.fake.script_runs[0].series_uid
