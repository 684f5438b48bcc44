"""The auditor's probe over the wire: no tenant can read or touch another's result.

Plain Celery messages, as an engine in another language sends them, to a real
worker process; results on Redis, the broker Redis or RabbitMQ.
"""

from __future__ import annotations

from typing import Any

import redis

from executor.wire import task_id_for
from tests.e2e.conftest import REDIS_URL, Cluster
from tests.e2e.test_throttle_e2e import EventLog
from tests.executor.conftest import OTHER_TENANT, TENANT

CREATE = "widgets.widgets.create"
KEY = "run-42:root.steps[0]:widgets.widgets.create@1"


def send(cluster: Cluster, task_id: str, tenant_id: str, name: str) -> None:
    cluster.executor.runtime.app.send_task(
        "patchbay.run.widgets",
        kwargs={
            "action_id": CREATE,
            "version": 1,
            "tenant_id": tenant_id,
            "input": {"name": name},
            "run_id": "run-42",
            "step_path": "root.steps[0]",
        },
        task_id=task_id,
        queue="patchbay.widgets",
        argsrepr="()",
        kwargsrepr=f"{{action: {CREATE}@1, tenant: {tenant_id}}}",
    )


def outcome(cluster: Cluster, task_id: str) -> Any:
    """The task's result, as the engine reads it (a fresh AsyncResult: nothing cached).

    ``disable_sync_subtasks=False``: an embedded worker an earlier test ran in this
    process leaves Celery believing it runs inside a task.
    """
    result = cluster.executor.runtime.app.AsyncResult(task_id)
    return result.get(timeout=60, disable_sync_subtasks=False)


def stored(task_id: str) -> bytes | None:
    """The result backend's raw entry for ``task_id``."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        value: bytes | None = client.get(f"celery-task-meta-{task_id}")  # type: ignore[assignment]
        return value
    finally:
        client.close()


def test_two_tenants_sending_one_key_each_get_their_own_result(broker_cluster: Cluster) -> None:
    cluster = broker_cluster
    cluster.start_worker("w1", pool="prefork", concurrency=1)
    for tenant in (TENANT, OTHER_TENANT):
        send(cluster, task_id_for(tenant, KEY), tenant, f"{tenant}'s widget")
    results = {
        tenant: outcome(cluster, task_id_for(tenant, KEY)) for tenant in (TENANT, OTHER_TENANT)
    }
    for tenant, result in results.items():
        assert (result["tenant_id"], result["key"], result["status"]) == (tenant, KEY, "SUCCEEDED")
        assert result["output"]["name"] == f"{tenant}'s widget"
        row = cluster.executor.result(KEY, tenant)
        assert row is not None and row.output == result["output"]
    assert results[TENANT]["output"]["widget_id"] != results[OTHER_TENANT]["output"]["widget_id"]
    assert [w["name"] for w in cluster.fake.widgets_created("acct-acme")] == ["acme's widget"]
    assert [w["name"] for w in cluster.fake.widgets_created("acct-globex")] == ["globex's widget"]


def test_a_task_id_of_another_tenant_or_of_no_tenant_is_refused(broker_cluster: Cluster) -> None:
    cluster = broker_cluster
    # One worker process, prefetch 1: it takes the queue in order.
    worker = cluster.start_worker("w1", pool="prefork", concurrency=1)
    events = EventLog(cluster)
    acme_id = task_id_for(TENANT, KEY)
    send(cluster, acme_id, TENANT, "acme's widget")
    acme_result = outcome(cluster, acme_id)
    before = stored(acme_id)
    assert before is not None

    send(cluster, acme_id, OTHER_TENANT, "intruder")  # globex under acme's task id
    send(cluster, "bare-key", TENANT, "bare")  # no tenant prefix
    after_id = task_id_for(OTHER_TENANT, "after")
    send(cluster, after_id, OTHER_TENANT, "after")
    assert outcome(cluster, after_id)["status"] == "SUCCEEDED"  # so those two were taken

    assert stored(acme_id) == before
    assert outcome(cluster, acme_id) == acme_result
    assert stored("bare-key") is None
    assert cluster.executor.result(KEY, OTHER_TENANT) is None
    assert cluster.executor.result("bare-key", TENANT) is None
    assert [r.key for r in cluster.executor.invocations(OTHER_TENANT)] == ["after"]
    assert [w["name"] for w in cluster.fake.widgets_created()] == ["acme's widget", "after"]
    assert worker.proc.poll() is None
    refused = [e for e in events.stop() if e["type"] == "task-refused"]
    assert sorted(e["uuid"] for e in refused) == sorted([acme_id, "bare-key"])
    log = worker.log.read_text()
    assert log.count("refused task patchbay.run.widgets") == 2
    assert "intruder" not in log
