"""End-to-end fixtures: real brokers, real PostgreSQL, real worker processes, fake vendor on HTTP.

The broker is Redis (``cluster``) or RabbitMQ (``make_cluster(..., broker="rabbitmq")``,
one vhost per cluster); ``broker_cluster`` runs a test on both. The result
backend and the throttle are always on Redis.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from kombu import Connection
from pydantic import SecretStr
from sqlalchemy import create_engine, text

from executor.api import Executor
from executor.app import ExecutorRuntime
from executor.settings import Settings
from sandbox.core import RunningServer
from sandbox.widgets import FakeWidgets
from store import Store
from store.models import Base
from tests.conftest import CANARY_KEY as STORE_KEY
from tests.conftest import postgres_schema_url
from tests.executor.conftest import CANARY_KEY, OTHER_KEY, OTHER_TENANT, TENANT, connect_widgets
from tests.executor.widgets_integration import widgets_catalog

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("PATCHBAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
# RabbitMQ without a vhost: each cluster adds its own (``rabbitmqctl`` on this machine).
RABBITMQ_URL = os.environ.get("PATCHBAY_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672")
RABBITMQ_USER = os.environ.get("PATCHBAY_TEST_RABBITMQ_USER", "guest")
BROKERS = ("redis", "rabbitmq")


def rabbitmqctl(*args: str, timeout: float = 120.0) -> str:
    """Run ``rabbitmqctl`` against the local node; its stdout, or the test fails."""
    if shutil.which("rabbitmqctl") is None:
        pytest.fail("rabbitmqctl is not installed (needed for the RabbitMQ end-to-end tests)")
    done = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        pytest.fail(f"rabbitmqctl {' '.join(args)} failed: {done.stderr or done.stdout}")
    return done.stdout


def rabbitmq_table(vhost: str, what: str, *columns: str) -> list[dict[str, str]]:
    """``rabbitmqctl list_<what> -p <vhost> <columns>`` as rows of strings."""
    out = rabbitmqctl(f"list_{what}", "-p", vhost, "--no-table-headers", *columns)
    rows = []
    for line in out.splitlines():
        if line.strip():
            rows.append(dict(zip(columns, line.split("\t"), strict=False)))
    return rows


def broker_answers(url: str, timeout: int = 2) -> bool:
    """True when a kombu connection to ``url`` can be made now."""
    connection = Connection(url, connect_timeout=timeout)
    try:
        connection.ensure_connection(max_retries=1, timeout=timeout)
    except Exception:
        return False
    finally:
        connection.release()
    return True


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


class RabbitMQVhost:
    """A vhost of the local RabbitMQ, for one cluster: its queues are nobody else's."""

    def __init__(self) -> None:
        self.name = f"pbtest_{uuid.uuid4().hex[:12]}"
        self.url = f"{RABBITMQ_URL.rstrip('/')}/{self.name}"

    def create(self) -> None:
        if not broker_answers(f"{RABBITMQ_URL.rstrip('/')}//"):
            pytest.fail(f"RabbitMQ at {RABBITMQ_URL} is not usable")
        rabbitmqctl("add_vhost", self.name)
        rabbitmqctl("set_permissions", "-p", self.name, RABBITMQ_USER, ".*", ".*", ".*")

    def delete(self) -> None:
        subprocess.run(
            ["rabbitmqctl", "-q", "delete_vhost", self.name], capture_output=True, timeout=120
        )

    def list(self, what: str, *columns: str) -> list[dict[str, str]]:
        return rabbitmq_table(self.name, what, *columns)


def stop_rabbitmq() -> None:
    """``rabbitmqctl stop_app``: the machine's shared RabbitMQ stops serving every vhost."""
    rabbitmqctl("stop_app")


def start_rabbitmq(url: str, timeout: float = 120.0) -> None:
    """``rabbitmqctl start_app``, then wait until ``url`` accepts connections again."""
    rabbitmqctl("start_app")
    wait_until(lambda: broker_answers(url), timeout, f"RabbitMQ at {url} to answer")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A private ``redis-server`` in ``directory`` that fsyncs every write to its AOF."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        if shutil.which("redis-server") is None:
            pytest.fail("redis-server is not installed")
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = (directory / "redis.log").open("ab")

    def start(self, timeout: float = 30.0) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.directory),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self.answers, timeout, f"redis-server on port {self.port}")

    def answers(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"redis-server on port {self.port} exited ({self.proc.returncode})")
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        try:
            info: dict[str, Any] = client.info("persistence")  # type: ignore[assignment]
            return bool(client.ping()) and info.get("loading") == 0
        except redis.RedisError:
            return False
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: what is not in the AOF is gone (with ``appendfsync always``, nothing)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (a prefork worker's children), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, a clean exit within 20 s, else SIGKILL."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and every process it forked, at once: nothing acks, nothing cleans."""
    for victim in [pid, *descendants(pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


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
        stop_process(self.proc)
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
    broker: str = "redis"
    vhost: RabbitMQVhost | None = None

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

    def start_workers(
        self, *names: str, pool: str = "threads", concurrency: int = 4
    ) -> list[WorkerProcess]:
        """Start several workers at once, then wait until each is ready."""
        workers = [
            WorkerProcess(self.env, self.logs / f"{name}.log", name, pool, concurrency)
            for name in names
        ]
        self.workers.extend(workers)
        for worker in workers:
            worker.wait_ready()
        return workers

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
    broker: str = "redis",
    broker_url: str | None = None,
) -> Iterator[Cluster]:
    """A cluster on ``broker`` ("redis" or "rabbitmq"); results and throttle on Redis.

    ``broker_url`` overrides the broker's URL (e.g. a private Redis server);
    for "rabbitmq" the cluster gets a vhost of its own, deleted at the end.
    """
    if broker not in BROKERS:
        raise ValueError(f"broker must be one of {BROKERS}, not {broker!r}")
    vhost: RabbitMQVhost | None = None
    if broker == "rabbitmq" and broker_url is None:
        vhost = RabbitMQVhost()
        vhost.create()
        broker_url = vhost.url
    broker_url = broker_url or REDIS_URL
    try:
        yield from _cluster(postgres_schema, tmp_path, extra_env, fake, broker, broker_url, vhost)
    finally:
        if vhost is not None:
            vhost.delete()


def _cluster(
    postgres_schema: str,
    tmp_path: Path,
    extra_env: dict[str, str] | None,
    fake: FakeWidgets | None,
    broker: str,
    broker_url: str,
    vhost: RabbitMQVhost | None,
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
        "PATCHBAY_BROKER_URL": broker_url,
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
        broker_url=broker_url,
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
        broker=broker,
        vhost=vhost,
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


@pytest.fixture(params=BROKERS, ids=[f"broker={b}" for b in BROKERS])
def broker_cluster(
    request: pytest.FixtureRequest, postgres_schema: str, tmp_path: Path
) -> Iterator[Cluster]:
    """A cluster on each broker in turn: a test using it runs on Redis and on RabbitMQ."""
    yield from make_cluster(postgres_schema, tmp_path, broker=request.param)
