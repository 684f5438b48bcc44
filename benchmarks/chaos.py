"""Chaos run: side-effectful steps through four prefork workers while workers are killed.

Real broker (Redis by default, ``--broker rabbitmq`` for RabbitMQ), real
PostgreSQL, real worker processes (``tests.e2e.worker``, prefork), the fake
widgets vendor over HTTP with a short delay on every create (so kills land
mid-request). Every few seconds a whole worker (parent and children) is sent
SIGKILL and a fresh one started. The broker's visibility timeout stays at its
two-hour default: only the ledger sweeper brings a killed worker's steps back.

Reported (one run):
- steps lost: accepted by ``enqueue`` but not final when the run ends;
- keys with two vendor calls (must be 0);
- SUCCEEDED / OUTCOME_UNKNOWN counts (OUTCOME_UNKNOWN = in flight at a kill);
- seconds from the last kill to every step final (it includes working off
  the steps still queued then, also reported), and that time divided by
  lease + sweep interval (the bound the sweeper promises, before queueing).

Run: ``./dev bench chaos`` (about three minutes; ``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from benchmarks.executor import ROOT, TENANT_A, Bench, driver
from sandbox.core import Fault
from sandbox.widgets import FakeWidgets
from store.models import WorkflowActionInvocation
from tests.e2e.conftest import kill_tree

LEASE, SWEEP, REDRIVE = 5.0, 2.0, 10.0


class Worker:
    def __init__(self, bench: Bench, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.log = (bench.tmp / f"{name}.log").open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.e2e.worker",
                f"--name={name}",
                "--pool=prefork",
                "--concurrency=2",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def ready(self) -> bool:
        self.log.flush()
        return b" ready." in Path(self.log.name).read_bytes()

    def kill(self) -> None:
        kill_tree(self.proc.pid)
        self.proc.wait(10)
        self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


def rabbitmq_vhost() -> tuple[str, str]:
    vhost = f"pbchaos_{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True)
    subprocess.run(
        ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        check=True,
    )
    return vhost, f"amqp://guest:guest@127.0.0.1:5672/{vhost}"


def final_count(bench: Bench, tag: str) -> int:
    with bench.store.sessions() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(WorkflowActionInvocation)
                .where(
                    WorkflowActionInvocation.idempotency_key.like(f"{tag}-%"),
                    WorkflowActionInvocation.completed_at.is_not(None),
                )
            )
            or 0
        )


def chaos(
    bench: Bench, *, steps: int, kills: int, kill_every: float, broker_url: str
) -> dict[str, Any]:
    fake = FakeWidgets({"bench-key-acme-0001": "acct-acme", "bench-key-globex-002": "x"})
    fake.inject(Fault(delay=0.3), method="POST", path="/v1/widgets", times=None)
    server = fake.serve()
    bench.connect(server.base_url)
    settings = bench.settings.model_copy(
        update={"broker_url": broker_url, "lease_seconds": LEASE, "visibility_timeout": 7200}
    )
    bench.settings = settings
    runtime, executor = driver(bench)
    env = bench.env(
        PATCHBAY_BROKER_URL=broker_url,
        PATCHBAY_LEASE_SECONDS=str(LEASE),
        PATCHBAY_SWEEP_INTERVAL=str(SWEEP),
        PATCHBAY_REDRIVE_AFTER=str(REDRIVE),
        PATCHBAY_VISIBILITY_TIMEOUT="7200",
    )
    rng = random.Random(7)
    tag = f"chaos{uuid.uuid4().hex[:6]}"
    workers = [Worker(bench, f"c{i}", env) for i in range(4)]
    accepted: list[str] = []
    try:
        for i in range(steps):
            accepted.append(
                executor.enqueue(
                    "widgets.widgets.create",
                    tenant_id=TENANT_A,
                    input={"name": f"{tag}-{i}"},
                    idempotency_key=f"{tag}-{i}",
                ).key
            )
        killed = 0
        last_kill = time.monotonic()
        open_at_last_kill = steps
        while killed < kills and final_count(bench, tag) < steps:
            time.sleep(kill_every * (0.5 + rng.random()))
            ready = [i for i, w in enumerate(workers) if w.ready()]
            if not ready:
                continue
            victim = rng.choice(ready)
            workers[victim].kill()
            last_kill = time.monotonic()
            open_at_last_kill = steps - final_count(bench, tag)
            killed += 1
            workers[victim] = Worker(bench, f"c{victim}-{killed}", env)
        deadline = time.monotonic() + 600
        while final_count(bench, tag) < steps and time.monotonic() < deadline:
            time.sleep(0.1)
        settled = time.monotonic() - last_kill
    finally:
        for worker in workers:
            worker.stop()
        server.stop()
        runtime.close()
    names = collections.Counter(c.body["name"] for c in fake.calls("POST", "/v1/widgets"))
    statuses: collections.Counter[str] = collections.Counter()
    lost = 0
    for key in accepted:
        result = executor.result(key, TENANT_A)
        if result is None or not result.final:
            lost += 1
            continue
        code = result.error["code"] if result.error else None
        statuses[result.status if code is None else f"{result.status}:{code}"] += 1
    return {
        "steps_accepted": len(accepted),
        "kills": killed,
        "steps_lost": lost,
        "keys_with_two_vendor_calls": sum(1 for n in names.values() if n > 1),
        "outcomes": dict(statuses),
        "vendor_calls": sum(names.values()),
        "steps_not_final_at_last_kill": open_at_last_kill,
        "seconds_from_last_kill_to_all_final": round(settled, 1),
        "settle_over_lease_plus_sweep": round(settled / (LEASE + SWEEP), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--broker", choices=["redis", "rabbitmq"], default="redis")
    args = parser.parse_args()
    vhost = None
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp))
        try:
            if args.broker == "rabbitmq":
                vhost, broker_url = rabbitmq_vhost()
            else:
                broker_url = bench.settings.broker_url
            report = {
                "broker": args.broker,
                **chaos(
                    bench,
                    steps=100 if args.quick else 500,
                    kills=3 if args.quick else 10,
                    kill_every=3.0,
                    broker_url=broker_url,
                ),
            }
        finally:
            bench.close()
            if vhost is not None:
                subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
