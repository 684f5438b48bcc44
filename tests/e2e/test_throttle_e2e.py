"""Four worker processes share one per-account limit that the fake vendor enforces.

The vendor counts requests when they arrive, and some requests take longer
between our send log and the vendor's count than others. The test makes that
happen twice over: runs of requests are held back before the vendor's limiter
counts them (a delay fault), so that a run of late arrivals is followed by a
run of prompt ones; and CPU burners compete with the workers (and with the
fake vendor's server threads) while the backlog is worked off. Only the
throttle's transit margin keeps the vendor's own count under its limit then.

The burners start once the other tenant's few steps are done: whether those
pass the backlog depends on how long a first delivery takes (they queue
behind the backlog's first deliveries), which is not what this test measures.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sandbox.core import Fault
from sandbox.widgets import FakeWidgets
from tests.e2e.conftest import Cluster, make_cluster
from tests.executor.conftest import CANARY_KEY, OTHER_KEY, OTHER_TENANT, TENANT

LIMIT = (10, 1.0)  # what the vendor enforces: 10 requests in any 1-second window
BURNERS = 2  # busy processes competing with the workers (CI has two cores)
# Runs of requests alternately held back this long before the vendor counts
# them and not: within the throttle's 0.2 s margin, but more than the gap
# between two requests at the limit (0.1 s), so a window without the margin
# would let the vendor count one request too many.
TRANSIT_DELAY = 0.15
TRANSIT_RUN = 10


@pytest.fixture
def limited(postgres_schema: str, tmp_path: Path) -> Iterator[Cluster]:
    fake = FakeWidgets({CANARY_KEY: "acct-acme", OTHER_KEY: "acct-globex"}, rate_limit=LIMIT)
    yield from make_cluster(
        postgres_schema,
        tmp_path,
        fake=fake,
        # A short wait so that steps are certainly deferred (and Flower told so).
        extra_env={"E2E_WIDGETS_LIMIT": "10/1s", "PATCHBAY_THROTTLE_MAX_WAIT": "0.2"},
    )


def test_four_workers_stay_under_the_vendor_limit_and_other_tenants_flow(
    limited: Cluster,
) -> None:
    for i in range(4):
        limited.start_worker(f"w{i}", concurrency=2)
    for _ in range(3):
        slow = Fault(delay=TRANSIT_DELAY)
        prompt = Fault(delay=0.0)
        limited.fake.inject(slow, method="POST", path="/v1/widgets", times=TRANSIT_RUN)
        limited.fake.inject(prompt, method="POST", path="/v1/widgets", times=TRANSIT_RUN)
    events = EventLog(limited)
    backlog = [
        limited.executor.enqueue(
            "widgets.widgets.create",
            tenant_id=TENANT,
            input={"name": f"a{i}"},
            idempotency_key=f"a-{i}",
        )
        for i in range(40)
    ]
    other = [
        limited.executor.enqueue(
            "widgets.widgets.create",
            tenant_id=OTHER_TENANT,
            input={"name": f"b{i}"},
            idempotency_key=f"b-{i}",
        )
        for i in range(5)
    ]
    results_b = [h.wait(60) for h in other]
    with cpu_burners(BURNERS):
        results_a = [h.wait(120) for h in backlog]
    assert all(r.status == "SUCCEEDED" for r in results_a + results_b)
    # The vendor's own count, by arrival time: never a request over its limit.
    assert limited.fake.over_limit() == 0
    assert len(limited.fake.widgets_created("acct-acme")) == 40
    # The other tenant's steps were not queued behind the first tenant's backlog.
    finished_b = [r.completed_at for r in results_b if r.completed_at is not None]
    finished_a = [r.completed_at for r in results_a if r.completed_at is not None]
    assert max(finished_b) < max(finished_a)
    # Throttle deferrals are not attempts.
    assert all(r.attempt == 1 for r in results_a)
    # Flower sees the deferrals as custom events, and per-provider task names.
    seen = events.stop()
    throttled = [e for e in seen if e["type"] == "task-throttled"]
    assert throttled
    # The backlog's tenant is throttled (the other may be too: it has its own limit).
    assert TENANT in {e["tenant"] for e in throttled}
    assert all(e["provider"] == "widgets" and e["retry_in"] > 0 for e in throttled)
    received = [e for e in seen if e["type"] == "task-received"]
    assert {e["name"] for e in received} == {"patchbay.run.widgets"}
    leaks = [e["kwargs"] for e in received if "input" in e["kwargs"] or "a0" in e["kwargs"]]
    assert leaks == []


@contextmanager
def cpu_burners(count: int) -> Iterator[None]:
    """``count`` processes spinning on the CPU until the block ends."""
    procs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL)
        for _ in range(count)
    ]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait(10)


class EventLog:
    """Collects Celery events (what Flower consumes) in a background thread."""

    def __init__(self, cluster: Cluster) -> None:
        self.events: list[dict[str, Any]] = []
        self._app = cluster.executor.runtime.app
        self._receiver: Any = None
        ready = threading.Event()

        def run() -> None:
            with self._app.connection_for_read() as conn:
                self._receiver = self._app.events.Receiver(conn, handlers={"*": self.events.append})
                ready.set()
                self._receiver.capture(limit=None, timeout=None, wakeup=False)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        time.sleep(0.5)  # let the event queue binding settle

    def stop(self) -> list[dict[str, Any]]:
        time.sleep(1.0)  # events are sent asynchronously by the workers
        self._receiver.should_stop = True
        self._thread.join(10)
        return list(self.events)
