"""The executor under real failure: prefork forks, killed workers, hung handlers, 5xx.

Real worker processes on real PostgreSQL and a real broker, the fake vendor
over HTTP. Every wait is on the ledger (or the vendor's log), never on a
fixed sleep: these run on loaded machines.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from sandbox.core import Fault
from tests.e2e.conftest import BROKERS, Cluster, WorkerProcess, kill_tree, make_cluster
from tests.executor.conftest import TENANT

CREATE = "widgets.widgets.create"
CHECKED = "widgets.widgets.create_checked"
GET = "widgets.widgets.get"
HANG = "widgets.debug.hang"

# Short lease and sweep so recovery is quick; the visibility timeout stays at its
# two-hour default, so nothing here is rescued by the broker redelivering.
RECOVERY_ENV = {
    "PATCHBAY_LEASE_SECONDS": "3",
    "PATCHBAY_SWEEP_INTERVAL": "1",
    "PATCHBAY_REDRIVE_AFTER": "4",
    "PATCHBAY_VISIBILITY_TIMEOUT": "7200",
}


@pytest.fixture(params=BROKERS, ids=[f"broker={b}" for b in BROKERS])
def recovering(
    request: pytest.FixtureRequest, postgres_schema: str, tmp_path: Path
) -> Iterator[Cluster]:
    """A cluster on each broker in turn, recovering only through the ledger."""
    yield from make_cluster(postgres_schema, tmp_path, extra_env=RECOVERY_ENV, broker=request.param)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def all_final(cluster: Cluster, keys: list[str], timeout: float) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        results = {k: cluster.executor.result(k, TENANT) for k in keys}
        if all(r is not None and r.final for r in results.values()):
            return results
        return None

    try:
        found: dict[str, Any] = wait_for(done, timeout, "every step final")
    except AssertionError:
        stuck = {
            k: (r.status if r else None)
            for k in keys
            if not ((r := cluster.executor.result(k, TENANT)) and r.final)
        }
        raise AssertionError(f"not final: {stuck}\n{cluster.worker_logs()[-4000:]}") from None
    return found


def kill_whole_worker(worker: WorkerProcess) -> None:
    kill_tree(worker.proc.pid)
    worker.proc.wait(10)


def threads_of(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def names_posted(cluster: Cluster) -> list[str]:
    return [c.body["name"] for c in cluster.fake.calls("POST", "/v1/widgets")]


def one_post_named(cluster: Cluster, name: str) -> bool:
    return names_posted(cluster) == [name]


def test_prefork_parent_runs_no_thread_and_every_step_finishes(recovering: Cluster) -> None:
    """The parent that forks children holds no thread (no lock a child could inherit
    held); children are re-forked often and every step still finishes."""
    worker = recovering.start_worker(
        "forky", pool="prefork", concurrency=4, env={"E2E_MAX_TASKS_PER_CHILD": "2"}
    )
    keys: list[str] = []
    for round_no in range(4):
        handles = [
            recovering.executor.enqueue(
                CREATE if i % 2 else GET,
                tenant_id=TENANT,
                input={"name": f"r{round_no}-{i}"} if i % 2 else {"widget_id": "w_1"},
                idempotency_key=f"round{round_no}-{i}",
            )
            for i in range(8)
        ]
        keys += [h.key for h in handles]
        all_final(recovering, [h.key for h in handles], timeout=90)
        # The parent: one thread, whatever its children are doing.
        assert threads_of(worker.proc.pid) == 1, os.listdir(f"/proc/{worker.proc.pid}/task")
    results = all_final(recovering, keys, timeout=10)
    creates = [k for k in keys if int(k.rsplit("-", 1)[1]) % 2]
    assert all(results[k].status == "SUCCEEDED" for k in creates)
    assert sorted(names_posted(recovering)) == sorted(
        f"r{r}-{i}" for r in range(4) for i in range(8) if i % 2
    )


def test_kill_9_of_a_whole_worker_mid_batch_every_step_settles_none_twice(
    recovering: Cluster,
) -> None:
    """Default visibility timeout (2 h): only the sweeper can bring these back."""
    victim = recovering.start_worker("victim", pool="prefork", concurrency=2)
    recovering.start_worker("survivor", pool="prefork", concurrency=2)
    recovering.fake.inject(Fault(delay=0.3), method="POST", path="/v1/widgets", times=None)
    keys = [
        recovering.executor.enqueue(
            CREATE, tenant_id=TENANT, input={"name": f"k{i}"}, idempotency_key=f"kill-{i}"
        ).key
        for i in range(40)
    ]
    # Kill once the victim is certainly mid-batch: some of its requests are in flight.
    wait_for(lambda: len(recovering.fake.calls("POST", "/v1/widgets")) >= 6, 60, "posts")
    kill_whole_worker(victim)
    killed_at = time.monotonic()
    results = all_final(recovering, keys, timeout=120)
    settled_in = time.monotonic() - killed_at
    posted = names_posted(recovering)
    for i, key in enumerate(keys):
        name = f"k{i}"
        assert posted.count(name) <= 1, f"{key} reached the vendor {posted.count(name)} times"
        result = results[key]
        if result.status == "SUCCEEDED":
            assert posted.count(name) == 1
        else:  # in flight when the worker died: never repeated blindly
            assert result.error["code"] == "OUTCOME_UNKNOWN", result.error
    assert len({w["name"] for w in recovering.fake.widgets_created()}) == len(
        recovering.fake.widgets_created()
    )
    # Bounded by lease + sweep (plus queueing on a loaded box), not by the 2 h timeout.
    assert settled_in < 120


@pytest.mark.parametrize(
    ("pool", "broker"),
    [("threads", "redis"), ("prefork", "redis"), ("solo", "redis"), ("prefork", "rabbitmq")],
)
def test_a_hung_handler_is_ended_by_its_time_limit(
    postgres_schema: str, tmp_path: Path, pool: str, broker: str
) -> None:
    env = {**RECOVERY_ENV, "PATCHBAY_MAX_ATTEMPTS": "2"}
    for cluster in make_cluster(postgres_schema, tmp_path, extra_env=env, broker=broker):
        cluster.start_worker("w", pool=pool, concurrency=1)
        hung = cluster.executor.enqueue(
            HANG, tenant_id=TENANT, input={"seconds": 600}, idempotency_key="hung"
        )
        result = hung.wait(90)
        assert result.status == "FAILED"
        assert result.error is not None
        assert result.error["code"] == "TIMEOUT"
        assert result.attempt == 2  # nothing dispatched: retried, then final
        # The worker slot is free again.
        after = cluster.executor.enqueue(
            CREATE, tenant_id=TENANT, input={"name": "after"}, idempotency_key="after"
        ).wait(60)
        assert after.status == "SUCCEEDED"


@pytest.mark.parametrize("broker", BROKERS)
def test_a_request_hung_at_the_vendor_after_dispatch_ends_outcome_unknown(
    postgres_schema: str, tmp_path: Path, broker: str
) -> None:
    """Blocked in a socket read past its limit, in a threads pool (no signal can reach
    it): its lease stops being renewed, the sweeper hands it to the ledger."""
    env = {**RECOVERY_ENV, "PATCHBAY_STEP_TIME_LIMIT": "1"}
    for cluster in make_cluster(postgres_schema, tmp_path, extra_env=env, broker=broker):
        cluster.start_worker("w", pool="threads", concurrency=2)
        cluster.fake.inject(Fault(delay=15), method="POST", path="/v1/widgets")
        result = cluster.executor.enqueue(
            CREATE, tenant_id=TENANT, input={"name": "stuck"}, idempotency_key="stuck"
        ).wait(90)
        assert result.status == "FAILED"
        assert result.error is not None
        assert result.error["code"] == "OUTCOME_UNKNOWN"
        # The vendor logs the request when it answers (after its delay): exactly once.
        wait_for(partial(one_post_named, cluster, "stuck"), 60, "the one POST")
        assert len(cluster.fake.widgets_created()) == 1


def test_500_after_a_mutating_request_is_never_sent_again(recovering: Cluster) -> None:
    recovering.start_worker("w", pool="prefork", concurrency=2)
    recovering.fake.inject(
        Fault(status=500, body={"message": "internal"}, after=True),
        method="POST",
        path="/v1/widgets",
        times=2,
    )
    plain = recovering.executor.enqueue(
        CREATE, tenant_id=TENANT, input={"name": "plain"}, idempotency_key="five-plain"
    ).wait(60)
    assert plain.status == "FAILED"
    assert plain.error is not None
    assert plain.error["code"] == "OUTCOME_UNKNOWN"
    checked = recovering.executor.enqueue(
        CHECKED, tenant_id=TENANT, input={"name": "checked"}, idempotency_key="five-checked"
    ).wait(60)
    assert checked.status == "SUCCEEDED"  # the read-back found the widget
    assert sorted(names_posted(recovering)) == ["checked", "plain"]
    assert len(recovering.fake.widgets_created()) == 2


def test_a_step_whose_message_was_lost_is_republished(recovering: Cluster) -> None:
    """A QUEUED row with no message (the broker lost it) is found and run."""
    pipeline = recovering.executor.runtime.pipeline
    spec = pipeline.resolve(CREATE, 1)
    data = {"name": "lost-message", "color": None}
    request = pipeline.claim_request(
        spec, data, tenant_id=TENANT, key="lost-message", run_id=None, step_path=None
    )
    assert pipeline.ledger.record_queued(request) is not None  # never published
    recovering.start_worker("w")
    result = all_final(recovering, ["lost-message"], timeout=90)["lost-message"]
    assert result.status == "SUCCEEDED"
    assert names_posted(recovering) == ["lost-message"]


def test_a_copy_of_a_running_step_answers_soon_after_it_ends(recovering: Cluster) -> None:
    recovering.start_worker("w", concurrency=4)
    recovering.fake.inject(Fault(delay=2.0), method="POST", path="/v1/widgets")
    first = recovering.executor.enqueue(
        CREATE, tenant_id=TENANT, input={"name": "dup"}, idempotency_key="dup"
    )
    wait_for(lambda: (r := first.result()) is not None and r.status == "STARTED", 30, "started")
    copy = recovering.executor.runtime.app.AsyncResult(first.task_id)
    recovering.executor.enqueue(  # the same key again while it runs
        CREATE, tenant_id=TENANT, input={"name": "dup"}, idempotency_key="dup"
    )
    done = first.wait(60)
    assert done.status == "SUCCEEDED"
    wait_for(lambda: copy.state == "SUCCESS", 30, "the copy answers with the outcome")
    answer: Any = copy.result
    assert answer["output"] == done.output
    assert names_posted(recovering) == ["dup"]
