"""Every NinjaOne action over real HTTP, through the executor, on a real worker process.

FakeNinjaOne is served on loopback; the tenant is connected with the tenant-admin
CLI exactly as documented (``patchbay connect ninjaone --url <server>`` with a
seed refresh token); ``python -m patchbay worker`` runs on a Redis server of its
own and the test run's PostgreSQL schema; steps go in through ``Executor.enqueue``.

Why a Redis server of its own: the other end-to-end fixtures share one Redis
database and FLUSHDB it, and another test run on the machine uses it too. A
flush removes kombu's exchange bindings (``_kombu.binding.*``), and publishers
that already declared the queue do not declare it again, so every message sent
afterwards, a script run's re-check included, is silently dropped; another
run's worker on ``patchbay.ninjaone`` takes this run's messages. Either way a
step sat WAITING past its deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from pydantic import SecretStr
from typer.testing import CliRunner

from executor.api import Executor, InvocationHandle
from executor.app import ExecutorRuntime
from executor.results import InvocationResult
from executor.settings import Settings
from patchbay.cli import app as cli_app
from sandbox.core import RunningServer
from sandbox.ninjaone import FakeNinjaOne
from store import Store
from tests.conftest import CANARY_KEY as STORE_KEY
from tests.conftest import postgres_schema_url
from tests.e2e.conftest import ROOT, RedisServer, WorkerProcess, _truncate

TENANT = "acme-http"
CLIENT_ID = "patchbay-http-client"
CLIENT_SECRET = "http-CANARY-client-secret-71c9"
QUEUE = "patchbay.ninjaone"


class PatchbayWorker(WorkerProcess):
    """``python -m patchbay worker``, the production entry point, logging to a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.name = "patchbay-worker"
        self._handle = log.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "patchbay",
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                "2",
                "--queues",
                QUEUE,
            ],
            cwd=ROOT,
            env=env,
            stdout=self._handle,
            stderr=subprocess.STDOUT,
        )


@dataclass
class Deployment:
    fake: FakeNinjaOne
    server: RunningServer
    store: Store
    executor: Executor
    worker: PatchbayWorker
    demo: dict[str, Any]
    seed_token: str
    redis_url: str

    def enqueue(self, action: str, input: dict[str, Any], step: str) -> InvocationHandle:
        return self.executor.enqueue(
            f"ninjaone.{action}",
            tenant_id=TENANT,
            input=input,
            run_id="http-run",
            step_path=step,
        )

    def wait(self, handle: InvocationHandle, timeout: float = 60.0) -> InvocationResult:
        """The step's final outcome; on timeout, fail with its ledger row and the worker log."""
        try:
            return handle.wait(timeout)
        except TimeoutError as exc:
            row = self.executor.runtime.pipeline.ledger.get(TENANT, handle.key)
            pytest.fail(f"{exc}\nrow: {row}\nworker log:\n{self.worker_log()[-4000:]}")

    def run(self, action: str, input: dict[str, Any], step: str) -> InvocationResult:
        return self.wait(self.enqueue(action, input, step))

    def worker_log(self) -> str:
        return self.worker.log.read_text(errors="replace")


def cli(*args: str) -> str:
    result = CliRunner().invoke(cli_app, list(args))
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def deployment(
    postgres_schema: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("ninjaone-http")
    database_url = postgres_schema_url(postgres_schema)
    _truncate(database_url)
    with contextlib.ExitStack() as cleanup:
        redis_server = RedisServer(tmp / "redis")
        cleanup.callback(redis_server.stop)
        redis_server.start()
        redis_url = redis_server.url
        env = {
            "PATCHBAY_DATA_DIR": str(tmp / "data"),
            "PATCHBAY_DATABASE_URL": database_url,
            "PATCHBAY_SECRET_KEY": STORE_KEY,
            "PATCHBAY_BROKER_URL": redis_url,
            "PATCHBAY_RESULT_BACKEND": redis_url,
            "PATCHBAY_REDIS_URL": redis_url,
            "PATCHBAY_LEASE_SECONDS": "5",
            "PATCHBAY_VISIBILITY_TIMEOUT": "30",
        }
        fake = FakeNinjaOne(script_result_delay=1.0)
        demo = fake.seed_demo()
        fake.add_client(CLIENT_ID, CLIENT_SECRET)
        seed_token = fake.issue_refresh_token(CLIENT_ID)
        server = fake.serve()
        cleanup.callback(server.stop)
        secret_file = tmp / "client-secret"
        secret_file.write_text(CLIENT_SECRET + "\n")
        token_file = tmp / "refresh-token"
        token_file.write_text(seed_token + "\n")
        with pytest.MonkeyPatch.context() as mp:
            for name, value in env.items():
                mp.setenv(name, value)
            cli("tenant", "create", TENANT)
            connected = cli(
                "connect",
                "ninjaone",
                "--tenant",
                TENANT,
                "--url",
                server.base_url + "/api/v2",
                "--secret",
                f"ninjaone_client_id={CLIENT_ID}",
                "--secret",
                f"ninjaone_client_secret=@{secret_file}",
                "--secret",
                f"ninjaone_refresh_token=@{token_file}",
                # Unchecked: the first token must be the workers' to fetch (one refresh for six).
                "--no-check",
            )
        assert "connected ninjaone" in connected
        settings = Settings(
            data_dir=tmp / "data",
            database_url=database_url,
            secret_key=SecretStr(STORE_KEY),
            broker_url=redis_url,
            result_backend=redis_url,
            redis_url=redis_url,
            lease_seconds=5,
            visibility_timeout=30,
        )
        store = Store.from_settings(settings)
        cleanup.callback(store.close)
        runtime = ExecutorRuntime(settings)
        cleanup.callback(runtime.close)
        worker = PatchbayWorker({**os.environ, "PYTHONPATH": str(ROOT), **env}, tmp / "worker.log")
        cleanup.callback(worker.stop)
        worker.wait_ready()
        yield Deployment(
            fake, server, store, Executor(runtime), worker, demo, seed_token, redis_url
        )


def succeeded(result: InvocationResult, deployment: Deployment) -> dict[str, Any]:
    assert result.status == "SUCCEEDED", (result.error, deployment.worker_log()[-3000:])
    assert result.output is not None
    return result.output


def test_every_action_over_http_on_a_real_worker(deployment: Deployment) -> None:
    d = deployment
    cpu_alert, disk_alert = d.demo["alert_uids"]
    # Six steps at once on two worker threads: the first ones all need the first
    # token (from the seed refresh token), and NinjaOne must see one refresh.
    first_steps: list[tuple[str, dict[str, Any]]] = [
        ("devices.find", {"live": True}),
        ("devices.sync", {"device_id": 2}),
        ("devices.scripting_options", {"device_id": 1}),
        ("devices.run_script", {"device_id": 1, "script_id": 1, "wait_for_result": True}),
        ("alerts.list_active", {"live": True}),
        ("alerts.get", {"external_alert_id": disk_alert}),
    ]
    handles = {action: d.enqueue(action, input, f"root.{action}") for action, input in first_steps}
    out = {action: succeeded(d.wait(handle), d) for action, handle in handles.items()}
    assert out["devices.find"]["count"] == 3
    assert out["devices.sync"]["external_device_id"] == "2"
    assert out["devices.sync"]["asset_id"] is not None
    assert [s["name"] for s in out["devices.scripting_options"]["scripts"]] == [
        "Clear temp files",
        "Flush DNS cache",
    ]
    run = out["devices.run_script"]
    assert (run["completed"], run["result"], run["output"]) == (
        True,
        "SUCCESS",
        "Removed 1,284 files (2.3 GB).",
    )
    assert run["series_uid"] == d.fake.script_runs[0].series_uid
    assert out["alerts.list_active"]["count"] == 2
    assert out["alerts.get"]["alert"]["title"] == "Disk free space"

    reboot = succeeded(d.run("devices.reboot", {"device_id": 3, "mode": "FORCED"}, "reboot"), d)
    assert reboot == {"reboot_requested": True, "external_device_id": "3"}
    reset = succeeded(d.run("alerts.reset", {"external_alert_id": cpu_alert}, "reset"), d)
    assert reset == {"acknowledged": True, "alert_id": cpu_alert}
    # The local mirror now knows the synced device.
    local = succeeded(d.run("devices.find", {"query": "front desk"}, "find-local"), d)
    assert [x["asset_id"] for x in local["devices"]] == [out["devices.sync"]["asset_id"]]

    assert d.fake.count("POST", "/ws/oauth/token") == 1
    assert [(r.device_id, r.mode) for r in d.fake.reboots] == [(3, "FORCED")]
    assert [r.uid for r in d.fake.alert_resets] == [cpu_alert]
    assert len(d.fake.script_runs) == 1
    # Every request reached the instance under its root, whatever the admin pasted.
    assert all(not c.path.startswith("/api") for c in d.fake.requests)


def test_failures_over_http_carry_the_vendor_message_and_no_credential(
    deployment: Deployment,
) -> None:
    d = deployment
    failed = d.run("devices.run_script", {"device_id": 1, "script_id": 2}, "not-offered")
    assert failed.status == "FAILED"
    assert failed.error is not None
    assert failed.error["code"] == "VENDOR_ERROR"
    assert failed.error["vendor"] == {
        "status": 400,
        "message": "Collect system logs is not available for device 1",
    }
    missing = d.run("devices.sync", {"device_id": 404}, "missing-device")
    assert missing.error is not None and missing.error["code"] == "NOT_FOUND"

    stored = d.store.secrets.get(TENANT, "ninjaone_credentials")
    assert stored is not None
    tokens = json.loads(stored.get_secret_value())
    canaries = [CLIENT_SECRET, d.seed_token, tokens["access_token"], tokens["refresh_token"]]
    recorded = json.dumps([r.model_dump(mode="json") for r in d.executor.invocations(TENANT)])
    log = d.worker_log()
    assert "NinjaOne access token refreshed" in log
    results = redis.Redis.from_url(d.redis_url)
    try:
        celery_results = [
            value
            for key in results.scan_iter("celery-task-meta-*")
            if isinstance(value := results.get(key), bytes)
        ]
    finally:
        results.close()
    assert celery_results  # the results Celery stored are really being searched
    for canary in canaries:
        assert canary not in recorded
        assert canary not in log
        assert all(canary.encode() not in value for value in celery_results)
