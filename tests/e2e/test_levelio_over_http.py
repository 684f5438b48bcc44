"""Every Level action over real HTTP, through the executor, on a real worker process.

FakeLevel is served on loopback on the real clock; the tenant is connected
with ``patchbay connect levelio --url <server> --secret levelio_api_key=@file``
(checked: it proves the key and says it can write); ``python -m patchbay
worker`` consumes ``patchbay.levelio`` (``tests/e2e/deployment.py``). The
trigger is followed to its run's end without a held worker, started by the
automation's id so its webhook token reaches no step record. Each test
waits on the ledger.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from sandbox.core import RunningServer
from sandbox.levelio import FakeLevel
from tests.e2e.deployment import Deployment, cli, deploy

TENANT = "acme-level"
API_KEY = "LEVEL-e2e-CANARY-key-8c41d0"


@dataclass
class Level:
    d: Deployment
    fake: FakeLevel
    server: RunningServer
    seed: dict[str, Any]


@pytest.fixture(scope="module")
def level(postgres_schema: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Level]:
    tmp = tmp_path_factory.mktemp("level-http")
    fake = FakeLevel(run_start_delay=0.3, run_duration=1.0)
    seed = fake.seed_demo()
    fake.add_api_key(API_KEY, write=True)
    with contextlib.ExitStack() as cleanup:
        server = fake.serve()
        cleanup.callback(server.stop)
        key_file = tmp / "api-key"
        key_file.write_text(API_KEY + "\n")

        def connect() -> None:
            out = cli(
                "connect",
                "levelio",
                "--tenant",
                TENANT,
                "--url",
                server.base_url,
                "--secret",
                f"levelio_api_key=@{key_file}",
            )
            assert "connected levelio" in out
            assert "read/write" in out

        d = cleanup.enter_context(
            deploy(
                postgres_schema=postgres_schema,
                tmp=tmp,
                tenant=TENANT,
                provider="levelio",
                connect=connect,
            )
        )
        yield Level(d, fake, server, seed)


def test_every_read_action_over_http_on_a_real_worker(level: Level) -> None:
    d, seed = level.d, level.seed
    device = seed["device_ids"][0]
    reads: dict[str, dict[str, Any]] = {
        "devices.find": {"live": True},
        "devices.get": {"device_id": device},
        "alerts.list_active": {"live": True},
        "updates.list": {},
        "automations.list": {},
    }
    handles = {action: d.enqueue(action, args, f"root.{action}") for action, args in reads.items()}
    out = {action: d.succeeded(d.wait(handle)) for action, handle in handles.items()}
    assert out["devices.find"]["count"] == len(seed["device_ids"])
    assert out["devices.get"]["device"]["device_id"] == device
    assert {a["alert_id"] for a in out["alerts.list_active"]["alerts"]} == set(seed["alert_ids"])
    assert out["updates.list"]["count"] == len(seed["update_ids"])
    automations = out["automations.list"]["automations"]
    assert len(automations) == 30
    assert sum(a["has_webhook_trigger"] for a in automations) == 24
    assert {a["webhook_token"] for a in automations if a["has_webhook_trigger"]} == {"[REDACTED]"}


def test_resolve_and_trigger_then_follow_the_run_to_its_end(level: Level) -> None:
    d, fake, seed = level.d, level.fake, level.seed
    alert = seed["alert_ids"][0]
    resolved = d.succeeded(d.run("alerts.resolve", {"alert_id": alert}, "resolve"))
    assert resolved == {"resolved": True, "alert_id": alert}
    device = seed["device_ids"][0]
    automation = seed["automation_ids"][1]
    handle = d.enqueue(
        "automations.trigger",
        {"automation_id": automation, "device_ids": [device], "wait_for_run": True},
        "trigger",
    )
    result = d.wait(handle)
    out = d.succeeded(result)
    assert (out["followed"], out["status"], out["automation_id"]) == (True, "success", automation)
    [run] = fake.runs
    assert out["run_id"] == run.id
    assert result.attempt == 1
    assert len(fake.calls("POST", "/v2/automations/webhooks/*")) == 1
    status = d.succeeded(
        d.run("automations.run_status", {"run_id": run.id, "include_steps": True}, "status")
    )
    assert status["run"]["status"] == "success"
    assert status["steps"]


def test_the_key_and_the_webhook_tokens_are_in_no_record(level: Level) -> None:
    d, seed = level.d, level.seed
    refused = d.run("devices.get", {"device_id": "dev_missing"}, "missing")
    assert refused.error is not None and refused.error["code"] == "NOT_FOUND"
    d.assert_nowhere([API_KEY, *seed["webhook_tokens"]])
