"""The recipes end to end: the sandbox over HTTP, ``python -m patchbay worker``, PostgreSQL.

One deployment for the module: a Redis server of its own (broker, results,
throttle; see ``tests/e2e/deployment.py`` for why not the shared one), the
test run's PostgreSQL schema, a sandbox on loopback (every fake, seeded),
the tenant connected to all of it by ``patchbay sandbox connect`` (as the
README says), and the production worker entry point consuming every queue.
``patchbay recipe run`` runs in-process (no embedded worker on a shared
broker: every step goes through the worker process), except where a test
kills it: then it is a process of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from executor.api import Executor
from executor.app import ExecutorRuntime
from executor.settings import Settings
from patchbay.cli import app
from patchbay.sandboxes import SandboxRun, start_sandbox
from sandbox.core import Fault
from sandbox.huntress import FakeHuntress
from sandbox.microsoft import DEMO_CHANNEL_ID
from sandbox.ninjaone import FakeNinjaOne
from sandbox.registry import FAKES
from store import Store
from tests.conftest import CANARY_KEY as STORE_KEY
from tests.conftest import postgres_schema_url
from tests.e2e.conftest import ROOT, RedisServer, WorkerProcess, _truncate, kill_tree, wait_until
from tests.recipes.conftest import Result
from tests.recipes.support import notes, printed_steps, ticket, tickets
from tests.sandbox.test_registry import consecutive_free_ports

TENANT = "acme-recipes"


def disk_alert(fake: FakeNinjaOne, device_id: int) -> str:
    """A new disk-full alert on the device at the NinjaOne fake; its uid."""
    alert = fake.add_alert(
        device_id,
        message="Disk C: has less than 5% free space",
        source_type="CONDITION_AGENT_DISK_FREE_SPACE",
        source_name="Disk free space",
    )
    return str(alert["uid"])


@dataclass
class Deployment:
    sandbox: SandboxRun
    port: int
    store: Store
    executor: Executor
    env: dict[str, str]
    worker: WorkerProcess
    tmp: Path

    def cli(self, *args: str) -> Result:
        """A ``patchbay`` command in-process with the deployment's environment."""
        with pytest.MonkeyPatch.context() as mp:
            for name, value in self.env.items():
                mp.setenv(name, value)
            done = CliRunner().invoke(app, list(args))
        return Result(done.exit_code, done.stdout, done.stderr)

    def ok(self, *args: str) -> str:
        done = self.cli(*args)
        assert done.code == 0, done.out + done.err
        return done.out

    def recipe(self, name: str, data: dict[str, Any], *extra: str) -> Result:
        done = self.cli(
            "recipe", "run", name, "--tenant", TENANT, "--input", json.dumps(data), *extra
        )
        if done.code not in (0, 1):
            pytest.fail(f"exit {done.code}: {done.out}{done.err}\n{self.worker_log()[-3000:]}")
        return done

    def status(self, key: str) -> str | None:
        found = self.executor.result(key, TENANT)
        return None if found is None else found.status

    def worker_log(self) -> str:
        return self.worker.log.read_text(errors="replace")


def _start_sandbox() -> tuple[SandboxRun, int]:
    for _attempt in range(5):
        port = consecutive_free_ports(len(FAKES))
        try:
            return start_sandbox(port, script_result_delay=0.5), port
        except OSError:
            continue
    pytest.fail("never found consecutive free ports")


@pytest.fixture(scope="module")
def d(postgres_schema: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("recipes-e2e")
    database_url = postgres_schema_url(postgres_schema)
    _truncate(database_url)
    with contextlib.ExitStack() as cleanup:
        redis_server = RedisServer(tmp / "redis")
        cleanup.callback(redis_server.stop)
        redis_server.start()
        sandbox, port = _start_sandbox()
        cleanup.callback(sandbox.stop)
        env = {
            "PATCHBAY_DATA_DIR": str(tmp / "data"),
            "PATCHBAY_DATABASE_URL": database_url,
            "PATCHBAY_SECRET_KEY": STORE_KEY,
            "PATCHBAY_BROKER_URL": redis_server.url,
            "PATCHBAY_RESULT_BACKEND": redis_server.url,
            "PATCHBAY_REDIS_URL": redis_server.url,
            "PATCHBAY_LEASE_SECONDS": "5",
            "PATCHBAY_VISIBILITY_TIMEOUT": "30",
            "PATCHBAY_RETRY_BACKOFF": "0.2",
            "PATCHBAY_RATE_LIMITS": json.dumps({"huntress": "600/m"}),
            "PATCHBAY_SANDBOX": "1",
        }
        settings = Settings(
            data_dir=tmp / "data",
            database_url=database_url,
            secret_key=SecretStr(STORE_KEY),
            broker_url=redis_server.url,
            result_backend=redis_server.url,
            redis_url=redis_server.url,
            sandbox=True,
        )
        store = Store.from_settings(settings)
        cleanup.callback(store.close)
        runtime = ExecutorRuntime(settings)
        cleanup.callback(runtime.close)
        worker = WorkerProcess(
            {**os.environ, "PYTHONPATH": str(ROOT), **env},
            tmp / "worker.log",
            "recipes-worker",
            argv=[sys.executable, "-m", "patchbay", "worker", "--pool", "threads", "-c", "4"],
        )
        cleanup.callback(worker.stop)
        deployment = Deployment(sandbox, port, store, Executor(runtime), env, worker, tmp)
        deployment.ok("sandbox", "connect", "--tenant", TENANT, "--port", str(port))
        worker.wait_ready()
        yield deployment


def test_disk_full_fixed_and_escalated_through_a_worker(d: Deployment) -> None:
    ninja, microsoft = d.sandbox.ninjaone, d.sandbox.microsoft
    # Device 2's disk alert (seeded): the demo script cleans it up.
    alert = d.sandbox.seeds["ninjaone"]["alert_uids"][1]
    fixed = d.recipe(
        "disk-full",
        {"device_id": "2", "script_id": 1, "alert_id": alert, "hostname": "CONTOSO-LT042"},
        "--json",
    )
    assert fixed.code == 0, fixed.out + d.worker_log()[-3000:]
    report = fixed.json()
    assert [s["path"].removeprefix("disk_full.") for s in report["steps"]] == [
        "open_ticket",
        "run_cleanup",
        "note_output",
        "reset_alert",
        "close_ticket",
    ]
    outcome = report["outcome"]
    assert (outcome["fixed"], outcome["alert_reset"], outcome["ticket_closed"]) == (
        True,
        True,
        True,
    )
    log = d.worker_log()
    assert all(f"key={s['key']}" in log for s in report["steps"]), "not run by the worker"
    assert alert not in {a["uid"] for a in ninja.active_alerts()}
    assert ticket(d.store, TENANT, outcome["ticket_number"]).status == "closed"

    # Device 1, a script that frees too little: escalated, the alert stays active.
    stuck = ninja.add_script(
        "Clear temp files (too little)",
        output="Removed 12 files (20 MB). Disk C: STILL FULL (3% free).",
        result="FAILURE",
        exit_code=1,
    )
    full = disk_alert(ninja, 1)
    escalated = d.recipe(
        "disk-full",
        {"device_id": "1", "script_id": stuck["id"], "alert_id": full},
        "--json",
    )
    assert escalated.code == 0, escalated.out
    report = escalated.json()
    assert [s["path"].removeprefix("disk_full.") for s in report["steps"]] == [
        "open_ticket",
        "run_cleanup",
        "note_output",
        "raise_priority",
        "escalate",
    ]
    outcome = report["outcome"]
    assert (outcome["fixed"], outcome["why"]) == (False, "NinjaOne reported FAILURE")
    assert full in {a["uid"] for a in ninja.active_alerts()}
    opened = ticket(d.store, TENANT, outcome["ticket_number"])
    assert (opened.status, opened.priority) == ("open", "high")
    [note] = notes(d.store, TENANT, outcome["ticket_number"])
    assert "NOT fixed (NinjaOne reported FAILURE)" in note and "STILL FULL" in note
    posts = [m["text"] for m in microsoft.channel_messages(DEMO_CHANNEL_ID)]
    assert [p for p in posts if p.startswith(f"{outcome['ticket_number']} Disk full on device 1")]


def test_huntress_incident_resumes_once_the_read_only_key_is_replaced(d: Deployment) -> None:
    huntress = d.sandbox.fakes["huntress"]
    assert isinstance(huntress, FakeHuntress)
    seed, url = d.sandbox.seeds["huntress"], d.sandbox.url("huntress")

    def connect(key: str, secret: str) -> None:
        d.ok(
            "connect",
            "huntress",
            "--tenant",
            TENANT,
            "--url",
            url,
            "--secret",
            f"huntress_api_key={key}",
            "--secret",
            f"huntress_api_secret={secret}",
        )

    connect(seed["read_only_api_key"], seed["read_only_api_secret"])
    incident = seed["pending_incident_id"]
    failed = d.recipe("huntress-incident", {"incident_id": incident}, "--run-id", "hunt-1")
    assert failed.code == 1, failed.out
    steps = printed_steps(failed.out)
    assert [(s.status, s.path.removeprefix("huntress_incident.")) for s in steps] == [
        ("SUCCEEDED", "get_incident"),
        ("SUCCEEDED", "get_agent"),
        ("SUCCEEDED", "get_organization"),
        ("SUCCEEDED", "open_ticket"),
        ("SUCCEEDED", "list_remediations"),
        ("FAILED", "approve_remediations"),
    ]
    assert '"code": "PERMISSION_DENIED"' in failed.out
    reads = {
        path: huntress.count("GET", path)
        for path in (f"/v1/incident_reports/{incident}", "/v1/agents/*", "/v1/organizations")
    }

    connect(seed["api_key"], seed["api_secret"])  # a user-based key: it may write
    resume = failed.out.strip().splitlines()[-1].strip()
    assert resume.endswith("--run-id hunt-1")
    resumed = d.cli(*shlex.split(resume)[1:])
    assert resumed.code == 0, resumed.out + d.worker_log()[-3000:]
    steps = printed_steps(resumed.out)
    assert [(s.path.removeprefix("huntress_incident."), s.how) for s in steps] == [
        ("get_incident", "replayed"),
        ("get_agent", "replayed"),
        ("get_organization", "replayed"),
        ("open_ticket", "replayed"),
        ("list_remediations", "replayed"),
        ("approve_remediations", "run again"),
        ("resolve", ""),
        ("note_result", ""),
        ("post", ""),
    ]  # fmt: skip
    # The finished reads were not sent again (the resolve itself reads the report).
    assert huntress.count("GET", "/v1/agents/*") == reads["/v1/agents/*"]
    assert huntress.count("GET", "/v1/organizations") == reads["/v1/organizations"]
    approvals = huntress.calls(
        "POST", f"/v1/incident_reports/{incident}/remediations/bulk_approval"
    )
    assert [r.status for r in approvals] == [403, 201]
    assert len(huntress.calls("POST", f"/v1/incident_reports/{incident}/resolution")) == 1
    outcome = json.loads(resumed.out.split("; outcome:\n", 1)[1])
    assert outcome | {"ticket_id": None, "ticket_number": None} == {
        "ticket_id": None,
        "ticket_number": None,
        "host": "CONTOSO-LT042",
        "organization": "Contoso Dental",
        "approved_remediations": 2,
        "resolved": True,
        "incident_status": "closed",
        "posted": True,
    }
    opened = ticket(d.store, TENANT, outcome["ticket_number"])
    assert opened.title == "CRITICAL - Incident on CONTOSO-LT042 (Contoso Dental)"
    assert opened.priority == "critical" and opened.description is not None
    assert "Organization: Contoso Dental (Huntress 201)." in opened.description
    [note] = notes(d.store, TENANT, outcome["ticket_number"])
    assert note.startswith("Approved 2 remediation(s): ")
    posts = d.sandbox.microsoft.channel_messages(DEMO_CHANNEL_ID)
    assert len([p for p in posts if p["text"].startswith(outcome["ticket_number"] + " ")]) == 1


def test_escalation_books_notifies_posts_and_reaches_the_calendar(d: Deployment) -> None:
    microsoft = d.sandbox.microsoft
    adele = d.sandbox.seeds["microsoft"]["users"][0]
    users = json.loads(d.ok("user", "list", "--tenant", TENANT, "--json"))
    tech = next(u["user_id"] for u in users if u["username"] == "tech1")
    created = json.loads(
        d.ok(
            "run",
            "tickets.create",
            "--tenant",
            TENANT,
            "--input",
            json.dumps({"title": "VPN down for the branch office"}),
        )
    )
    number = created["output"]["ticket"]["ticket_number"]
    data = {
        "ticket_id": created["output"]["ticket"]["ticket_id"],
        "technician_user_ids": [tech],
        "lead_minutes": 60 * 24 * 5,  # clear of whatever else books tech1 in this module
    }
    done = d.recipe("escalation", data)
    assert done.code == 0, done.out
    outcome = json.loads(done.out.split("; outcome:\n", 1)[1])
    assert outcome["technician_user_id"] == tech
    titles = [n["topic"]["value"] for n in microsoft.notifications(adele["id"])]
    assert f"{number} escalated to you" in titles
    posts = [m["text"] for m in microsoft.channel_messages(DEMO_CHANNEL_ID)]
    assert any(p.startswith(f"{number} VPN down for the branch office escalated:") for p in posts)
    # The worker's outbox relay pushed the booking to tech1's calendar (Adele's mailbox).
    wait_until(
        lambda: any(
            e["subject"] == f"{number}: VPN down for the branch office"
            for e in microsoft.events(adele["userPrincipalName"])
        ),
        30,
        "the booking in the technician's calendar",
    )
    assigned = ticket(d.store, TENANT, number)
    assert (str(assigned.assignee_user_id), assigned.status) == (tech, "in_progress")


def test_a_killed_recipe_resumes_without_a_second_vendor_call(d: Deployment) -> None:
    """kill -9 the recipe's process between steps; the same run id finishes the run."""
    ninja = d.sandbox.ninjaone
    alert = disk_alert(ninja, 2)
    data = {"device_id": "2", "script_id": 1, "alert_id": alert}
    run_id = "killed-1"
    keys = {
        step: f"{run_id}:disk_full.{step}:{action}@1"
        for step, action in (
            ("open_ticket", "tickets.create"),
            ("run_cleanup", "ninjaone.devices.run_script"),
            ("reset_alert", "ninjaone.alerts.reset"),
            ("close_ticket", "tickets.close"),
        )
    }
    runs_before = len(ninja.script_runs)
    tickets_before = len(tickets(d.store, TENANT))
    # The reset answers slowly: when the script's step has ended, the recipe is at most
    # at the reset and can never have closed the ticket before it is killed.
    ninja.inject(Fault(delay=2.0), method="POST", path=f"/v2/alert/{alert}/reset")
    log = (d.tmp / "killed-recipe.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "patchbay",
            "recipe",
            "run",
            "disk-full",
            "--tenant",
            TENANT,
            "--input",
            json.dumps(data),
            "--run-id",
            run_id,
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **d.env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: d.status(keys["run_cleanup"]) == "SUCCEEDED", 40, "the script's step")
        assert proc.poll() is None, (d.tmp / "killed-recipe.log").read_text()
        kill_tree(proc.pid)
        assert proc.wait(10) == -9
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    assert d.status(keys["close_ticket"]) is None
    assert len(ninja.script_runs) == runs_before + 1

    resumed = d.recipe("disk-full", data, "--run-id", run_id)
    assert resumed.code == 0, resumed.out + d.worker_log()[-3000:]
    steps = {s.path.removeprefix("disk_full."): s for s in printed_steps(resumed.out)}
    assert list(steps) == [
        "open_ticket",
        "run_cleanup",
        "note_output",
        "reset_alert",
        "close_ticket",
    ]
    assert steps["open_ticket"].how == steps["run_cleanup"].how == "replayed"
    assert steps["close_ticket"].how == ""
    # No second call to the vendor for the steps that had finished (nor for the reset in flight).
    assert len(ninja.script_runs) == runs_before + 1
    assert len(ninja.calls("POST", "/v2/device/2/script/run")) == len(
        [r for r in ninja.script_runs if r.device_id == 2]
    )
    assert [r.uid for r in ninja.alert_resets].count(alert) == 1
    assert len(ninja.calls("POST", f"/v2/alert/{alert}/reset")) == 1
    assert len(tickets(d.store, TENANT)) == tickets_before + 1
    outcome = json.loads(resumed.out.split("; outcome:\n", 1)[1])
    assert (outcome["fixed"], outcome["alert_reset"], outcome["ticket_closed"]) == (
        True,
        True,
        True,
    )
    assert len(notes(d.store, TENANT, outcome["ticket_number"])) == 1
    results = [d.executor.result(key, TENANT) for key in keys.values()]
    assert all(r is not None and r.attempt == 1 for r in results), results
