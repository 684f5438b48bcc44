"""One vendor deployed as an operator would: CLI-connected tenant, ``python -m patchbay worker``.

Shared by the per-vendor end-to-end tests (``test_<vendor>_over_http.py``):
a Redis server of the test's own, the test run's PostgreSQL schema, the
tenant created and connected with the tenant-admin CLI exactly as the README
documents, and the production worker entry point consuming the vendor's
queue. Steps go in through ``Executor.enqueue``.

Why a Redis server of its own: the other end-to-end fixtures share one Redis
database and FLUSHDB it, and another test run on the machine uses it too. A
flush removes kombu's exchange bindings (``_kombu.binding.*``), and publishers
that already declared the queue do not declare it again, so every message sent
afterwards, a script run's re-check included, is silently dropped; another
run's worker on the same queue takes this run's messages. Either way a step
sat WAITING past its deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
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
from store import Store
from tests.conftest import CANARY_KEY as STORE_KEY
from tests.conftest import postgres_schema_url
from tests.e2e.conftest import ROOT, RedisServer, WorkerProcess, _truncate


class PatchbayWorker(WorkerProcess):
    """``python -m patchbay worker``, the production entry point, logging to a file."""

    def __init__(self, env: dict[str, str], log: Path, queue: str) -> None:
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
                queue,
            ],
            cwd=ROOT,
            env=env,
            stdout=self._handle,
            stderr=subprocess.STDOUT,
        )


def cli(*args: str) -> str:
    """Run the CLI in-process; its output (the test fails on a non-zero exit)."""
    result = CliRunner().invoke(cli_app, list(args))
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.stdout


@dataclass
class Deployment:
    """A tenant connected to one vendor and a worker on that vendor's queue."""

    tenant: str
    provider: str
    store: Store
    executor: Executor
    worker: PatchbayWorker
    redis_url: str
    env: dict[str, str]

    def cli(self, *args: str) -> str:
        """Run the CLI in-process against this deployment (its ``PATCHBAY_*`` environment)."""
        with pytest.MonkeyPatch.context() as mp:
            for name, value in self.env.items():
                mp.setenv(name, value)
            return cli(*args)

    def enqueue(self, action: str, input: dict[str, Any], step: str) -> InvocationHandle:
        """Enqueue ``<provider>.<action>`` for the tenant as step ``step`` of one run."""
        return self.executor.enqueue(
            f"{self.provider}.{action}",
            tenant_id=self.tenant,
            input=input,
            run_id=f"{self.provider}-http-run",
            step_path=step,
        )

    def wait(self, handle: InvocationHandle, timeout: float = 60.0) -> InvocationResult:
        """The step's final outcome; on timeout, fail with its ledger row and the worker log."""
        try:
            return handle.wait(timeout)
        except TimeoutError as exc:
            pytest.fail(f"{exc}\nrow: {self.row(handle)}\nworker log:\n{self.worker_log()[-4000:]}")

    def row(self, handle: InvocationHandle) -> Any:
        """The step's ledger row as it is now."""
        return self.executor.runtime.pipeline.ledger.get(self.tenant, handle.key)

    def run(self, action: str, input: dict[str, Any], step: str) -> InvocationResult:
        return self.wait(self.enqueue(action, input, step))

    def succeeded(self, result: InvocationResult) -> dict[str, Any]:
        """The output of a step that must have succeeded (else fail with the worker log)."""
        assert result.status == "SUCCEEDED", (result.error, self.worker_log()[-3000:])
        assert result.output is not None
        return result.output

    def worker_log(self) -> str:
        return self.worker.log.read_text(errors="replace")

    def celery_results(self) -> list[bytes]:
        """Every task result Celery stored in the deployment's Redis."""
        results = redis.Redis.from_url(self.redis_url)
        try:
            return [
                value
                for key in results.scan_iter("celery-task-meta-*")
                if isinstance(value := results.get(key), bytes)
            ]
        finally:
            results.close()

    def assert_nowhere(self, canaries: list[str]) -> None:
        """No canary in the tenant's recorded steps, the worker log or Celery's results."""
        recorded = json.dumps(
            [r.model_dump(mode="json") for r in self.executor.invocations(self.tenant)]
        )
        log = self.worker_log()
        stored = self.celery_results()
        assert stored  # the results Celery stored are really being searched
        for canary in canaries:
            assert canary not in recorded, f"{canary[:12]}... in a recorded step"
            assert canary not in log, f"{canary[:12]}... in the worker log"
            assert all(canary.encode() not in value for value in stored), (
                f"{canary[:12]}... in a Celery result"
            )


@contextlib.contextmanager
def deploy(
    *,
    postgres_schema: str,
    tmp: Path,
    tenant: str,
    provider: str,
    connect: Callable[[], None],
    lease_seconds: int = 5,
) -> Iterator[Deployment]:
    """Start Redis, create and connect the tenant (``connect`` runs the CLI), start a worker.

    ``connect`` runs with the deployment's ``PATCHBAY_*`` environment set, so
    the ``patchbay connect`` it runs (through :func:`cli`) stores into the
    deployment's database.
    """
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
            "PATCHBAY_LEASE_SECONDS": str(lease_seconds),
            "PATCHBAY_VISIBILITY_TIMEOUT": "30",
            "PATCHBAY_SANDBOX": "1",  # the fakes are on loopback http://
        }
        with pytest.MonkeyPatch.context() as mp:
            for name, value in env.items():
                mp.setenv(name, value)
            cli("tenant", "create", tenant)
            connect()
        settings = Settings(
            data_dir=tmp / "data",
            database_url=database_url,
            secret_key=SecretStr(STORE_KEY),
            broker_url=redis_url,
            result_backend=redis_url,
            redis_url=redis_url,
            lease_seconds=lease_seconds,
            visibility_timeout=30,
            sandbox=True,
        )
        store = Store.from_settings(settings)
        cleanup.callback(store.close)
        runtime = ExecutorRuntime(settings)
        cleanup.callback(runtime.close)
        worker = PatchbayWorker(
            {**os.environ, "PYTHONPATH": str(ROOT), **env},
            tmp / "worker.log",
            f"patchbay.{provider}",
        )
        cleanup.callback(worker.stop)
        worker.wait_ready()
        yield Deployment(tenant, provider, store, Executor(runtime), worker, redis_url, env)
