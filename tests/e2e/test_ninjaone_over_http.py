"""Every NinjaOne action over real HTTP, through the executor, on a real worker process.

FakeNinjaOne is served on loopback; the tenant is connected with the tenant-admin
CLI exactly as documented (``patchbay connect ninjaone --url <server>`` with a
seed refresh token); ``python -m patchbay worker`` runs on a Redis server of its
own (``tests/e2e/deployment.py`` says why) and the test run's PostgreSQL schema.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from sandbox.core import RunningServer
from sandbox.ninjaone import FakeNinjaOne
from tests.e2e.deployment import Deployment, cli, deploy

TENANT = "acme-http"
CLIENT_ID = "patchbay-http-client"
CLIENT_SECRET = "http-CANARY-client-secret-71c9"


@dataclass
class NinjaOne:
    d: Deployment
    fake: FakeNinjaOne
    server: RunningServer
    demo: dict[str, Any]
    seed_token: str


@pytest.fixture(scope="module")
def deployment(
    postgres_schema: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NinjaOne]:
    tmp = tmp_path_factory.mktemp("ninjaone-http")
    fake = FakeNinjaOne(script_result_delay=1.0)
    demo = fake.seed_demo()
    fake.add_client(CLIENT_ID, CLIENT_SECRET)
    seed_token = fake.issue_refresh_token(CLIENT_ID)
    with contextlib.ExitStack() as cleanup:
        server = fake.serve()
        cleanup.callback(server.stop)
        secret_file = tmp / "client-secret"
        secret_file.write_text(CLIENT_SECRET + "\n")
        token_file = tmp / "refresh-token"
        token_file.write_text(seed_token + "\n")

        def connect() -> None:
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

        d = cleanup.enter_context(
            deploy(
                postgres_schema=postgres_schema,
                tmp=tmp,
                tenant=TENANT,
                provider="ninjaone",
                connect=connect,
            )
        )
        yield NinjaOne(d, fake, server, demo, seed_token)


def test_every_action_over_http_on_a_real_worker(deployment: NinjaOne) -> None:
    d, n = deployment.d, deployment
    cpu_alert, disk_alert = n.demo["alert_uids"]
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
    out = {action: d.succeeded(d.wait(handle)) for action, handle in handles.items()}
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
    assert run["series_uid"] == n.fake.script_runs[0].series_uid
    assert out["alerts.list_active"]["count"] == 2
    assert out["alerts.get"]["alert"]["title"] == "Disk free space"

    reboot = d.succeeded(d.run("devices.reboot", {"device_id": 3, "mode": "FORCED"}, "reboot"))
    assert reboot == {"reboot_requested": True, "external_device_id": "3"}
    reset = d.succeeded(d.run("alerts.reset", {"external_alert_id": cpu_alert}, "reset"))
    assert reset == {"acknowledged": True, "alert_id": cpu_alert}
    # The local mirror now knows the synced device.
    local = d.succeeded(d.run("devices.find", {"query": "front desk"}, "find-local"))
    assert [x["asset_id"] for x in local["devices"]] == [out["devices.sync"]["asset_id"]]

    assert n.fake.count("POST", "/ws/oauth/token") == 1
    assert [(r.device_id, r.mode) for r in n.fake.reboots] == [(3, "FORCED")]
    assert [r.uid for r in n.fake.alert_resets] == [cpu_alert]
    assert len(n.fake.script_runs) == 1
    # Every request reached the instance under its root, whatever the admin pasted.
    assert all(not c.path.startswith("/api") for c in n.fake.requests)


def test_failures_over_http_carry_the_vendor_message_and_no_credential(
    deployment: NinjaOne,
) -> None:
    d, n = deployment.d, deployment
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
    assert "NinjaOne access token refreshed" in d.worker_log()
    d.assert_nowhere([CLIENT_SECRET, n.seed_token, tokens["access_token"], tokens["refresh_token"]])
