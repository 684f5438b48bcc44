"""End-to-end fixtures: real Redis, real PostgreSQL, real worker processes, fake vendor on HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from pydantic import SecretStr
from sqlalchemy import create_engine, text

from executor.api import Executor
from executor.app import ExecutorRuntime
from sandbox.core import RunningServer
from sandbox.widgets import FakeWidgets
from store import Store
from store.models import Base
from store.settings import Settings
from tests.conftest import CANARY_KEY as STORE_KEY
from tests.conftest import postgres_schema_url
from tests.executor.conftest import CANARY_KEY, OTHER_KEY, OTHER_TENANT, TENANT, connect_widgets
from tests.executor.widgets_integration import widgets_catalog

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("PATCHBAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")


class WorkerProcess:
    """``python -m tests.e2e.worker`` with its output in a log file."""

    def __init__(
        self,
        env: dict[str, str],
        log: Path,
        name: str,
        pool: str = "threads",
        concurrency: int = 4,
        argv: list[str] | None = None,
    ):
        self.log = log
        self.name = name
        self._handle = log.open("ab")
        self.proc = subprocess.Popen(
            argv
            or [
                sys.executable,
                "-m",
                "tests.e2e.worker",
                f"--name={name}",
                f"--pool={pool}",
                f"--concurrency={concurrency}",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._handle,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b" ready." in self.log.read_bytes():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"worker {self.name} not ready: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no acks, nothing cleaned up."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._handle.close()


@dataclass
class Cluster:
    """Settings shared by this test and its worker processes."""

    settings: Settings
    env: dict[str, str]
    store: Store
    executor: Executor
    fake: FakeWidgets
    server: RunningServer
    logs: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    def start_worker(
        self,
        name: str = "w1",
        *,
        pool: str = "threads",
        concurrency: int = 4,
        env: dict[str, str] | None = None,
    ) -> WorkerProcess:
        worker = WorkerProcess(
            {**self.env, **(env or {})}, self.logs / f"{name}.log", name, pool, concurrency
        )
        self.workers.append(worker)
        worker.wait_ready()
        return worker

    def worker_logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("*.log")))


def _truncate(url: str) -> None:
    engine = create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} CASCADE"))
    engine.dispose()


def make_cluster(
    postgres_schema: str,
    tmp_path: Path,
    *,
    extra_env: dict[str, str] | None = None,
    fake: FakeWidgets | None = None,
) -> Iterator[Cluster]:
    database_url = postgres_schema_url(postgres_schema)
    _truncate(database_url)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {REDIS_URL} is not usable: {exc}")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PATCHBAY_DATA_DIR": str(tmp_path / "data"),
        "PATCHBAY_DATABASE_URL": database_url,
        "PATCHBAY_SECRET_KEY": STORE_KEY,
        "PATCHBAY_BROKER_URL": REDIS_URL,
        "PATCHBAY_RESULT_BACKEND": REDIS_URL,
        "PATCHBAY_REDIS_URL": REDIS_URL,
        "PATCHBAY_LEASE_SECONDS": "3",
        "PATCHBAY_VISIBILITY_TIMEOUT": "8",
        "PATCHBAY_RETRY_BACKOFF": "0.2",
        **(extra_env or {}),
    }
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key=SecretStr(STORE_KEY),
        broker_url=REDIS_URL,
        result_backend=REDIS_URL,
        redis_url=REDIS_URL,
        lease_seconds=3,
        visibility_timeout=8,
    )
    fake = fake or FakeWidgets(
        {CANARY_KEY: "acct-acme", OTHER_KEY: "acct-globex"}, job_duration=2.0
    )
    server = fake.serve()
    store = Store.from_settings(settings)
    connect_widgets(store, TENANT, CANARY_KEY, url=server.base_url)
    connect_widgets(store, OTHER_TENANT, OTHER_KEY, url=server.base_url)
    runtime = ExecutorRuntime(
        settings, widgets_catalog(extra_env.get("E2E_WIDGETS_LIMIT") if extra_env else None)
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    cluster = Cluster(
        settings=settings,
        env=env,
        store=store,
        executor=Executor(runtime),
        fake=fake,
        server=server,
        logs=logs,
    )
    try:
        yield cluster
    finally:
        for worker in cluster.workers:
            worker.stop()
        server.stop()
        runtime.close()
        store.close()
        client.flushdb()
        client.close()


@pytest.fixture
def cluster(postgres_schema: str, tmp_path: Path) -> Iterator[Cluster]:
    yield from make_cluster(postgres_schema, tmp_path)
