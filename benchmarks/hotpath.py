"""The executor's hot path, counted: SQL round trips per step by kind, and where a step's CPU goes.

In-process (no broker, no worker process), on PostgreSQL, against the fake
Widgets vendor's in-process transport, so what is measured is the pipeline
itself: claim, availability, the handler's connection and secret reads, the
dispatched mark, the outcome.

1. Round trips per step, warm (the tenant's connection and secrets already
   remembered by this process) and cold (right after a change to them), for
   each kind: a read-only step, a side-effectful one, a waiting step's
   re-check, a replayed duplicate of a finished step.
2. Steps/s in-process for read-only and side-effectful steps (one thread).
3. A CPU profile of the side-effectful steps, summed by package (SQLAlchemy,
   psycopg, pydantic, httpx, the executor, ...) with the top functions.
4. The floor: CPU per side-effectful step beside the CPU of its bare parts,
   interleaved in one run: the step's own statements and parameters sent by
   psycopg on a held connection, its vendor request sent by a prebuilt httpx
   client, and (for scale) as many bare ``SELECT 1`` round trips. What the
   pipeline could still cut is the step minus its floor.

Run: ``./dev bench hotpath [--steps N] [--json]`` (about half a minute).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from executor.pipeline import Finished, Pipeline
from executor.settings import Settings
from executor.throttle import MemoryThrottle, Throttle
from executor.wire import TaskRequest
from sandbox.core import ManualClock
from sandbox.widgets import FakeWidgets
from store import Store, db
from store.tenants import create_tenant
from tests.executor.conftest import DateClock, connect_widgets
from tests.executor.widgets_integration import PROVIDER, widgets_catalog

POSTGRES_URL = os.environ.get(
    "PATCHBAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TENANT = "acme"
KEY = "wk-bench-hotpath-key"
KINDS = ("read-only", "side-effectful", "waiting re-check", "replayed duplicate")


@contextmanager
def schema() -> Iterator[str]:
    """A throwaway PostgreSQL schema; its database URL."""
    name = f"pbhot_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield (
            make_url(POSTGRES_URL)
            .update_query_dict({"options": f"-csearch_path={name}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


class Counted:
    """SQL statements sent through ``engine``, while counting (``sent``: with their
    parameters as the driver got them)."""

    def __init__(self, store: Store) -> None:
        self.statements: list[str] = []
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self._on = False
        event.listen(store.engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if self._on:
            self.statements.append(" ".join(statement.split()[:3]))
            self.sent.append((statement, dict(params)))

    @contextmanager
    def counting(self) -> Iterator[list[str]]:
        self.statements = []
        self.sent = []
        self._on = True
        try:
            yield self.statements
        finally:
            self._on = False


class HotPath:
    """A pipeline on its own schema, a connected tenant, the fake vendor in-process."""

    def __init__(self, database_url: str, tmp: Path) -> None:
        self.clock = ManualClock()
        self.fake = FakeWidgets({KEY: "acct-acme"}, clock=self.clock, job_duration=5.0)
        settings = Settings(
            data_dir=tmp,
            database_url=database_url,
            secret_key=SecretStr("bench-hotpath-not-a-real-key"),
            broker_url="memory://",
        )
        self.store = Store.from_settings(settings)
        db.upgrade(self.store.engine)
        connect_widgets(self.store, TENANT, KEY)
        # The pipeline as a worker builds it, on the fake's clock (waits are exact).
        self.pipeline = Pipeline(
            catalog=widgets_catalog(),
            store=self.store,
            settings=settings,
            throttle=Throttle(MemoryThrottle(clock=self.clock), {}, max_wait=0.0),
            transports={PROVIDER: self.fake.transport()},
            clock=DateClock(self.clock),
        )
        self.counted = Counted(self.store)
        self._n = 0

    def task(self, action: str, data: dict[str, Any], key: str | None = None) -> TaskRequest:
        self._n += 1
        return TaskRequest(
            key=key or f"k-{self._n}",
            action_id=f"widgets.{action}",
            version=1,
            tenant_id=TENANT,
            input=data,
            provider=PROVIDER,
        )

    def run(self, req: TaskRequest) -> Any:
        return self.pipeline.execute(req)

    def finished(self, req: TaskRequest) -> Finished:
        outcome = self.run(req)
        if not isinstance(outcome, Finished) or outcome.row.status != "SUCCEEDED":
            raise RuntimeError(f"{req.action_id} did not succeed: {outcome!r}")
        return outcome

    def widget(self) -> str:
        done = self.finished(self.task("widgets.create", {"name": f"w{self._n}"}))
        assert done.row.output is not None
        return str(done.row.output["widget_id"])

    def change_config(self) -> None:
        """A write to the tenant's secrets: its configuration version moves."""
        self.store.secrets.set(TENANT, "bench_unrelated", SecretStr(uuid.uuid4().hex))

    def kinds(self, widget: str) -> dict[str, Callable[[], Any]]:
        """Each kind of step, ready to run once (each call a fresh step)."""

        def read() -> Any:
            return self.finished(self.task("widgets.get", {"widget_id": widget}))

        def write() -> Any:
            return self.finished(self.task("widgets.create", {"name": "bench"}))

        def recheck() -> Any:
            job = self.task("jobs.run", {"duration": 5, "check_every": 2})
            self.run(job)  # starts the job, answers Pending: WAITING
            self.clock.advance(2)
            with self.counted.counting() as seen:
                self.run(replace(job, redeliveries=1))
            return seen

        duplicate_of = self.task("widgets.create", {"name": "dup"})
        self.finished(duplicate_of)

        def replay() -> Any:
            return self.run(duplicate_of)

        return {
            "read-only": read,
            "side-effectful": write,
            "waiting re-check": recheck,
            "replayed duplicate": replay,
        }

    def round_trips(self, widget: str, *, cold: bool) -> dict[str, int]:
        counts: dict[str, int] = {}
        for kind, step in self.kinds(widget).items():
            if cold:
                self.change_config()
            else:
                self.finished(self.task("widgets.get", {"widget_id": widget}))  # warm it
            if kind == "waiting re-check":
                counts[kind] = len(step())
                continue
            with self.counted.counting() as seen:
                step()
            counts[kind] = len(seen)
        return counts

    def rate(self, step: Callable[[], Any], n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            step()
        return n / (time.perf_counter() - started)

    def close(self) -> None:
        self.pipeline.close()
        self.store.close()


def area(filename: str) -> str:
    """The package a profiled function lives in (site-packages' top level, or ours)."""
    parts = Path(filename).parts
    if "site-packages" in parts:
        top = parts[parts.index("site-packages") + 1]
        return top.split(".")[0].removesuffix(".py")
    for ours in ("executor", "actionkit", "catalog", "store", "sandbox", "tests"):
        if ours in parts:
            return ours
    if filename.startswith("<") or "python3" in filename:
        return "stdlib"
    return "other"


def profile(hot: HotPath, n: int) -> dict[str, Any]:
    """Where the CPU of ``n`` side-effectful steps goes: by package, and the top functions."""
    step = hot.kinds(hot.widget())["side-effectful"]
    profiler = cProfile.Profile(time.process_time)  # CPU, not waiting on the database
    profiler.enable()
    for _ in range(n):
        step()
    profiler.disable()
    stats = pstats.Stats(profiler)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values()) or 1.0
    by_area: Counter[str] = Counter()
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        by_area[area(filename)] += tottime
    top = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:12]
    return {
        "cpu_ms_per_step": round(1000 * total / n, 3),
        "by_package": {k: round(100 * v / total, 1) for k, v in by_area.most_common(12)},
        "top_functions": [
            {
                "function": f"{area(f)}:{Path(f).name}:{line}:{name}",
                "self_ms_per_step": round(1000 * t[2] / n, 3),
                "calls_per_step": round(t[1] / n, 1),
            }
            for (f, line, name), t in top
        ],
    }


class Recording(httpx.BaseTransport):
    """A transport that keeps the requests it passes on (their bodies read)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.inner.handle_request(request)


class Floor:
    """What a side-effectful step cannot do without, done bare: its own statements with
    its own parameters, sent by psycopg on one connection held in autocommit, and its
    vendor request sent by one prebuilt httpx client to the same transport.

    One step is recorded (statements as the driver got them, the vendor request);
    each replay gives the statements a fresh key and invocation id, so each inserts
    and finishes a row of its own, as a step does.
    """

    def __init__(self, hot: HotPath, step: Callable[[], Any]) -> None:
        transport = hot.pipeline.transports[PROVIDER]
        recording = Recording(transport)
        hot.pipeline.transports[PROVIDER] = recording
        try:
            with hot.counted.counting():
                done: Finished = step()
            self.sent = list(hot.counted.sent)
        finally:
            hot.pipeline.transports[PROVIDER] = transport
        if len(recording.requests) != 1 or not self.sent:
            raise RuntimeError("a side-effectful step makes one vendor request and statements")
        row = done.row
        # Which parameters carry the step's identity (replaced on each replay).
        self._keys = [
            [name for name, value in params.items() if value == row.key] for _, params in self.sent
        ]
        self._ids = [
            [name for name, value in params.items() if value == row.invocation_id]
            for _, params in self.sent
        ]
        self._request = recording.requests[0]
        self._client = httpx.Client(transport=transport)
        self._fairy = hot.store.engine.raw_connection()
        conn = self._fairy.driver_connection
        assert conn is not None
        conn.autocommit = True
        self._conn: Any = conn
        self._n = 0

    def statements(self) -> None:
        self._n += 1
        key, invocation = f"floor-{self._n}", uuid.uuid4()
        for (sql, params), keys, ids in zip(self.sent, self._keys, self._ids, strict=True):
            values = dict(params)
            for name in keys:
                values[name] = key
            for name in ids:
                values[name] = invocation
            with self._conn.cursor() as cursor:
                cursor.execute(sql, values)
                if cursor.rowcount != 1:  # each one writes its row, as in the step
                    raise RuntimeError(f"a replayed statement wrote {cursor.rowcount} rows")
                if cursor.pgresult is not None and cursor.pgresult.ntuples:
                    cursor.fetchone()

    def request(self) -> None:
        sent = self._request
        response = self._client.request(
            sent.method, sent.url, headers=sent.headers, content=sent.content
        )
        response.json()

    def round_trips(self) -> None:
        """As many round trips as the step makes, carrying nothing (``SELECT 1``)."""
        for _ in self.sent:
            with self._conn.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()

    def close(self) -> None:
        # The client is not closed: its transport is the pipeline's, still in use.
        self._conn.autocommit = False
        self._fairy.close()


def floor(hot: HotPath, n: int) -> dict[str, Any]:
    """CPU per side-effectful step beside the CPU of its bare parts, interleaved in
    blocks so the machine's drift falls on all alike."""
    step = hot.kinds(hot.widget())["side-effectful"]
    bare = Floor(hot, step)
    parts: dict[str, Callable[[], Any]] = {
        "step": step,
        "statements": bare.statements,
        "request": bare.request,
        "round_trips": bare.round_trips,
    }
    spent = dict.fromkeys(parts, 0.0)
    block = 50
    try:
        for _ in range(max(1, n // block)):
            for name, run in parts.items():
                started = time.process_time()
                for _ in range(block):
                    run()
                spent[name] += time.process_time() - started
    finally:
        bare.close()
    steps = max(1, n // block) * block
    ms = {name: 1000 * total / steps for name, total in spent.items()}
    return {
        "statements_per_step": len(bare.sent),
        "step_cpu_ms": round(ms["step"], 3),
        "statements_cpu_ms": round(ms["statements"], 3),
        "request_cpu_ms": round(ms["request"], 3),
        "bare_round_trips_cpu_ms": round(ms["round_trips"], 3),
        "floor_over_step": round((ms["statements"] + ms["request"]) / ms["step"], 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500, help="steps per rate and profile")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    with schema() as url, tempfile.TemporaryDirectory() as tmp:
        hot = HotPath(url, Path(tmp))
        try:
            with hot.store.sessions.begin() as session:
                create_tenant(session, "globex")  # a second tenant in the tables
            widget = hot.widget()
            results: dict[str, Any] = {
                "round_trips_warm": hot.round_trips(widget, cold=False),
                "round_trips_cold": hot.round_trips(widget, cold=True),
            }
            kinds = hot.kinds(widget)
            results["steps_per_s"] = {
                kind: round(hot.rate(kinds[kind], args.steps), 1)
                for kind in ("read-only", "side-effectful")
            }
            results["profile"] = profile(hot, args.steps)
            results["floor"] = floor(hot, args.steps)
        finally:
            hot.close()
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print("SQL round trips per step (warm = the tenant's connection and secrets remembered)")
    for kind in KINDS:
        warm, cold = results["round_trips_warm"][kind], results["round_trips_cold"][kind]
        print(f"  {kind:<20} warm {warm}   after a config change {cold}")
    print("steps/s in-process, one thread: " + ", ".join(
        f"{k} {v}" for k, v in results["steps_per_s"].items()
    ))  # fmt: skip
    prof = results["profile"]
    print(f"CPU per side-effectful step: {prof['cpu_ms_per_step']} ms, by package:")
    for name, share in prof["by_package"].items():
        print(f"  {name:<14} {share:5.1f} %")
    print("top functions (self time per step):")
    for row in prof["top_functions"]:
        print(f"  {row['self_ms_per_step']:7.3f} ms  x{row['calls_per_step']:<6} {row['function']}")
    bare = results["floor"]
    print(
        f"CPU per side-effectful step {bare['step_cpu_ms']} ms; its bare parts: "
        f"{bare['statements_per_step']} statements {bare['statements_cpu_ms']} ms "
        f"(as many SELECT 1: {bare['bare_round_trips_cpu_ms']} ms), "
        f"the vendor request {bare['request_cpu_ms']} ms; "
        f"floor / step {bare['floor_over_step']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
