"""Waiting without a held worker: long scripts collected from history, and offline agents.

Against FakeTacticalRmm over loopback HTTP, on the manual clock the fake and
the ledger share. A script whose timeout is over the synchronous limit is
started (``output: forget``) and its output read from the agent's history by
the check step; a step for an offline agent with ``if_offline: wait`` is
deferred (``WAITING``, nothing sent) and starts over until the agent is back
or ``offline_timeout`` passes. Either way the run is sent exactly once, or
never.
"""

from __future__ import annotations

from typing import Any

import pytest

from executor.pipeline import Finished, Outcome, Reschedule
from sandbox.core import Fault
from tests.integrations.harness import error_of, output_of
from tests.integrations.tacticalrmm.conftest import TacticalHarness

DC01, LT042, WS07, NAS = range(4)
CLEAR_TEMP = 1
SCRIPT_OUTPUT = "Removed 1,284 files (2.3 GB).\n"


def posts(tactical: TacticalHarness) -> list[Any]:
    return tactical.fake.calls("POST")


def run_until_final(
    tactical: TacticalHarness, action: str, args: dict[str, Any], key: str
) -> Outcome:
    """Deliver the step again each time it is due, until it ends (at most 200 deliveries)."""
    outcome = tactical.run(action, args, key=key)
    for _ in range(200):
        if not isinstance(outcome, Reschedule):
            return outcome
        tactical.clock.advance(outcome.countdown)
        outcome = tactical.run(action, args, key=key)
    raise AssertionError(f"{key} still not final: {outcome}")


def row(tactical: TacticalHarness, key: str) -> Any:
    found = tactical.pipeline().ledger.get(tactical.tenant, key)
    assert found is not None
    return found


def steps(agent_id: str, **extra: Any) -> dict[str, dict[str, Any]]:
    return {
        "agents.run_script": {"agent_id": agent_id, "script_id": CLEAR_TEMP, **extra},
        "agents.run_command": {"agent_id": agent_id, "command": "hostname", **extra},
        "agents.reboot": {"agent_id": agent_id, **extra},
    }


# -- long scripts ----------------------------------------------------------------------


def test_a_long_script_is_started_and_its_output_collected_from_the_agents_history(
    tactical: TacticalHarness,
) -> None:
    tactical.fake.script_result_delay = 8.0  # later than the first look (5 s)
    agent_id = tactical.agent_id(DC01)
    args = {"agent_id": agent_id, "script_id": CLEAR_TEMP, "timeout": 600}
    first = tactical.run("agents.run_script", args, key="long")
    assert isinstance(first, Reschedule)
    assert (first.reason, first.countdown) == ("waiting", 5.0)
    [request] = posts(tactical)
    assert request.body["output"] == "forget"
    assert request.body["timeout"] == 600
    waiting = row(tactical, "long")
    assert waiting.status == "WAITING"
    assert waiting.wait_state["kind"] == "check"
    assert "history" in waiting.history[-1]["wait"]["note"]
    tactical.clock.advance(first.countdown)
    second = tactical.run("agents.run_script", args, key="long")
    assert isinstance(second, Reschedule)  # the run is in the history, without a result yet
    assert second.countdown == 30.0
    assert "no result yet" in row(tactical, "long").history[-1]["wait"]["note"]
    tactical.clock.advance(second.countdown)
    out = output_of(tactical.run("agents.run_script", args, key="long"))
    assert out["output"] == SCRIPT_OUTPUT
    assert out["vendor_response"]["retcode"] == 0
    assert out["vendor_response"]["stdout"] == SCRIPT_OUTPUT
    assert len(posts(tactical)) == 1
    assert row(tactical, "long").attempt == 1


def test_a_long_script_that_never_reports_ends_timeout_and_is_not_resent(
    tactical: TacticalHarness,
) -> None:
    tactical.fake.script_result_delay = 10**6
    args = {"agent_id": tactical.agent_id(DC01), "script_id": CLEAR_TEMP, "timeout": 180}
    started = tactical.now
    error = error_of(run_until_final(tactical, "agents.run_script", args, "never"))
    assert error["code"] == "TIMEOUT"
    assert "no result yet" in error["message"]
    assert tactical.now - started == pytest.approx(180 + 120)  # its timeout plus the grace
    assert len(posts(tactical)) == 1


def test_a_failed_history_read_looks_again_and_never_resends_the_script(
    tactical: TacticalHarness,
) -> None:
    args = {"agent_id": tactical.agent_id(DC01), "script_id": CLEAR_TEMP, "timeout": 300}
    first = tactical.run("agents.run_script", args, key="flaky")
    assert isinstance(first, Reschedule)
    tactical.fake.inject(
        Fault(status=502, body="<html>Bad Gateway</html>"), method="GET", path="/agents/*/history/"
    )
    tactical.clock.advance(first.countdown)
    again = tactical.run("agents.run_script", args, key="flaky")
    assert isinstance(again, Reschedule)
    assert again.reason == "waiting"
    tactical.clock.advance(again.countdown)
    out = output_of(run_until_final(tactical, "agents.run_script", args, "flaky"))
    assert out["output"] == SCRIPT_OUTPUT
    assert len(posts(tactical)) == 1


def test_a_script_up_to_the_synchronous_limit_is_waited_for_in_one_request(
    tactical: TacticalHarness,
) -> None:
    args = {"agent_id": tactical.agent_id(DC01), "script_id": CLEAR_TEMP, "timeout": 120}
    outcome = tactical.run("agents.run_script", args)
    assert isinstance(outcome, Finished)
    [request] = posts(tactical)
    assert request.body["output"] == "wait"
    assert tactical.fake.count("GET", f"/agents/{tactical.agent_id(DC01)}/history/") == 0


# -- offline agents ----------------------------------------------------------------------


@pytest.mark.parametrize("action", sorted(steps("x")))
def test_a_step_for_an_offline_agent_waits_and_runs_once_when_it_comes_back(
    tactical: TacticalHarness, action: str
) -> None:
    agent_id = tactical.agent_id(DC01)
    tactical.fake.set_online(agent_id, False, back_after=90)  # on the fake's (manual) clock
    args = steps(agent_id, if_offline="wait", offline_timeout=600)[action]
    first = tactical.run(action, args, key="back")
    assert isinstance(first, Reschedule)
    assert (first.reason, first.countdown) == ("waiting", 60.0)
    waiting = row(tactical, "back")
    assert (waiting.status, waiting.wait_state["kind"]) == ("WAITING", "deferred")
    note = waiting.history[-1]["wait"]["note"]
    assert f"agent {agent_id} is offline, last seen" in note
    assert "nothing sent yet" in note
    tactical.clock.advance(first.countdown)
    still = tactical.run(action, args, key="back")  # 60 s: still away
    assert isinstance(still, Reschedule)
    assert posts(tactical) == []
    tactical.clock.advance(still.countdown)  # 120 s: back since 90 s
    done = tactical.run(action, args, key="back")
    assert isinstance(done, Finished)
    assert done.row.status == "SUCCEEDED"
    assert done.row.attempt == 1
    assert len(posts(tactical)) == 1


@pytest.mark.parametrize("action", sorted(steps("x")))
def test_a_step_for_an_agent_that_stays_offline_ends_timeout_having_sent_nothing(
    tactical: TacticalHarness, action: str
) -> None:
    agent_id = tactical.agent_id(WS07)
    args = steps(agent_id, if_offline="wait", offline_timeout=30)[action]
    started = tactical.now
    error = error_of(run_until_final(tactical, action, args, "gone"))
    assert error["code"] == "TIMEOUT"
    assert f"agent {agent_id} is offline" in error["message"]
    assert tactical.now - started == pytest.approx(30)
    assert posts(tactical) == []


def test_an_offline_wait_then_a_long_script_gets_its_own_deadline(
    tactical: TacticalHarness,
) -> None:
    agent_id = tactical.agent_id(DC01)
    tactical.fake.set_online(agent_id, False, back_after=25)
    args = {
        "agent_id": agent_id,
        "script_id": CLEAR_TEMP,
        "timeout": 300,
        "if_offline": "wait",
        "offline_timeout": 30,
    }
    out = output_of(run_until_final(tactical, "agents.run_script", args, "both"))
    assert out["output"] == SCRIPT_OUTPUT
    assert len(posts(tactical)) == 1
