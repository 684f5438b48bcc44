"""Real worker processes on real Redis and PostgreSQL against the fake vendor over HTTP."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from typing import Any

import pytest
import redis

from actionkit.errors import ValidationFailed
from executor.wire import task_id_for
from sandbox.core import Fault
from tests.e2e.conftest import REDIS_URL, Cluster
from tests.executor.conftest import CANARY_KEY, TENANT

CREATE = "widgets.widgets.create"


def send_raw(cluster: Cluster, key: str, *, input: dict[str, Any], action_id: str = CREATE) -> None:
    """What an engine in another language does: a plain Celery message, task_id = tenant/key."""
    cluster.executor.runtime.app.send_task(
        "patchbay.run.widgets",
        kwargs={
            "action_id": action_id,
            "version": 1,
            "tenant_id": TENANT,
            "input": input,
            "run_id": "run-e2e",
            "step_path": "root.steps[0]",
        },
        task_id=task_id_for(TENANT, key),
        queue="patchbay.widgets",
        argsrepr="()",
        kwargsrepr=f"{{action: {action_id}@1, tenant: {TENANT}, key: {key}}}",
    )


def wait_final(cluster: Cluster, key: str, timeout: float = 60.0, tenant: str = TENANT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = cluster.executor.result(key, tenant)
        if result is not None and result.final:
            return result
        time.sleep(0.05)
    raise AssertionError(
        f"{key} not final: {cluster.executor.result(key, tenant)}\n{cluster.worker_logs()[-3000:]}"
    )


def wait_row(cluster: Cluster, key: str, predicate: Any, timeout: float = 30.0) -> Any:
    ledger = cluster.executor.runtime.pipeline.ledger
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = ledger.get(TENANT, key)
        if row is not None and predicate(row):
            return row
        time.sleep(0.02)
    raise AssertionError(f"{key}: {ledger.get(TENANT, key)}")


def deliveries(cluster: Cluster, key: str) -> Counter[str]:
    """How the deliveries of ``key``'s messages went, read from the workers' logs.

    Celery logs each delivery a worker receives and how it ended: ``retry``
    (the task published its next message before this line), or ``done``
    (succeeded, ignored, failed).
    """
    task = re.escape(f"patchbay.run.widgets[{task_id_for(TENANT, key)}]")
    found = re.findall(
        rf"Task {task} (received|retry:|succeeded in|ignored|raised|Task already completed)",
        cluster.worker_logs(),
    )
    ends = {"received": "received", "retry:": "retry"}
    return Counter(ends.get(word, "done") for word in found)


def wait_all_delivered(cluster: Cluster, key: str, sent: int, timeout: float = 60.0) -> None:
    """Until every message of ``key`` (the ``sent`` ones, plus one per retry) was handled.

    Then no copy is left in a queue, held for a countdown or running, so no
    vendor call for ``key`` can still arrive.
    """
    deadline = time.monotonic() + timeout
    while True:
        seen = deliveries(cluster, key)
        received, retried = seen["received"], seen["retry"]
        if received == sent + retried == seen["done"] + retried:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{key}: not every copy was handled: {dict(seen)}, sent {sent}")
        time.sleep(0.05)


def test_fifty_concurrent_enqueues_of_one_key_make_one_vendor_call(cluster: Cluster) -> None:
    cluster.start_worker("w1", concurrency=4)
    cluster.start_worker("w2", concurrency=4)
    cluster.fake.inject(Fault(delay=0.5), method="POST", path="/v1/widgets")
    barrier = threading.Barrier(50)

    def send() -> None:
        barrier.wait()
        send_raw(cluster, "same-key", input={"name": "once"})

    threads = [threading.Thread(target=send) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = wait_final(cluster, "same-key")
    assert result.status == "SUCCEEDED"
    # Every copy (and each copy's re-scheduled message) has been handled: a
    # duplicate that wrongly ran would have called the vendor by now.
    wait_all_delivered(cluster, "same-key", sent=50)
    assert cluster.fake.count("POST", "/v1/widgets") == 1
    assert len(cluster.fake.widgets_created()) == 1
    assert cluster.executor.result("same-key", TENANT) == result


def test_kill_9_during_a_side_effect_ends_outcome_unknown_never_twice(cluster: Cluster) -> None:
    worker = cluster.start_worker("victim", pool="solo", concurrency=1)
    cluster.fake.inject(Fault(delay=4.0), method="POST", path="/v1/widgets")
    send_raw(cluster, "kill-create", input={"name": "killed"})
    row = wait_row(cluster, "kill-create", lambda r: r.dispatched_at is not None)
    assert row.status == "STARTED"
    time.sleep(0.5)  # the POST is now held at the vendor for 4 s
    worker.kill()
    cluster.start_worker("restarted", pool="solo", concurrency=1)
    result = wait_final(cluster, "kill-create", timeout=60)
    assert result.status == "FAILED"
    assert result.error["code"] == "OUTCOME_UNKNOWN"
    assert cluster.fake.count("POST", "/v1/widgets") == 1
    assert len(cluster.fake.widgets_created()) == 1


def test_kill_9_before_anything_was_dispatched_is_taken_over_and_succeeds(
    cluster: Cluster,
) -> None:
    created = cluster.executor.enqueue(
        CREATE, tenant_id=TENANT, input={"name": "seed"}, idempotency_key="seed"
    )
    worker = cluster.start_worker("victim", pool="solo", concurrency=1)
    widget = created.wait(30).output
    assert widget is not None
    cluster.fake.inject(Fault(delay=4.0), method="GET")
    handle = cluster.executor.enqueue(
        "widgets.widgets.get",
        tenant_id=TENANT,
        input={"widget_id": widget["widget_id"]},
        idempotency_key="kill-get",
    )
    wait_row(cluster, "kill-get", lambda r: r.status == "STARTED")
    time.sleep(0.5)  # the GET is now held at the vendor for 4 s
    worker.kill()
    cluster.start_worker("restarted", pool="solo", concurrency=1)
    result = handle.wait(60)
    assert result.status == "SUCCEEDED"
    assert result.attempt == 2
    assert result.output == widget


def test_retry_after_a_transient_failure_reuses_the_row(cluster: Cluster) -> None:
    cluster.start_worker()
    cluster.fake.inject(Fault(status=503, body={"message": "maintenance"}), method="POST")
    # Safe to repeat: a 503 to a POST of any other action would be OUTCOME_UNKNOWN.
    handle = cluster.executor.enqueue(
        "widgets.widgets.create_idempotent",
        tenant_id=TENANT,
        input={"name": "retry"},
        idempotency_key="retry-1",
    )
    result = handle.wait(30)
    assert result.status == "SUCCEEDED"
    assert result.attempt == 2
    rows = cluster.executor.invocations(TENANT)
    assert [r.key for r in rows] == ["retry-1"]
    assert "IntegrityError" not in cluster.worker_logs()


def test_retry_after_header_is_honoured(cluster: Cluster) -> None:
    cluster.start_worker()
    cluster.fake.inject(
        Fault(status=429, body={"error": "rate_limited"}, headers={"Retry-After": "2"}),
        method="POST",
    )
    result = cluster.executor.enqueue(
        CREATE, tenant_id=TENANT, input={"name": "later"}, idempotency_key="ra-1"
    ).wait(30)
    assert result.status == "SUCCEEDED"
    posts = cluster.fake.calls("POST", "/v1/widgets")
    assert len(posts) == 2
    assert posts[1].timestamp - posts[0].timestamp >= 2.0


def test_invalid_input_is_refused_before_sending_and_on_the_wire(cluster: Cluster) -> None:
    cluster.start_worker()
    with pytest.raises(ValidationFailed) as refused:
        cluster.executor.enqueue(CREATE, tenant_id=TENANT, input={}, idempotency_key="bad-1")
    assert refused.value.field == "name"
    # An engine that skips validation gets a FAILURE naming the field, no row, no call.
    send_raw(cluster, "bad-2", input={"name": "x", "unexpected": 1})
    result = cluster.executor.runtime.app.AsyncResult(task_id_for(TENANT, "bad-2"))
    deadline = time.monotonic() + 30
    while result.state in ("PENDING", "STARTED") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert result.state == "FAILURE"
    payload = json.loads(str(result.result))
    assert payload["code"] == "VALIDATION_ERROR"
    assert payload["details"]["field"] == "unexpected"
    assert cluster.executor.result("bad-2", TENANT) is None
    assert cluster.fake.count() == 0


def test_canary_secret_is_nowhere(cluster: Cluster) -> None:
    cluster.start_worker()
    cluster.fake.inject(
        Fault(status=400, body={"message": f"denied for {CANARY_KEY}"}), method="POST"
    )
    failed = cluster.executor.enqueue(
        CREATE, tenant_id=TENANT, input={"name": "c1"}, idempotency_key="canary-1"
    ).wait(30)
    ok = cluster.executor.enqueue(
        CREATE, tenant_id=TENANT, input={"name": "c2"}, idempotency_key="canary-2"
    ).wait(30)
    assert failed.status == "FAILED"
    assert ok.status == "SUCCEEDED"
    assert cluster.fake.calls("POST")[0].headers["authorization"] != ""  # it was sent
    # Logs, ledger rows, Celery results and the task messages Flower shows.
    assert CANARY_KEY not in cluster.worker_logs()
    assert CANARY_KEY not in json.dumps(
        [r.model_dump(mode="json") for r in cluster.executor.invocations(TENANT)]
    )
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for key in client.scan_iter("*"):
            kind = client.type(key)
            if kind == b"string":
                value: Any = client.get(key)
                assert CANARY_KEY.encode() not in (value or b""), key
    finally:
        client.close()
    assert failed.error is not None
    assert "[REDACTED]" in failed.error["message"]


def test_a_waiting_step_frees_its_worker_for_other_tasks(cluster: Cluster) -> None:
    cluster.start_worker("single", pool="solo", concurrency=1)
    job = cluster.executor.enqueue(
        "widgets.jobs.run",
        tenant_id=TENANT,
        input={"duration": 3.0, "check_every": 0.5},
        idempotency_key="job-e2e",
    )
    others = [
        cluster.executor.enqueue(
            CREATE, tenant_id=TENANT, input={"name": f"o{i}"}, idempotency_key=f"other-{i}"
        )
        for i in range(5)
    ]
    finished_others = [h.wait(30) for h in others]
    job_state = job.result()
    assert all(o.status == "SUCCEEDED" for o in finished_others)
    assert job_state is not None
    assert not job_state.final  # the others finished while the job was still waiting
    done = job.wait(60)
    assert done.status == "SUCCEEDED"
    assert cluster.fake.count("POST", "/v1/jobs") == 1
    assert cluster.fake.count("GET") >= 2
    assert done.completed_at is not None
    assert max(o.completed_at or done.completed_at for o in finished_others) < done.completed_at
