"""Every Tactical RMM action over real HTTP, through the executor, on a real worker process.

FakeTacticalRmm is served on loopback on the real clock; the tenant is
connected with ``patchbay connect tacticalrmm --url <server> --secret
tacticalrmm_api_key=@file`` (checked: one read-only call); ``python -m
patchbay worker`` consumes ``patchbay.tacticalrmm`` (``tests/e2e/deployment.py``).
Beyond the happy paths: a script that outlives the synchronous wait finishes
through the agent's history, and a step for an offline agent waits
(WAITING in ``patchbay invocations``, no worker held) and runs once when the
agent is back, or ends TIMEOUT having sent nothing. Each waits on the ledger.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from executor.api import InvocationHandle
from sandbox.core import RunningServer
from sandbox.tacticalrmm import FakeTacticalRmm
from tests.e2e.deployment import Deployment, cli, deploy

TENANT = "acme-tactical"
API_KEY = "TACTICAL-e2e-CANARY-key-5d1c2b"
SCRIPT_OUTPUT = "Removed 1,284 files (2.3 GB).\n"


@dataclass
class Tactical:
    d: Deployment
    fake: FakeTacticalRmm
    server: RunningServer
    seed: dict[str, Any]

    def agent(self, index: int) -> str:
        agent_id: str = self.seed["agent_ids"][index]
        return agent_id

    def posts(self, agent_id: str) -> int:
        return sum(1 for r in self.fake.calls("POST") if r.path.startswith(f"/agents/{agent_id}/"))


@pytest.fixture(scope="module")
def tactical(postgres_schema: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tactical]:
    tmp = tmp_path_factory.mktemp("tactical-http")
    fake = FakeTacticalRmm(script_result_delay=1.0)
    seed = fake.seed_demo()
    fake.add_api_key(seed["username"], API_KEY)
    with contextlib.ExitStack() as cleanup:
        server = fake.serve()
        cleanup.callback(server.stop)
        key_file = tmp / "api-key"
        key_file.write_text(API_KEY + "\n")

        def connect() -> None:
            out = cli(
                "connect",
                "tacticalrmm",
                "--tenant",
                TENANT,
                "--url",
                server.base_url,
                "--secret",
                f"tacticalrmm_api_key=@{key_file}",
            )
            assert "connected tacticalrmm" in out
            assert "checked: API key accepted" in out

        d = cleanup.enter_context(
            deploy(
                postgres_schema=postgres_schema,
                tmp=tmp,
                tenant=TENANT,
                provider="tacticalrmm",
                connect=connect,
            )
        )
        yield Tactical(d, fake, server, seed)


def wait_for(what: str, predicate: Callable[[], bool], d: Deployment, timeout: float = 60) -> None:
    """Poll the ledger (via ``predicate``) until it holds; fail with the worker log if not."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"not reached: {what}\nworker log:\n{d.worker_log()[-3000:]}")
        time.sleep(0.05)


def deferred(d: Deployment, handle: InvocationHandle) -> bool:
    row = d.row(handle)
    return (
        row is not None
        and row.status == "WAITING"
        and (row.wait_state or {}).get("kind") == "deferred"
    )


def test_every_action_over_http_on_a_real_worker(tactical: Tactical) -> None:
    t, d = tactical, tactical.d
    dc01 = t.agent(0)
    reads: dict[str, dict[str, Any]] = {
        "agents.find": {"live": True},
        "agents.get": {"agent_id": dc01},
        "scripts.list": {"query": "temp"},
    }
    handles = {action: d.enqueue(action, args, f"root.{action}") for action, args in reads.items()}
    out = {action: d.succeeded(d.wait(handle)) for action, handle in handles.items()}
    assert out["agents.find"]["count"] == 4
    got = out["agents.get"]["agent"]
    assert (got["agent_id"], got["hostname"], got["agent_online"]) == (dc01, "CONTOSO-DC01", True)
    assert [s["name"] for s in out["scripts.list"]["scripts"]] == ["Clear temp files"]

    script = d.succeeded(d.run("agents.run_script", {"agent_id": dc01, "script_id": 1}, "script"))
    assert script["output"] == SCRIPT_OUTPUT
    command = d.succeeded(
        d.run("agents.run_command", {"agent_id": dc01, "command": "hostname"}, "command")
    )
    assert command["output"] == "CONTOSO-DC01\r\n"
    reboot = d.succeeded(d.run("agents.reboot", {"agent_id": dc01}, "reboot"))
    assert reboot == {"reboot_requested": True, "agent_id": dc01}
    assert t.posts(dc01) == 3
    assert t.fake.reboots == [dc01]


def test_a_script_that_outlives_the_synchronous_wait_finishes_through_history(
    tactical: Tactical,
) -> None:
    t, d = tactical, tactical.d
    lt042 = t.agent(1)
    handle = d.enqueue(
        "agents.run_script", {"agent_id": lt042, "script_id": 1, "timeout": 900}, "long-script"
    )
    result = d.wait(handle)
    assert d.succeeded(result)["output"] == SCRIPT_OUTPUT
    assert result.attempt == 1
    assert t.posts(lt042) == 1
    [sent] = [r for r in t.fake.calls("POST") if r.path.startswith(f"/agents/{lt042}/")]
    assert sent.body["output"] == "forget"
    assert t.fake.count("GET", f"/agents/{lt042}/history/") >= 2  # before sending, then checks


def test_an_offline_agent_that_comes_back_gets_the_command_once(tactical: Tactical) -> None:
    t, d = tactical, tactical.d
    nas = t.agent(3)
    t.fake.set_online(nas, False)
    handle = d.enqueue(
        "agents.run_command",
        {"agent_id": nas, "command": "uptime", "if_offline": "wait", "offline_timeout": 60},
        "offline-then-back",
    )
    wait_for("the step deferred", lambda: deferred(d, handle), d)
    shown = d.cli("invocations", "--tenant", TENANT, "--wide")
    assert "WAITING" in shown
    assert f"agent {nas} is offline" in " ".join(shown.split())
    assert t.posts(nas) == 0
    t.fake.set_online(nas, True)
    result = d.wait(handle)
    d.succeeded(result)
    assert result.attempt == 1
    assert t.posts(nas) == 1


def test_an_agent_that_stays_offline_ends_timeout_having_been_sent_nothing(
    tactical: Tactical,
) -> None:
    t, d = tactical, tactical.d
    ws07 = t.agent(2)
    result = d.run(
        "agents.reboot", {"agent_id": ws07, "if_offline": "wait", "offline_timeout": 3}, "gone"
    )
    assert result.status == "FAILED"
    assert result.error is not None
    assert result.error["code"] == "TIMEOUT"
    assert f"agent {ws07} is offline" in result.error["message"]
    assert t.posts(ws07) == 0
    assert ws07 not in t.fake.reboots


def test_the_api_key_is_nowhere_but_the_header(tactical: Tactical) -> None:
    t, d = tactical, tactical.d
    failed = d.run("agents.run_script", {"agent_id": t.agent(2), "script_id": 1}, "offline")
    assert failed.error is not None and failed.error["code"] == "AGENT_OFFLINE"
    assert all(r.headers.get("x-api-key") == API_KEY for r in t.fake.calls("GET"))
    d.assert_nowhere([API_KEY])
