"""Executor benchmark: pipeline overhead, shared throttle, worker memory. One run, ratios.

Real Redis (broker, results, throttle), real PostgreSQL (ledger), real worker
processes (threads pool). Reported, all from one run:

1. actions/s through the full pipeline (in-process fake vendor transport)
   divided by bare Celery no-op tasks/s on the same broker and worker
   (target >= 0.5, goal 0.7); and ``bench.shaped`` tasks/s over no-ops: the
   Celery side of a step alone (a step's task options, message and outcome,
   no body), which tells Celery's share of the gap from the step's own. Each
   batch is queued while the worker does not consume its queue, then the
   worker is told to (``add_consumer``), and the rate is completions/s from
   the first completion to the last (the ledger's ``completed_at`` for
   actions, the result's ``date_done`` for the baselines): the driver's
   enqueueing does not compete with the worker for the CPU;
2. throttle, four worker processes, one tenant against a fake vendor that
   enforces its limit: achieved rate / limit (ceiling 0.92 at 60 per 3 s: the
   throttle keeps a 0.2 s transit margin on each window; 0.96 at 60/min), requests over
   the limit (target 0), and a second tenant's p95 wait during the backlog;
   for contrast the same load with only Celery's per-worker ``rate_limit`` at
   the vendor's limit;
3. worker RSS after 10,000 actions / after 1,000 (target <= 1.1).

Run: ``./dev bench executor`` (about five minutes; ``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from celery.result import AsyncResult
from pydantic import SecretStr
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from benchmarks.executor_worker import BENCH_KEYS
from benchmarks.processes import processes
from executor.api import Executor
from executor.app import ExecutorRuntime
from executor.settings import Settings
from executor.wire import kwargs_repr, task_id_for
from sandbox.widgets import FakeWidgets
from store import Store, db
from store.models import RmmIntegration, WorkflowActionInvocation
from store.tenants import create_tenant
from store.types import utcnow
from tests.executor.widgets_integration import PROVIDER, SECRET, widgets_catalog

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get(
    "PATCHBAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("PATCHBAY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
RABBITMQ_URL = os.environ.get("PATCHBAY_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672")
KEY_A, KEY_B = list(BENCH_KEYS)
ACTION_QUEUE = "patchbay.widgets"
NOOP_QUEUE = "bench"
TENANT_A, TENANT_B = "acme", "globex"
ACTION = "widgets.widgets.create"


@contextmanager
def rabbitmq_vhost() -> Iterator[str]:
    """A throwaway vhost of the local RabbitMQ (``rabbitmqctl``); yields its broker URL."""
    name = f"pbbench_{uuid.uuid4().hex[:10]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", name], check=True, timeout=120)
    subprocess.run(
        ["rabbitmqctl", "-q", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
        check=True,
        timeout=120,
    )
    try:
        yield f"{RABBITMQ_URL.rstrip('/')}/{name}"
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], timeout=120)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Bench:
    """A database schema, a Redis db and the settings shared with worker processes."""

    def __init__(
        self, tmp: Path, broker_url: str | None = None, redis_url: str | None = None
    ) -> None:
        """``redis_url``: results and the throttle (default ``REDIS_URL``); ``broker_url``:
        the broker (default the same Redis)."""
        redis_url = redis_url or REDIS_URL
        broker_url = broker_url or redis_url
        self.redis_url = redis_url
        self.schema = f"pbbench_{uuid.uuid4().hex[:10]}"
        self.admin = create_engine(POSTGRES_URL)
        with self.admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        self.database_url = (
            make_url(POSTGRES_URL)
            .update_query_dict({"options": f"-csearch_path={self.schema}"})
            .render_as_string(hide_password=False)
        )
        self.redis = redis.Redis.from_url(redis_url)
        self.redis.flushdb()
        self.tmp = tmp
        self.secret_key = "bench-secret-key-not-a-real-one"
        self.broker_url = broker_url
        self.settings = Settings(
            data_dir=tmp,
            database_url=self.database_url,
            secret_key=SecretStr(self.secret_key),
            broker_url=broker_url,
            result_backend=redis_url,
            redis_url=redis_url,
        )
        self.store = Store.from_settings(self.settings)
        db.upgrade(self.store.engine)

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PATCHBAY_DATA_DIR": str(self.tmp),
            "PATCHBAY_DATABASE_URL": self.database_url,
            "PATCHBAY_SECRET_KEY": self.secret_key,
            "PATCHBAY_BROKER_URL": self.broker_url,
            "PATCHBAY_RESULT_BACKEND": self.redis_url,
            "PATCHBAY_REDIS_URL": self.redis_url,
            "PATCHBAY_SANDBOX": "1",  # the fake vendor listens on loopback
            **extra,
        }

    def connect(self, url: str) -> None:
        with self.store.sessions.begin() as session:
            session.execute(text("DELETE FROM rmm_integrations"))
            for tenant in (TENANT_A, TENANT_B):
                if (
                    session.execute(
                        text("SELECT 1 FROM tenants WHERE tenant = :t"), {"t": tenant}
                    ).first()
                    is None
                ):
                    create_tenant(session, tenant)
                session.add(
                    RmmIntegration(
                        tenant=tenant,
                        provider=PROVIDER,
                        instance_url=url,
                        is_active=True,
                        connected_at=utcnow(),
                    )
                )
        for tenant, key in ((TENANT_A, KEY_A), (TENANT_B, KEY_B)):
            self.store.secrets.set(tenant, SECRET, key)

    def close(self) -> None:
        self.store.close()
        with self.admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
        self.admin.dispose()
        self.redis.flushdb()
        self.redis.close()


@contextmanager
def workers(
    bench: Bench, count: int, concurrency: int, pool: str = "threads", **env: str
) -> Iterator[list[subprocess.Popen[bytes]]]:
    run = uuid.uuid4().hex[:4]
    argvs = [
        [
            sys.executable,
            "-m",
            "benchmarks.executor_worker",
            f"--name=b{i}",
            f"--concurrency={concurrency}",
            f"--pool={pool}",
        ]
        for i in range(count)
    ]
    logs = [bench.tmp / f"worker-{i}-{run}.log" for i in range(count)]
    with processes(argvs, cwd=ROOT, env=bench.env(**env), logs=logs) as procs:
        yield procs


def driver(bench: Bench, limit: str | None = None) -> tuple[ExecutorRuntime, Executor]:
    runtime = ExecutorRuntime(bench.settings, widgets_catalog(limit))
    return runtime, Executor(runtime)


def wait_final(bench: Bench, keys_prefix: str, n: int, timeout: float = 600) -> None:
    """Wait until the ``n`` steps under ``keys_prefix`` are final; all must have SUCCEEDED
    (a rate of failing steps measures nothing)."""
    deadline = time.monotonic() + timeout
    row = WorkflowActionInvocation
    with bench.store.sessions() as session:
        while time.monotonic() < deadline:
            counts = session.execute(
                select(row.status, func.count())
                .where(row.idempotency_key.like(f"{keys_prefix}%"), row.completed_at.is_not(None))
                .group_by(row.status)
            )
            done: dict[str, int] = {status: count for status, count in counts}
            session.rollback()
            if sum(done.values()) == n:
                if done.get("SUCCEEDED") != n:
                    error = session.scalar(
                        select(row.error_json).where(
                            row.idempotency_key.like(f"{keys_prefix}%"), row.status != "SUCCEEDED"
                        )
                    )
                    raise RuntimeError(f"{keys_prefix}: not all succeeded: {done}; e.g. {error}")
                return
            time.sleep(0.1)
    raise TimeoutError(f"{keys_prefix}: not all {n} final")


def consume(runtime: ExecutorRuntime, queue: str, on: bool) -> None:
    """Start or stop the worker consuming ``queue`` (a control command, answered)."""
    control = runtime.app.control
    command = control.add_consumer if on else control.cancel_consumer
    if not command(queue, reply=True, timeout=30, limit=1):  # one worker: its answer
        raise RuntimeError(f"the worker did not answer {'add' if on else 'cancel'}_consumer")


def rate_between(times: list[datetime]) -> float:
    """Completions/s from the first completion to the last."""
    times = sorted(times)
    return (len(times) - 1) / (times[-1] - times[0]).total_seconds()


def worker_noop_rate(runtime: ExecutorRuntime, n: int) -> float:
    """No-op tasks/s the worker ran from a full queue (no publishing while it works)."""
    consume(runtime, NOOP_QUEUE, False)
    results = [runtime.app.send_task("bench.noop", queue=NOOP_QUEUE) for _ in range(n)]
    return baseline_rate(runtime, results)


def worker_shaped_rate(runtime: ExecutorRuntime, n: int, tag: str) -> float:
    """``bench.shaped`` tasks/s from a full queue: each sent as the executor sends a
    step (its kwargs, a tenant-scoped task id, the safe repr, its time limits)."""
    soft, hard = runtime.time_limits(PROVIDER)
    consume(runtime, NOOP_QUEUE, False)
    results = [
        runtime.app.send_task(
            "bench.shaped",
            kwargs={
                "action_id": ACTION,
                "version": 1,
                "tenant_id": TENANT_A,
                "input": {"name": f"{tag}{i}"},
                "run_id": None,
                "step_path": None,
            },
            task_id=task_id_for(TENANT_A, f"{tag}-{i}"),
            queue=NOOP_QUEUE,
            argsrepr="()",
            kwargsrepr=kwargs_repr(ACTION, 1, TENANT_A, f"{tag}-{i}"),
            soft_time_limit=soft,
            time_limit=hard,
        )
        for i in range(n)
    ]
    return baseline_rate(runtime, results)


def baseline_rate(runtime: ExecutorRuntime, results: list[AsyncResult[Any]]) -> float:
    """Let the worker consume the baseline queue; tasks/s first completion to last."""
    consume(runtime, NOOP_QUEUE, True)
    for result in results:
        # Not a task (an embedded worker in this process would make Celery think so).
        result.get(timeout=300, disable_sync_subtasks=False)
    done = [result.date_done for result in results]
    return rate_between([at for at in done if at is not None])


def worker_action_rate(
    bench: Bench, runtime: ExecutorRuntime, executor: Executor, n: int, tag: str
) -> float:
    """Actions/s the worker ran from a full queue, first completion to last (every one
    SUCCEEDED): enqueueing does not compete with it for the CPU."""
    consume(runtime, ACTION_QUEUE, False)
    for i in range(n):
        executor.enqueue(
            ACTION,
            tenant_id=TENANT_A,
            input={"name": f"{tag}{i}"},
            idempotency_key=f"{tag}-{i}",
        )
    consume(runtime, ACTION_QUEUE, True)
    wait_final(bench, f"{tag}-", n)
    row = WorkflowActionInvocation
    with bench.store.sessions() as session:
        done = session.scalars(
            select(row.completed_at).where(row.idempotency_key.like(f"{tag}-%"))
        ).all()
    return rate_between([at for at in done if at is not None])


def rss_tree_kb(pid: int) -> int:
    """RSS of a worker and its pool's children (prefork), in kB."""
    total = rss_kb(pid)
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        for child in children.read_text().split():
            try:
                total += rss_kb(int(child))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return total


def pipeline_and_memory(
    bench: Bench,
    quick: bool,
    pool: str = "threads",
    *,
    per_batch: int | None = None,
    batches: int | None = None,
) -> dict[str, Any]:
    """Actions/s through a real worker ÷ bare no-op tasks/s on it (and the Celery side of
    a step alone, ``bench.shaped``, ÷ no-ops); its memory after the first batch and after
    the last (every action must SUCCEED, or nothing is reported)."""
    # Loopback, which the sandbox's URL policy allows; the worker's in-process
    # transport answers, so nothing listens there.
    bench.connect("http://127.0.0.1:9")
    runtime, executor = driver(bench)
    per_batch = per_batch or (200 if quick else 1000)
    batches = batches or (3 if quick else 10)
    with workers(bench, 1, 4, pool, BENCH_VENDOR="inprocess") as procs:
        ready = runtime.app.send_task("bench.noop", queue=NOOP_QUEUE)
        ready.get(timeout=120, disable_sync_subtasks=False)
        worker_noop_rate(runtime, 100)
        worker_shaped_rate(runtime, 100, "warm-shaped")
        worker_action_rate(bench, runtime, executor, 100, "warm")
        rss: list[int] = []
        rates_noop: list[float] = []
        rates_shaped: list[float] = []
        rates_action: list[float] = []
        for batch in range(batches):
            rates_action.append(
                worker_action_rate(bench, runtime, executor, per_batch, f"b{batch}")
            )
            if batch == 0:
                rss.append(rss_tree_kb(procs[0].pid))
            if batch < 3:
                rates_noop.append(worker_noop_rate(runtime, per_batch))
                rates_shaped.append(worker_shaped_rate(runtime, per_batch, f"s{batch}"))
        rss.append(rss_tree_kb(procs[0].pid))
    runtime.close()
    noop = statistics.median(rates_noop)
    shaped = statistics.median(rates_shaped)
    action = statistics.median(rates_action[:3])
    return {
        "pool": pool,
        "noop_tasks_per_s": round(noop, 1),
        "shaped_tasks_per_s": round(shaped, 1),
        "actions_per_s": round(action, 1),
        "actions_over_noop": round(action / noop, 3),
        # Celery's own cost of a step's options, message and result: near 1 means
        # what separates an action from a no-op is the step's body
        "shaped_over_noop": round(shaped / noop, 3),
        # wait_final raised unless every one of them SUCCEEDED
        "actions_succeeded": 100 + per_batch * batches,
        "rss_kb_after": {str(per_batch + 100): rss[0], str(per_batch * batches + 100): rss[1]},
        "rss_ratio": round(rss[1] / rss[0], 3),
    }


def throttle_run(bench: Bench, *, shared_throttle: bool, quick: bool) -> dict[str, Any]:
    # Huntress's 60 requests per minute, time-scaled twenty-fold: 60 per 3 s.
    limit_n, window = 60, 3.0
    fake = FakeWidgets(BENCH_KEYS, rate_limit=(limit_n, window))
    server = fake.serve()
    bench.connect(server.base_url)
    limit = f"{limit_n}/{window:g}s"
    runtime, executor = driver(bench, limit)
    total = 100 if quick else 300
    env = {"BENCH_LIMIT": limit}
    if not shared_throttle:
        # Celery's per-worker rate_limit alone, set at the vendor's own limit.
        env["BENCH_NO_THROTTLE"] = "1"
        env["PATCHBAY_WORKER_CEILING_FACTOR"] = "1"
    tag = f"t{'s' if shared_throttle else 'c'}{uuid.uuid4().hex[:4]}"
    try:
        with workers(bench, 4, 2, **env):
            ready = runtime.app.send_task("bench.noop", queue=NOOP_QUEUE)
            ready.get(timeout=120, disable_sync_subtasks=False)
            fake.reset()
            for i in range(total):
                executor.enqueue(
                    ACTION,
                    tenant_id=TENANT_A,
                    input={"name": f"a{i}"},
                    idempotency_key=f"{tag}-a-{i}",
                )
            time.sleep(2.0)  # the backlog is now being worked off
            sent_at: dict[str, datetime] = {}
            for i in range(20):
                key = f"{tag}-b-{i}"
                sent_at[key] = datetime.now(UTC)
                executor.enqueue(
                    ACTION,
                    tenant_id=TENANT_B,
                    input={"name": f"b{i}"},
                    idempotency_key=key,
                )
            wait_final(bench, f"{tag}-", total + 20, timeout=900)
            waits = []
            for key, at in sent_at.items():
                row = executor.result(key, TENANT_B)
                assert row is not None and row.completed_at is not None
                waits.append((row.completed_at - at).total_seconds())
    finally:
        server.stop()
        runtime.close()
    accepted = sorted(fake.accepted_times("acct-acme"))
    attempts = [
        r.timestamp
        for r in fake.calls("POST", "/v1/widgets")
        if r.headers.get("authorization", "").endswith(KEY_A)
    ]
    span = accepted[-1] - accepted[0]
    achieved = (len(accepted) - 1) / span
    offered = (len(attempts) - 1) / (max(attempts) - min(attempts))
    waits.sort()
    return {
        "limit_per_s": limit_n / window,
        "achieved_per_s": round(achieved, 2),
        "achieved_over_limit": round(achieved / (limit_n / window), 3),
        "offered_over_limit": round(offered / (limit_n / window), 3),
        "requests_over_limit_refused_by_vendor": fake.over_limit("acct-acme"),
        "other_tenant_p95_wait_s": round(waits[int(len(waits) * 0.95) - 1], 3),
        "other_tenant_p50_wait_s": round(statistics.median(waits), 3),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument(
        "--only", choices=["pipeline", "throttle"], help="run one part of the benchmark"
    )
    parser.add_argument(
        "--broker",
        choices=["redis", "rabbitmq"],
        default="redis",
        help="the broker of the pipeline part (the throttle part needs Redis anyway)",
    )
    parser.add_argument(
        "--pool", default="threads", help="the worker pool of the pipeline part (prefork, ...)"
    )
    parser.add_argument("--redis-url", help=f"results and the throttle (default {REDIS_URL})")
    parser.add_argument("--batch", type=int, help="actions per batch of the pipeline part")
    parser.add_argument("--batches", type=int, help="batches of the pipeline part")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="pb-bench-exec-"))
    report: dict[str, Any] = {"broker": args.broker}
    with ExitStack() as stack:
        broker_url = stack.enter_context(rabbitmq_vhost()) if args.broker == "rabbitmq" else None
        bench = Bench(tmp, broker_url, args.redis_url)
        stack.callback(bench.close)
        if args.only in (None, "pipeline"):
            report["pipeline_and_memory"] = pipeline_and_memory(
                bench, args.quick, args.pool, per_batch=args.batch, batches=args.batches
            )
        if args.only in (None, "throttle") and args.broker == "redis":
            report["throttle_shared"] = throttle_run(bench, shared_throttle=True, quick=args.quick)
            report["throttle_celery_rate_limit_only"] = throttle_run(
                bench, shared_throttle=False, quick=args.quick
            )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
