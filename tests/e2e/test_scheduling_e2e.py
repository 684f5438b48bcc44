"""entry -> outbox -> relay -> sync -> exactly one event, through a real `patchbay worker`."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from pydantic import SecretStr

from executor.api import Executor
from executor.app import ExecutorRuntime
from executor.settings import Settings
from executor.wire import task_id_for
from sandbox.core import RunningServer
from sandbox.microsoft import FakeMicrosoft, graph_fault
from store import Store
from store.calendars import connect_calendar
from store.tenants import create_tenant
from store.users import create_user
from tests.conftest import CANARY_KEY as STORE_KEY
from tests.conftest import postgres_schema_url
from tests.e2e.conftest import REDIS_URL, ROOT, WorkerProcess, _truncate

TENANT = "acme"
GRAPH_SECRET = "graph-e2e-CANARY-77c1"


@dataclass
class Setup:
    executor: Executor
    fake: FakeMicrosoft
    server: RunningServer
    tech: str
    worker: WorkerProcess


@pytest.fixture
def setup(postgres_schema: str, tmp_path: Path) -> Iterator[Setup]:
    database_url = postgres_schema_url(postgres_schema)
    _truncate(database_url)
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        secret_key=SecretStr(STORE_KEY),
        broker_url=REDIS_URL,
        result_backend=REDIS_URL,
        redis_url=REDIS_URL,
    )
    fake = FakeMicrosoft()
    fake.add_tenant("aad-acme")
    fake.add_app("aad-acme", "app-acme", GRAPH_SECRET)
    fake.add_user("u-adele", "adele@acme.example", tenant_id="aad-acme")
    server = fake.serve()
    store = Store.from_settings(settings)
    with store.sessions.begin() as session:
        create_tenant(session, TENANT)
        tech = create_user(session, TENANT, "adele", technician=True).user_id
        connect_calendar(
            session,
            TENANT,
            tech,
            provider="microsoft",
            account="adele@acme.example",
            settings={
                "aad_tenant": "aad-acme",
                "login_url": server.base_url,
                "graph_url": server.base_url,
            },
        )
    store.secrets.set(TENANT, "microsoft_client_id", "app-acme")
    store.secrets.set(TENANT, "microsoft_client_secret", GRAPH_SECRET)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PATCHBAY_DATA_DIR": str(tmp_path),
        "PATCHBAY_DATABASE_URL": database_url,
        "PATCHBAY_SECRET_KEY": STORE_KEY,
        "PATCHBAY_BROKER_URL": REDIS_URL,
        "PATCHBAY_RESULT_BACKEND": REDIS_URL,
        "PATCHBAY_REDIS_URL": REDIS_URL,
        "PATCHBAY_RETRY_BACKOFF": "0.2",
    }
    worker = WorkerProcess(
        env,
        tmp_path / "worker.log",
        "patchbay",
        argv=[sys.executable, "-m", "patchbay", "worker", "--pool=threads", "--concurrency=2"],
    )
    runtime = ExecutorRuntime(settings)
    try:
        worker.wait_ready()
        yield Setup(Executor(runtime), fake, server, str(tech), worker)
    finally:
        worker.stop()
        server.stop()
        runtime.close()
        store.close()
        client.flushdb()
        client.close()


def wait_sync(setup: Setup, timeout: float = 60.0) -> list[object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = [r for r in setup.executor.invocations(TENANT) if r.key.startswith("outbox:")]
        if rows and all(r.final for r in rows):
            return list(rows)
        time.sleep(0.05)
    raise AssertionError(setup.worker.log.read_text()[-3000:])


def create_entry(setup: Setup, key: str) -> dict[str, object]:
    outcome = setup.executor.enqueue(
        "scheduling.create_entry",
        tenant_id=TENANT,
        input={
            "assigned_user_ids": [setup.tech],
            "title": "Patch the file server",
            "window": {"start": "2026-12-01T09:00:00Z", "end": "2026-12-01T10:00:00Z"},
        },
        idempotency_key=key,
    ).wait(60)
    assert outcome.status == "SUCCEEDED", outcome.error
    assert outcome.output is not None
    return outcome.output


def test_entry_reaches_the_calendar_exactly_once_even_when_synced_twice(setup: Setup) -> None:
    entry = create_entry(setup, "run-1:root.steps[0]:scheduling.create_entry@1")
    rows = wait_sync(setup)
    assert [getattr(r, "status", None) for r in rows] == ["SUCCEEDED"]
    events = setup.fake.events("adele@acme.example")
    assert len(events) == 1
    assert events[0]["subject"] == "Patch the file server"
    sync_key = getattr(rows[0], "key", "")
    # The sync task delivered again (same key) and a fresh sync (new key).
    app = setup.executor.runtime.app
    for key in (sync_key, "manual-resync-1"):
        app.send_task(
            "patchbay.run.core",
            kwargs={
                "action_id": "scheduling.entries.sync_calendar",
                "version": 1,
                "tenant_id": TENANT,
                "input": {"entry_id": entry["entry_id"]},
                "run_id": None,
                "step_path": None,
            },
            task_id=task_id_for(TENANT, key),
            queue="patchbay.core",
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        resync = setup.executor.result("manual-resync-1", TENANT)
        if resync is not None and resync.final:
            break
        time.sleep(0.05)
    assert resync is not None
    assert resync.status == "SUCCEEDED"
    time.sleep(0.5)
    assert setup.fake.creates == 1
    assert len(setup.fake.events("adele@acme.example")) == 1
    assert setup.fake.updates == 1
    assert GRAPH_SECRET not in setup.worker.log.read_text()


def test_a_graph_503_is_retried_and_the_entry_still_lands_once(setup: Setup) -> None:
    setup.fake.inject(graph_fault(status=503, retry_after=1), method="POST", path="/v1.0/*")
    create_entry(setup, "run-2:root.steps[0]:scheduling.create_entry@1")
    rows = wait_sync(setup)
    assert [getattr(r, "status", None) for r in rows] == ["SUCCEEDED"]
    assert [getattr(r, "attempt", None) for r in rows] == [2]
    assert setup.fake.creates == 1
    assert len(setup.fake.events("adele@acme.example")) == 1
