"""API benchmark: the HTTP API against the library calls behind it, one run, ratios.

``patchbay serve`` runs in a process of its own (uvicorn, as in production),
on a PostgreSQL schema and a broker of the benchmark's; client threads here
send requests over loopback with keep-alive (httpx), so client and server
share no GIL. Reported, all from one run, at each client concurrency:

1. ``GET /v1/palette``: requests/s, p50 and p99, against
   ``catalog.designer.palette`` called in-process in a loop, as the route
   calls it (a session of the store, the real catalog), for the same tenant
   on the same data (tenants with a mix of connected integrations,
   ``benchmarks.palette.populate``);
2. ``POST /v1/steps`` (``tickets.create``, a fresh ``Idempotency-Key`` each)
   against ``Executor.enqueue`` in-process (same action, same input, fresh
   keys) on the same broker. No worker runs: each phase's messages are purged
   after it, and the run checks that every accepted step has its ledger row
   and that nothing is left queued.

Ratios are HTTP / in-process: requests/s below 1 and latencies above 1 are
what the HTTP stack costs. The in-process baselines run on one thread. Each
phase also reports the CPU it used, in cores, of the server process and of
this one (the clients, or the library calls): clients near one core would mean
the figures are the client's limit rather than the server's.

Run: ``./dev bench api`` (about a minute: six phases of ``--seconds 10``;
``--concurrency 1,4``; ``--requests N``: N requests per client per phase
instead of a duration; ``--broker rabbitmq``: a throwaway vhost of the local
RabbitMQ; ``--json``). Needs PostgreSQL and Redis as the tests do
(``PATCHBAY_TEST_POSTGRES_URL``, ``PATCHBAY_BENCH_REDIS_URL``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from benchmarks.palette import POSTGRES_URL, populate
from benchmarks.processes import stop_processes
from catalog.designer import palette
from executor.api import Executor
from executor.app import ExecutorRuntime
from executor.settings import Settings
from executor.wire import queue_name
from store import db
from store.models import WorkflowActionInvocation
from store.tokens import create_token
from tests.api.support import free_port

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("PATCHBAY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
# A core action: it passes validation with no vendor connected.
ACTION = "tickets.create"
TICKET = {"title": "Disk full on SRV-DC01", "priority": "high"}
IN_PROCESS_OK = "ok"

# One request: its number on its client (warm-up requests first) -> an outcome
# ("200", "202", "ok" in-process, or the exception's type name).
Send = Callable[[int], str]
# A client: opened once per thread, closed when the phase is over.
Client = Callable[[int], AbstractContextManager[Send]]


@dataclass(frozen=True)
class Options:
    """What a run measures and for how long."""

    seconds: float = 10.0
    requests: int | None = None
    concurrency: tuple[int, ...] = (1, 4)
    warmup: int = 50
    tenants: int = 100
    broker: str = "redis"
    redis_url: str = REDIS_URL


@dataclass(frozen=True)
class Measured:
    """One phase: requests counted, their outcomes, latency and the CPU it took."""

    concurrency: int
    requests: int
    seconds: float
    latencies_ms: list[float]
    outcomes: dict[str, int]
    warmup_outcomes: dict[str, int]
    expected: str
    client_cpu: float
    server_cpu: float | None

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def answered_as_expected(self) -> int:
        """Requests, warm-up ones too, answered as expected."""
        return self.outcomes.get(self.expected, 0) + self.warmup_outcomes.get(self.expected, 0)

    @property
    def unexpected(self) -> int:
        """Requests, warm-up ones too, answered otherwise (or raising)."""
        total = self.requests + sum(self.warmup_outcomes.values())
        return total - self.answered_as_expected

    def percentile(self, q: float) -> float:
        """The nearest-rank ``q`` percentile latency, in ms."""
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))]

    def summary(self) -> dict[str, Any]:
        return {
            "concurrency": self.concurrency,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.per_second, 1),
            "p50_ms": round(self.percentile(0.50), 3),
            "p99_ms": round(self.percentile(0.99), 3),
            "outcomes": self.outcomes,
            "warmup_requests": sum(self.warmup_outcomes.values()),
            "unexpected": self.unexpected,
            "client_cpu_cores": round(self.client_cpu, 2),
            "server_cpu_cores": None if self.server_cpu is None else round(self.server_cpu, 2),
        }


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of process ``pid`` (all its threads), or None off Linux."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command: state is field 3, utime 14 and stime 15 (man 5 proc).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive(
    client: Client,
    options: Options,
    *,
    concurrency: int,
    expected: str,
    server_pid: int | None = None,
) -> Measured:
    """Run ``concurrency`` client threads, each for ``options.seconds`` or ``.requests``.

    Each client first sends ``options.warmup`` requests, not counted; the clock
    starts when every client is warm.
    """
    seconds, requests, warmup = options.seconds, options.requests, options.warmup
    ready = threading.Barrier(concurrency + 1)
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    outcomes: list[Counter[str]] = [Counter() for _ in range(concurrency)]
    warm: list[Counter[str]] = [Counter() for _ in range(concurrency)]
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            with client(index) as send:
                for i in range(warmup):
                    warm[index][send(i)] += 1
                ready.wait()
                deadline = time.perf_counter() + seconds
                mine, counts = latencies[index], outcomes[index]

                def more() -> bool:
                    if requests is not None:
                        return len(mine) < requests
                    return time.perf_counter() < deadline

                n = warmup
                while more():
                    start = time.perf_counter()
                    try:
                        outcome = send(n)
                    except Exception as exc:  # counted: a benchmark reports, it does not stop
                        outcome = type(exc).__name__
                    mine.append((time.perf_counter() - start) * 1000)
                    counts[outcome] += 1
                    n += 1
        except BaseException as exc:
            failures.append(exc)
            ready.abort()

    threads = [
        threading.Thread(target=run, args=(i,), name=f"bench-client-{i}", daemon=True)
        for i in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    with suppress(threading.BrokenBarrierError):
        ready.wait()
    started, cpu, server_before = time.perf_counter(), time.process_time(), _cpu(server_pid)
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise failures[0]
    server_after = _cpu(server_pid)
    total: Counter[str] = sum(outcomes, Counter())
    return Measured(
        concurrency=concurrency,
        requests=sum(total.values()),
        seconds=elapsed,
        latencies_ms=[ms for mine in latencies for ms in mine],
        outcomes=dict(sorted(total.items())),
        warmup_outcomes=dict(sum(warm, Counter())),
        expected=expected,
        client_cpu=(time.process_time() - cpu) / elapsed,
        server_cpu=None
        if server_before is None or server_after is None
        else (server_after - server_before) / elapsed,
    )


def _cpu(pid: int | None) -> float | None:
    return None if pid is None else cpu_seconds(pid)


@dataclass
class Stack:
    """The benchmark's database schema, broker, runtime, tenant and token."""

    schema: str
    database_url: str
    broker_url: str
    redis_url: str
    tmp: Path
    secret_key: str
    runtime: ExecutorRuntime
    executor: Executor
    tenant: str
    token: str
    queue: str

    def env(self) -> dict[str, str]:
        """``patchbay serve``'s environment: this stack's settings."""
        return {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PATCHBAY_DATA_DIR": str(self.tmp / "server"),
            "PATCHBAY_DATABASE_URL": self.database_url,
            "PATCHBAY_SECRET_KEY": self.secret_key,
            "PATCHBAY_BROKER_URL": self.broker_url,
            "PATCHBAY_RESULT_BACKEND": self.redis_url,
            "PATCHBAY_REDIS_URL": self.redis_url,
        }

    def queued(self) -> int | None:
        """Messages waiting in the action's queue."""
        return self.executor.queue_depth(self.queue)

    def settled_depth(self, expected: int, timeout: float = 5.0) -> int | None:
        """The queue's depth once it holds ``expected`` messages, or after ``timeout``.

        A message published without confirms may reach the queue a moment late.
        """
        deadline = time.monotonic() + timeout
        depth = self.queued()
        while depth != expected and time.monotonic() < deadline:
            time.sleep(0.05)
            depth = self.queued()
        return depth

    def purge(self) -> int | None:
        """Empty the action's queue; returns what is left in it (None: cannot tell)."""
        if self.queued() != 0:
            with self.runtime.app.connection_for_write() as conn:
                channel: Any = conn.default_channel
                channel.queue_purge(self.queue)
        return self.queued()

    def ledger_rows(self, prefix: str) -> int:
        """Ledger rows whose key starts with ``prefix``."""
        with self.runtime.store.sessions() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(WorkflowActionInvocation)
                    .where(WorkflowActionInvocation.idempotency_key.startswith(prefix))
                )
                or 0
            )


@contextmanager
def stack(options: Options) -> Iterator[Stack]:
    """A schema filled with ``options.tenants`` tenants, a runtime on the broker, a token."""
    with ExitStack() as cleanup:
        broker_url = options.redis_url
        if options.broker == "rabbitmq":
            from benchmarks.executor import rabbitmq_vhost

            broker_url = cleanup.enter_context(rabbitmq_vhost())
        tmp = Path(tempfile.mkdtemp(prefix="pb-bench-api-"))
        cleanup.callback(shutil.rmtree, tmp, ignore_errors=True)
        schema = f"pbbench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(POSTGRES_URL)
        cleanup.callback(admin.dispose)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))

        def drop_schema() -> None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))

        cleanup.callback(drop_schema)
        database_url = (
            make_url(POSTGRES_URL)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
        engine = db.make_engine(database_url)
        try:
            db.upgrade(engine)
            tenant = populate(engine, options.tenants)
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        finally:
            engine.dispose()
        secret_key = "bench-secret-key-not-a-real-one"
        settings = Settings(
            data_dir=tmp / "bench",
            database_url=database_url,
            secret_key=SecretStr(secret_key),
            broker_url=broker_url,
            result_backend=options.redis_url,
            redis_url=options.redis_url,
        )
        runtime = ExecutorRuntime(settings)
        cleanup.callback(runtime.close)
        with runtime.store.sessions.begin() as session:
            token, _ = create_token(session, tenant, "run", "benchmark")
        pipeline = runtime.pipeline
        queue = queue_name(pipeline.provider_of(pipeline.resolve(ACTION, None)))
        bench = Stack(
            schema=schema,
            database_url=database_url,
            broker_url=broker_url,
            redis_url=options.redis_url,
            tmp=tmp,
            secret_key=secret_key,
            runtime=runtime,
            executor=Executor(runtime),
            tenant=tenant,
            token=token,
            queue=queue,
        )
        bench.purge()
        cleanup.callback(bench.purge)
        yield bench


@dataclass(frozen=True)
class Server:
    """``patchbay serve`` running in a process of its own."""

    base_url: str
    pid: int


@contextmanager
def serving(bench: Stack) -> Iterator[Server]:
    """``patchbay serve`` on a free loopback port until the block ends."""
    port = free_port()
    log_path = bench.tmp / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "patchbay", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=bench.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_ready(proc, base_url, log_path)
            yield Server(base_url, proc.pid)
        finally:
            stop_processes([proc])


def _wait_ready(proc: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"patchbay serve exited {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/openapi.json", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"patchbay serve did not answer within 60 s:\n{log.read_text()}")


# -- the four kinds of client ------------------------------------------------------------


def palette_in_process(bench: Stack) -> Client:
    """``catalog.designer.palette`` as ``GET /v1/palette`` calls it."""
    runtime = bench.runtime

    @contextmanager
    def client(_index: int) -> Iterator[Send]:
        def send(_n: int) -> str:
            with runtime.store.sessions() as session:
                palette(runtime.catalog, session, bench.tenant)
            return IN_PROCESS_OK

        yield send

    return client


def enqueue_in_process(bench: Stack, tag: str) -> Client:
    """``Executor.enqueue`` of the action, a fresh key each."""

    @contextmanager
    def client(index: int) -> Iterator[Send]:
        def send(n: int) -> str:
            handle = bench.executor.enqueue(
                ACTION, tenant_id=bench.tenant, input=TICKET, idempotency_key=f"{tag}-{index}-{n}"
            )
            return IN_PROCESS_OK if handle.sent and not handle.replayed else "not sent"

        yield send

    return client


@contextmanager
def _http(server: Server, bench: Stack) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {bench.token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as http:
        yield http


def palette_over_http(bench: Stack, server: Server) -> Client:
    """``GET /v1/palette`` on a keep-alive connection per client."""

    @contextmanager
    def client(_index: int) -> Iterator[Send]:
        with _http(server, bench) as http:

            def send(_n: int) -> str:
                return str(http.get("/v1/palette").status_code)

            yield send

    return client


def steps_over_http(bench: Stack, server: Server, tag: str) -> Client:
    """``POST /v1/steps`` of the action, a fresh ``Idempotency-Key`` each."""
    body = {"action_id": ACTION, "input": TICKET}

    @contextmanager
    def client(index: int) -> Iterator[Send]:
        with _http(server, bench) as http:

            def send(n: int) -> str:
                headers = {"Idempotency-Key": f"{tag}-{index}-{n}"}
                return str(http.post("/v1/steps", json=body, headers=headers).status_code)

            yield send

    return client


# -- the run -------------------------------------------------------------------------------


def ratios(http: Measured, baseline: Measured) -> dict[str, float]:
    """HTTP / in-process: requests/s, p50 and p99."""
    return {
        "per_second": round(http.per_second / baseline.per_second, 3),
        "p50": round(http.percentile(0.50) / baseline.percentile(0.50), 2),
        "p99": round(http.percentile(0.99) / baseline.percentile(0.99), 2),
    }


def run(options: Options) -> dict[str, Any]:
    """Every phase on one stack and one server; the report (see ``format_table``)."""
    run_tag = uuid.uuid4().hex[:8]
    sent = queued = 0
    left: list[int | None] = []

    def steps_phase(client: Client, concurrency: int, expected: str, pid: int | None) -> Measured:
        """One phase of enqueueing; then its messages are counted in the queue and purged."""
        nonlocal sent, queued
        measured = drive(
            client, options, concurrency=concurrency, expected=expected, server_pid=pid
        )
        sent += measured.answered_as_expected
        queued += bench.settled_depth(measured.answered_as_expected) or 0
        left.append(bench.purge())
        return measured

    with stack(options) as bench, serving(bench) as server:
        # The library first, then the server; each is warmed up by its own first requests.
        palette_base = drive(
            palette_in_process(bench), options, concurrency=1, expected=IN_PROCESS_OK
        )
        palette_http = {
            c: drive(
                palette_over_http(bench, server),
                options,
                concurrency=c,
                expected="200",
                server_pid=server.pid,
            )
            for c in options.concurrency
        }
        steps_base = steps_phase(enqueue_in_process(bench, f"{run_tag}-e"), 1, IN_PROCESS_OK, None)
        steps_http = {
            c: steps_phase(steps_over_http(bench, server, f"{run_tag}-h{c}"), c, "202", server.pid)
            for c in options.concurrency
        }
        recorded = bench.ledger_rows(f"{run_tag}-")
    return {
        "settings": {
            "action": ACTION,
            "broker": options.broker,
            "tenants": options.tenants,
            "concurrency": list(options.concurrency),
            "seconds": options.seconds,
            "requests": options.requests,
            "warmup": options.warmup,
        },
        "palette": {
            "in_process": palette_base.summary(),
            "http": {str(c): m.summary() for c, m in palette_http.items()},
            "http_over_in_process": {
                str(c): ratios(m, palette_base) for c, m in palette_http.items()
            },
        },
        "steps": {
            "in_process": steps_base.summary(),
            "http": {str(c): m.summary() for c, m in steps_http.items()},
            "http_over_in_process": {str(c): ratios(m, steps_base) for c, m in steps_http.items()},
            # Every step accepted (warm-up ones too): its ledger row and its message.
            "accepted": sent,
            "ledger_rows": recorded,
            "queued_before_purge": queued,
            # After each phase's purge: None when the broker could not tell.
            "left_queued": None if None in left else max(n or 0 for n in left),
        },
        "schema": bench.schema,
    }


def format_table(report: dict[str, Any]) -> str:
    """The report as a table, then the ratios."""
    head = (
        f"{'':28} {'clients':>7} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'unexp.':>6} {'srv cpu':>7} {'cli cpu':>7}"
    )
    lines = [head, "-" * len(head)]

    def row(label: str, m: dict[str, Any]) -> None:
        server = "-" if m["server_cpu_cores"] is None else f"{m['server_cpu_cores']:.2f}"
        lines.append(
            f"{label:28} {m['concurrency']:>7} {m['requests']:>9} {m['per_second']:>9.1f} "
            f"{m['p50_ms']:>8.2f} {m['p99_ms']:>8.2f} {m['unexpected']:>6} {server:>7} "
            f"{m['client_cpu_cores']:>7.2f}"
        )

    ratio_lines = []
    for part, base_label, http_label in (
        ("palette", "palette() in-process", "GET /v1/palette"),
        ("steps", "Executor.enqueue in-process", "POST /v1/steps"),
    ):
        section = report[part]
        row(base_label, section["in_process"])
        for c, m in section["http"].items():
            row(http_label, m)
            r = section["http_over_in_process"][c]
            ratio_lines.append(
                f"{http_label:16} / {base_label:28} clients {c:>2}: req/s x{r['per_second']:.3f}"
                f"  p50 x{r['p50']:.2f}  p99 x{r['p99']:.2f}"
            )
    steps = report["steps"]
    settings = report["settings"]
    return "\n".join(
        [
            f"action {settings['action']}, broker {settings['broker']}, "
            f"{settings['tenants']} tenants; in-process baselines on one thread",
            "",
            *lines,
            "",
            "HTTP / in-process:",
            *ratio_lines,
            "",
            f"steps accepted {steps['accepted']} (warm-up ones too): ledger rows "
            f"{steps['ledger_rows']}, messages queued {steps['queued_before_purge']}, "
            f"left queued after purging {steps['left_queued']}",
        ]
    )


def _concurrency(value: str) -> tuple[int, ...]:
    levels = tuple(int(v) for v in value.split(",") if v.strip())
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("client counts, at least 1 each: e.g. 1,4")
    return levels


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="per phase (default 10)")
    parser.add_argument("--requests", type=int, help="per client per phase, instead of --seconds")
    parser.add_argument(
        "--concurrency",
        type=_concurrency,
        default=(1, 4),
        help="HTTP client threads, one phase each (default 1,4)",
    )
    parser.add_argument(
        "--warmup", type=int, default=50, help="requests per client before the clock starts"
    )
    parser.add_argument("--tenants", type=int, default=100, help="tenants in the database")
    parser.add_argument("--broker", choices=["redis", "rabbitmq"], default="redis")
    parser.add_argument("--redis-url", default=REDIS_URL, help="broker (redis), results, throttle")
    parser.add_argument("--json", action="store_true", help="the report as JSON")
    args = parser.parse_args(argv)
    report = run(
        Options(
            seconds=args.seconds,
            requests=args.requests,
            concurrency=args.concurrency,
            warmup=args.warmup,
            tenants=args.tenants,
            broker=args.broker,
            redis_url=args.redis_url,
        )
    )
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0 if well_formed(report) else 1


def well_formed(report: dict[str, Any]) -> bool:
    """Every request answered as expected, every step recorded and queued, none left."""
    phases = [report["palette"]["in_process"], report["steps"]["in_process"]]
    phases += [*report["palette"]["http"].values(), *report["steps"]["http"].values()]
    steps = report["steps"]
    ratio_values = [
        value
        for part in ("palette", "steps")
        for by_clients in report[part]["http_over_in_process"].values()
        for value in by_clients.values()
    ]
    return (
        all(m["unexpected"] == 0 and m["requests"] > 0 for m in phases)
        and steps["accepted"] == steps["ledger_rows"] == steps["queued_before_purge"]
        and steps["left_queued"] == 0
        and all(math.isfinite(r) and r > 0 for r in ratio_values)
    )


if __name__ == "__main__":
    sys.exit(main())
