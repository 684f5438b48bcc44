"""The Tactical RMM actions that run things on agents, against FakeTacticalRmm over loopback HTTP.

``agents.run_script``, ``agents.run_command`` and ``agents.reboot`` through the
pipeline: each sends exactly one mutating request with the body the real
server requires; the server's answers that are not a success are named
(an unreachable agent is AGENT_OFFLINE, NATS down is retried, an unknown
agent NOT_FOUND, a refused key INTEGRATION_MISCONFIGURED); input errors send
nothing; a 5xx after the server acted is OUTCOME_UNKNOWN and never resent;
the API key shows up nowhere but the header.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from executor.pipeline import Reschedule
from sandbox.core import Fault
from tests.integrations.harness import rejection_of
from tests.integrations.tacticalrmm.conftest import CANARY_KEY, TacticalHarness

DC01, LT042, WS07, NAS = range(4)
CLEAR_TEMP = 1
UNKNOWN_AGENT = "NOSUCHAGENTAAAAAAAAAA0000000099"


def posts(tactical: TacticalHarness) -> list[Any]:
    return tactical.fake.calls("POST")


def write_steps(tactical: TacticalHarness, agent: int = DC01) -> list[tuple[str, dict[str, Any]]]:
    agent_id = tactical.agent_id(agent)
    return [
        ("agents.run_script", {"agent_id": agent_id, "script_id": CLEAR_TEMP}),
        ("agents.run_command", {"agent_id": agent_id, "command": "hostname"}),
        ("agents.reboot", {"agent_id": agent_id}),
    ]


# -- happy paths ---------------------------------------------------------------------


def test_run_script_waits_for_the_output_with_every_key_the_server_requires(
    tactical: TacticalHarness,
) -> None:
    agent_id = tactical.agent_id(DC01)
    out = tactical.ok(
        "agents.run_script",
        {
            "agent_id": agent_id,
            "script_id": CLEAR_TEMP,
            "args": ["-Days", "7"],
            "env_vars": ["CLEANUP_MODE=aggressive", "DRY_RUN="],
            "timeout": 120,  # the longest run that is waited for
            "run_as_user": True,
        },
    )
    assert out == {
        "run_requested": True,
        "agent_id": agent_id,
        "output": "Removed 1,284 files (2.3 GB).\n",
        "vendor_response": "Removed 1,284 files (2.3 GB).\n",
    }
    [request] = posts(tactical)
    assert request.path == f"/agents/{agent_id}/runscript/"
    assert request.body == {
        "script": CLEAR_TEMP,
        "output": "wait",
        "args": ["-Days", "7"],
        "env_vars": ["CLEANUP_MODE=aggressive", "DRY_RUN="],
        "run_as_user": True,
        "timeout": 120,
    }
    assert request.headers["x-api-key"] == CANARY_KEY


def test_run_script_without_waiting_starts_it_and_returns_no_output(
    tactical: TacticalHarness,
) -> None:
    agent_id = tactical.agent_id(LT042)
    out = tactical.ok(
        "agents.run_script",
        {"agent_id": agent_id, "script_id": CLEAR_TEMP, "wait_for_output": False},
    )
    assert out["output"] is None
    assert out["vendor_response"] == "Clear temp files will now be run on CONTOSO-LT042"
    [request] = posts(tactical)
    assert request.body == {
        "script": CLEAR_TEMP,
        "output": "forget",
        "args": [],
        "env_vars": [],
        "run_as_user": False,
        "timeout": 90,
    }


def test_run_command_returns_its_output(tactical: TacticalHarness) -> None:
    agent_id = tactical.agent_id(DC01)
    out = tactical.ok("agents.run_command", {"agent_id": agent_id, "command": "hostname"})
    assert out["output"] == "CONTOSO-DC01\r\n"
    [request] = posts(tactical)
    assert request.path == f"/agents/{agent_id}/cmd/"
    assert request.body == {
        "shell": "powershell",
        "cmd": "hostname",
        "timeout": 30,
        "run_as_user": False,
    }


def test_run_command_with_a_custom_shell_sends_it(tactical: TacticalHarness) -> None:
    agent_id = tactical.agent_id(NAS)
    tactical.ok(
        "agents.run_command",
        {
            "agent_id": agent_id,
            "command": "uptime",
            "shell": "custom",
            "custom_shell": "/usr/bin/zsh",
            "timeout": 10,
        },
    )
    [request] = posts(tactical)
    assert request.body == {
        "shell": "custom",
        "custom_shell": "/usr/bin/zsh",
        "cmd": "uptime",
        "timeout": 10,
        "run_as_user": False,
    }


def test_reboot_sends_one_request(tactical: TacticalHarness) -> None:
    agent_id = tactical.agent_id(DC01)
    out = tactical.ok("agents.reboot", {"agent_id": agent_id})
    assert out == {"reboot_requested": True, "agent_id": agent_id}
    [request] = posts(tactical)
    assert (request.path, request.body) == (f"/agents/{agent_id}/reboot/", None)
    assert tactical.fake.reboots == [agent_id]


# -- named failures ------------------------------------------------------------------


@pytest.mark.parametrize("action", ["agents.run_script", "agents.run_command", "agents.reboot"])
def test_an_offline_agent_is_agent_offline_naming_it_and_nothing_is_sent(
    tactical: TacticalHarness, action: str
) -> None:
    [(_, args)] = [s for s in write_steps(tactical, WS07) if s[0] == action]
    error = tactical.error(action, args)
    assert error["code"] == "AGENT_OFFLINE"
    assert error["retryable"] is False
    agent_id = tactical.agent_id(WS07)
    assert agent_id in error["message"]
    assert "last seen" in error["message"]
    assert "nothing was sent" in error["message"]
    details = error["details"]
    assert (details["agent_id"], details["agent_online"], details["sent"]) == (
        agent_id,
        False,
        False,
    )
    assert details["last_seen_at"] is not None
    assert posts(tactical) == []


# What the server answers when the agent it thought online does not answer.
UNANSWERED = {
    "agents.run_script": Fault(
        status=200, body=b'"timeout"', headers={"Content-Type": "application/json"}
    ),
    "agents.run_command": Fault(
        status=400,
        body=b'"Unable to contact the agent"',
        headers={"Content-Type": "application/json"},
    ),
    "agents.reboot": Fault(
        status=400,
        body=b'"Unable to contact the agent"',
        headers={"Content-Type": "application/json"},
    ),
}


@pytest.mark.parametrize("action", sorted(UNANSWERED))
def test_a_sent_run_the_agent_does_not_answer_is_agent_offline_and_not_resent(
    tactical: TacticalHarness, action: str
) -> None:
    [(_, args)] = [s for s in write_steps(tactical) if s[0] == action]
    tactical.fake.inject(UNANSWERED[action], method="POST")
    error = tactical.error(action, args, key="unanswered")
    assert error["code"] == "AGENT_OFFLINE"
    assert error["retryable"] is False
    assert error["details"]["sent"] is True
    assert tactical.agent_id(DC01) in error["message"]
    expected = (200, "timeout") if action == "agents.run_script" else (400, "Unable to contact")
    assert error["vendor"]["status"] == expected[0]
    assert error["vendor"]["message"].startswith(expected[1])
    assert tactical.error(action, args, key="unanswered")["code"] == "AGENT_OFFLINE"
    assert len(posts(tactical)) == 1  # never sent again


@pytest.mark.parametrize("action", ["agents.run_script", "agents.run_command"])
def test_nats_down_is_retried_and_then_runs(tactical: TacticalHarness, action: str) -> None:
    [(_, args)] = [s for s in write_steps(tactical) if s[0] == action]
    tactical.fake.nats_down = True
    outcome = tactical.run(action, args, key="nats")
    assert isinstance(outcome, Reschedule)
    assert outcome.reason == "retry"
    tactical.fake.nats_down = False
    tactical.clock.advance(outcome.countdown)
    out = tactical.ok(action, args, key="nats")
    assert out["output"]
    assert len(posts(tactical)) == 2  # the first never left the server


@pytest.mark.parametrize("step", range(3))
def test_an_unknown_agent_is_not_found(tactical: TacticalHarness, step: int) -> None:
    action, args = write_steps(tactical)[step]
    error = tactical.error(action, {**args, "agent_id": UNKNOWN_AGENT})
    assert error["code"] == "NOT_FOUND"
    assert error["vendor"] == {"status": 404, "message": "No Agent matches the given query."}


@pytest.mark.parametrize("step", range(3))
def test_a_refused_key_is_misconfigured_and_not_resent(
    tactical: TacticalHarness, step: int
) -> None:
    action, args = write_steps(tactical)[step]
    tactical.set_secret("tacticalrmm_api_key", "WRONG-key-not-known-to-the-server")
    error = tactical.error(action, args)
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert error["vendor"]["status"] == 401
    assert posts(tactical) == []  # refused at the agent look-up, before anything is sent


@pytest.mark.parametrize("step", range(3))
def test_a_5xx_after_the_server_acted_is_outcome_unknown_and_never_resent(
    tactical: TacticalHarness, step: int
) -> None:
    action, args = write_steps(tactical)[step]
    tactical.fake.inject(
        Fault(status=502, body="<html>Bad Gateway</html>", after=True), method="POST"
    )
    error = tactical.error(action, args, key="lost")
    assert error["code"] == "OUTCOME_UNKNOWN"
    assert error["retryable"] is False
    # Asked again under the same key: the ledger answers; the vendor hears nothing more.
    assert tactical.error(action, args, key="lost")["code"] == "OUTCOME_UNKNOWN"
    assert len(posts(tactical)) == 1
    if action == "agents.reboot":
        assert tactical.fake.reboots == [tactical.agent_id(DC01)]


# -- input errors send nothing -------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "extra", "field"),
    [
        ("agents.run_command", {"command": "ls", "shell": "custom"}, "custom_shell"),
        ("agents.run_command", {"command": "ls", "shell": "custom", "custom_shell": None}, None),
        ("agents.run_script", {"script_id": 1, "env_vars": ["1BAD=x"]}, "env_vars"),
        ("agents.run_script", {"script_id": 1, "env_vars": ["NO_EQUALS_SIGN"]}, "env_vars"),
        ("agents.run_script", {"script_id": 1, "env_vars": ["A=line\nbreak"]}, "env_vars"),
        ("agents.run_script", {"script_id": 0}, "script_id"),
        ("agents.run_script", {"script_id": "1"}, "script_id"),
        ("agents.run_script", {"script_id": 1, "timeout": 3601}, "timeout"),
        ("agents.run_command", {"command": "   "}, "command"),
    ],
)
def test_input_errors_are_validation_errors_naming_the_field_and_send_nothing(
    tactical: TacticalHarness, action: str, extra: dict[str, Any], field: str | None
) -> None:
    outcome = tactical.run(action, {"agent_id": tactical.agent_id(DC01), **extra})
    error = rejection_of(outcome)
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["field"].startswith(field or "custom_shell")
    assert tactical.fake.count() == 0


# -- the key ---------------------------------------------------------------------------


def test_the_key_never_reaches_errors_ledger_rows_logs_or_the_request_log(
    tactical: TacticalHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors = []
    for action, args in write_steps(tactical, WS07):
        errors.append(tactical.error(action, args))
    tactical.fake.inject(
        Fault(status=500, body={"detail": f"bad key {CANARY_KEY}"}, after=True), method="POST"
    )
    errors.append(tactical.error(*write_steps(tactical)[0]))
    tactical.fake.inject(Fault(status=403, body={"detail": f"no {CANARY_KEY}"}), method="POST")
    errors.append(tactical.error(*write_steps(tactical)[1]))
    tactical.fake.inject(UNANSWERED["agents.run_command"], method="POST")
    errors.append(tactical.error(*write_steps(tactical)[1]))
    assert [e["code"] for e in errors] == [
        "AGENT_OFFLINE",
        "AGENT_OFFLINE",
        "AGENT_OFFLINE",
        "OUTCOME_UNKNOWN",
        "PERMISSION_DENIED",
        "AGENT_OFFLINE",
    ]
    assert tactical.fake.requests[0].headers["x-api-key"] == CANARY_KEY
    rows = tactical.ledger_texts()
    assert len(rows) == 6
    exported = json.dumps(tactical.vendor_requests())
    for text in (*map(json.dumps, errors), caplog.text, exported, *rows):
        assert CANARY_KEY not in text
