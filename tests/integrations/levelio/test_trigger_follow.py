"""Trigger, then follow: ``automations.trigger`` with ``wait_for_run`` on the manual clock.

The step triggers once, answers Pending (no worker held), and its check step
identifies the run (from Level's answer, or as the one new run per device in
the automation's run list) and reads it until it ends. When the run cannot be
identified the output says so (``followed: false``, ``why``) instead of
guessing; a failing check never sends the trigger again.
"""

from __future__ import annotations

from typing import Any

import httpx

from executor.pipeline import Finished, Outcome, Reschedule
from sandbox.core import Fault
from tests.integrations.harness import error_of, output_of
from tests.integrations.levelio.conftest import CANARY_KEY, LevelHarness

DC01, LT042, MAC, NAS = range(4)
RUNS = "/v2/automation-runs"


def trigger_posts(level: LevelHarness) -> list[Any]:
    return level.fake.calls("POST", "/v2/automations/webhooks/*")


def follow(level: LevelHarness, index: int = 0, **extra: Any) -> dict[str, Any]:
    return {"webhook_token": level.seed["webhook_tokens"][index], "wait_for_run": True, **extra}


def test_a_run_found_in_the_run_list_is_followed_to_its_end(level: LevelHarness) -> None:
    args = follow(level, device_ids=[level.device_id(DC01)])
    first = level.run("automations.trigger", args, key="follow")
    assert isinstance(first, Reschedule)
    assert (first.reason, first.countdown) == ("waiting", 3.0)
    waiting = level.row("follow")
    assert waiting.status == "WAITING"
    assert waiting.wait_state["kind"] == "check"
    assert "looking for the run it started" in waiting.history[-1]["wait"]["note"]
    # Read before the trigger: the automation of the token, and its runs so far.
    assert [(r.method, r.path) for r in level.fake.requests] == [
        ("GET", "/v2/automations/webhooks"),
        ("GET", RUNS),
        ("POST", f"/v2/automations/webhooks/{args['webhook_token']}"),
    ]
    assert level.fake.requests[1].query == {"automation_id": ["aut_1"], "limit": ["100"]}
    level.clock.advance(first.countdown)
    second = level.run("automations.trigger", args, key="follow")
    assert isinstance(second, Reschedule)  # identified; the run is running
    assert "running" in level.row("follow").history[-1]["wait"]["note"]
    done = level.run_until_final("automations.trigger", args, key="follow", after=second)
    out = output_of(done)
    [run] = level.fake.runs
    assert out["followed"] is True and out["why"] is None
    assert (out["run_id"], out["run_ids"], out["status"]) == (run.id, [run.id], "success")
    [followed] = out["runs"]
    assert followed["run_id"] == run.id
    assert followed["device_id"] == level.device_id(DC01)
    assert followed["device_hostname"] == "CONTOSO-DC01"
    assert followed["automation_name"] == "Restart Print Spooler"
    assert followed["status"] == "success"
    assert followed["ended_at"] is not None
    assert [s["name"] for s in followed["steps"]] == [
        "Check conditions",
        "Run script",
        "Report result",
    ]
    assert {s["status"] for s in followed["steps"]} == {"success"}
    assert len(trigger_posts(level)) == 1
    assert all(
        r.query.get("include_steps") == ["true"] for r in level.fake.calls("GET", f"{RUNS}/*")
    )


def test_run_ids_in_levels_answer_are_followed_and_a_mixed_outcome_is_said(
    level: LevelHarness,
) -> None:
    level.fake.trigger_body = "run"
    devices = [level.device_id(DC01), level.device_id(NAS)]
    args = follow(level, 2, device_ids=devices)
    first = level.run("automations.trigger", args, key="two")
    assert isinstance(first, Reschedule)
    one, two = level.fake.runs
    level.fake.set_run_outcome("failed", run_id=two.id)
    out = output_of(level.run_until_final("automations.trigger", args, key="two", after=first))
    assert out["followed"] is True
    assert out["run_ids"] == [one.id, two.id]
    assert out["status"] == "mixed"
    assert [r["status"] for r in out["runs"]] == ["success", "failed"]
    assert out["runs"][1]["steps"][-1]["status"] == "failed"
    assert out["vendor_response"] == {"run_id": one.id, "run_ids": [one.id, two.id]}
    # The run ids came with the answer: the run list was read only before the trigger.
    assert level.fake.count("GET", RUNS) == 1
    assert len(trigger_posts(level)) == 1


def test_a_failed_run_is_reported_with_its_status(level: LevelHarness) -> None:
    level.fake.set_run_outcome("failed", automation_id="aut_4")
    out = output_of(level.run_until_final("automations.trigger", follow(level, 3), key="f"))
    assert (out["followed"], out["status"]) == (True, "failed")


def test_without_a_run_list_the_unidentified_run_is_said_plainly(level: LevelHarness) -> None:
    level.fake.inject(Fault(status=404, body={"error": "Not found"}), method="GET", path=RUNS)
    out = level.ok("automations.trigger", follow(level, device_ids=[level.device_id(DC01)]))
    assert out["followed"] is False
    assert (out["run_id"], out["run_ids"], out["runs"], out["status"]) == (None, [], [], None)
    assert "answered 404" in out["why"]
    assert "names no run" in out["why"]
    assert len(trigger_posts(level)) == 1
    assert len(level.fake.runs) == 1  # the trigger itself happened


def test_a_token_missing_from_the_webhook_list_cannot_be_followed(level: LevelHarness) -> None:
    empty = Fault(status=200, body={"data": [], "has_more": False})
    level.fake.inject(empty, method="GET", path="/v2/automations/webhooks")
    out = level.ok("automations.trigger", follow(level))
    assert out["followed"] is False
    assert "not in Level's webhook list" in out["why"]
    # When Level's answer names the run, it is followed all the same.
    level.fake.trigger_body = "run"
    level.fake.inject(empty, method="GET", path="/v2/automations/webhooks")
    done = output_of(level.run_until_final("automations.trigger", follow(level), key="named"))
    assert done["followed"] is True and done["status"] == "success"


def test_two_new_runs_on_the_device_are_ambiguous_and_none_is_picked(level: LevelHarness) -> None:
    token = level.seed["webhook_tokens"][0]
    args = follow(level, device_ids=[level.device_id(LT042)])
    first = level.run("automations.trigger", args, key="amb")
    assert isinstance(first, Reschedule)
    # Someone else triggers the same automation on the same device meanwhile.
    httpx.post(f"{level.url}/v2/automations/webhooks/{token}",
               json={"device_ids": [level.device_id(LT042)]})  # fmt: skip
    level.clock.advance(first.countdown)
    out = output_of(level.run("automations.trigger", args, key="amb"))
    assert out["followed"] is False
    assert out["run_id"] is None and out["runs"] == []
    assert "2 new runs" in out["why"] and "cannot be told" in out["why"]
    for run in level.fake.runs:
        assert run.id in out["why"]
    assert len(trigger_posts(level)) == 2  # ours and the other one


def test_a_run_that_never_shows_up_is_given_up_on_after_the_window(level: LevelHarness) -> None:
    args = follow(level, device_ids=[level.device_id(MAC)])
    first = level.run("automations.trigger", args, key="late")
    assert isinstance(first, Reschedule)
    # From now on the run list shows nothing new (as if Level created runs late).
    level.fake.inject(
        Fault(status=200, body={"data": [], "has_more": False}), method="GET", path=RUNS, times=None
    )
    out = output_of(level.run_until_final("automations.trigger", args, key="late", after=first))
    assert out["followed"] is False
    assert "appeared within 120 s" in out["why"]
    assert level.device_id(MAC) in out["why"]
    assert len(trigger_posts(level)) == 1


def test_a_transient_failure_of_a_check_looks_again_and_never_triggers_again(
    level: LevelHarness,
) -> None:
    level.fake.trigger_body = "run"
    args = follow(level)
    first = level.run("automations.trigger", args, key="flaky")
    assert isinstance(first, Reschedule)
    level.fake.inject(Fault(status=503, body={"error": "Unavailable"}), path=f"{RUNS}/*", times=2)
    level.fake.force_429(1, retry_after=20, path=f"{RUNS}/*")
    outcomes: list[Outcome] = []
    outcome: Outcome = first
    while isinstance(outcome, Reschedule):
        level.clock.advance(outcome.countdown)
        outcome = level.run("automations.trigger", args, key="flaky")
        outcomes.append(outcome)
    assert isinstance(outcome, Finished)
    assert output_of(outcome)["status"] == "success"
    waits = [o for o in outcomes if isinstance(o, Reschedule)]
    assert {o.reason for o in waits} == {"waiting"}
    assert waits[2].countdown >= 20.0  # the 429's Retry-After
    assert len(trigger_posts(level)) == 1


def test_a_check_that_fails_for_good_says_the_trigger_was_sent(level: LevelHarness) -> None:
    level.fake.trigger_body = "run"
    args = follow(level)
    first = level.run("automations.trigger", args, key="revoked")
    assert isinstance(first, Reschedule)
    level.fake.revoke_api_key(CANARY_KEY)
    level.clock.advance(first.countdown)
    error = error_of(level.run("automations.trigger", args, key="revoked"))
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert error["message"].startswith(
        "Level accepted the trigger of automation aut_1 (it is not sent again), "
        "but following its run failed: Level rejected the API key (401: Access denied)"
    )
    assert error["details"]["triggered"] is True
    assert error["details"]["run_ids"] == [level.fake.runs[0].id]
    assert len(trigger_posts(level)) == 1


def test_a_run_still_going_at_run_timeout_ends_the_step_timeout(level: LevelHarness) -> None:
    level.fake.run_duration = 3600.0
    args = follow(level, run_timeout=60)
    done = level.run_until_final("automations.trigger", args, key="slow")
    error = error_of(done)
    assert error["code"] == "TIMEOUT"
    [run] = level.fake.runs
    assert f"following run {run.id}: running" in error["message"]
    assert len(trigger_posts(level)) == 1


def test_a_run_identified_before_a_failed_read_is_not_looked_for_again(
    level: LevelHarness,
) -> None:
    args = follow(level, device_ids=[level.device_id(DC01)])
    first = level.run("automations.trigger", args, key="kept")
    assert isinstance(first, Reschedule)
    level.fake.inject(Fault(status=503, body={"error": "Unavailable"}), path=f"{RUNS}/*")
    level.clock.advance(first.countdown)
    second = level.run("automations.trigger", args, key="kept")
    assert isinstance(second, Reschedule) and second.reason == "waiting"
    [run] = level.fake.runs
    assert level.row("kept").wait_state["state"]["run_ids"] == [run.id]
    out = output_of(level.run_until_final("automations.trigger", args, key="kept", after=second))
    assert out["run_ids"] == [run.id] and out["status"] == "success"
    assert level.fake.count("GET", RUNS) == 2  # noted before the trigger, then identified once
    assert len(trigger_posts(level)) == 1
