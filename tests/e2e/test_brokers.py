"""Both brokers with real worker processes: queues, RabbitMQ's delayed delivery, broker restarts.

RabbitMQ tests use a vhost of their own on the machine's RabbitMQ; the restart
test restarts that RabbitMQ (``rabbitmqctl stop_app`` / ``start_app``). The
Redis restart test kills a private ``redis-server`` (AOF, fsync on every
write), never the shared one.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from kombu.exceptions import OperationalError

from catalog.bootstrap import build_catalog
from executor import celery_settings, wire
from executor.wire import task_id_for
from sandbox.core import Fault
from tests.e2e.conftest import (
    Cluster,
    RedisServer,
    WorkerProcess,
    make_cluster,
    rabbitmqctl,
    start_rabbitmq,
    stop_rabbitmq,
    wait_until,
)
from tests.executor.conftest import TENANT

CREATE = "widgets.widgets.create"

# The sweeper (if the workers run one) re-publishes QUEUED steps after this
# long; far beyond these tests, so what they prove is the broker's doing.
NO_REDRIVE = {"PATCHBAY_REDRIVE_AFTER": "3600"}
# A sweeper that re-publishes a QUEUED step (whose queue is empty) 4 s after it was queued.
SWEEPING = {"PATCHBAY_SWEEP_INTERVAL": "1", "PATCHBAY_REDRIVE_AFTER": "4"}


@pytest.fixture
def rabbitmq_cluster(postgres_schema: str, tmp_path: Path) -> Iterator[Cluster]:
    # The pipeline caps countdowns at half the (Redis) visibility timeout, 8 s in
    # these clusters; RabbitMQ has none, so let an 8 s Retry-After stand.
    env = {**NO_REDRIVE, "PATCHBAY_VISIBILITY_TIMEOUT": "60"}
    yield from make_cluster(postgres_schema, tmp_path, broker="rabbitmq", extra_env=env)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis-broker")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_redis_cluster(
    postgres_schema: str, tmp_path: Path, private_redis: RedisServer
) -> Iterator[Cluster]:
    """Broker on the private Redis; results and throttle on the shared test Redis.

    The sweeper runs with a short re-drive: kombu's Redis transport pops a
    message (BRPOP) before it records it as unacknowledged, so a broker killed
    between the two loses that one message even with every write fsynced. Not
    losing it is the ledger sweeper's job, and this is what it is for.
    """
    yield from make_cluster(
        postgres_schema, tmp_path, broker_url=private_redis.url, extra_env=SWEEPING
    )


# -- every queue, on both brokers ------------------------------------------------


def test_plain_celery_worker_without_q_consumes_every_queue(broker_cluster: Cluster) -> None:
    """``celery -A executor.worker worker`` (no -Q) serves every provider's queue."""
    expected = [wire.queue_name(p) for p in celery_settings.providers(build_catalog())]
    assert len(expected) >= 2  # the real catalog: its vendors and core
    worker = WorkerProcess(
        broker_cluster.env,
        broker_cluster.logs / "plain.log",
        "plain",
        argv=[
            sys.executable,
            "-m",
            "celery",
            "-A",
            "executor.worker",
            "worker",
            "--hostname=plain@%h",
            "--pool=threads",
            "--concurrency=2",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
        ],
    )
    broker_cluster.workers.append(worker)
    worker.wait_ready()
    banner = worker.log.read_text()
    exchange_type = "topic" if broker_cluster.broker == "rabbitmq" else "direct"
    for name in expected:
        assert f".> {name}" in banner and f"exchange={name}({exchange_type})" in banner, name
    # A step on a vendor queue (not core) is consumed: an unknown action of the
    # ninjaone provider, sent as a plain Celery client would, fails at once.
    app = broker_cluster.executor.runtime.app
    vendor = next(q for q in expected if q != wire.queue_name(wire.CORE_PROVIDER))
    provider = vendor.removeprefix("patchbay.")
    key = f"plain-{provider}"
    app.send_task(
        wire.task_name(provider),
        kwargs={
            "action_id": f"{provider}.no_such_action",
            "version": 1,
            "tenant_id": TENANT,
            "input": {},
            "run_id": None,
            "step_path": None,
        },
        task_id=task_id_for(TENANT, key),
        queue=vendor,
    )
    result = app.AsyncResult(task_id_for(TENANT, key))
    wait_until(lambda: result.state == "FAILURE", 60, f"{key} to be consumed from {vendor}")
    assert "UNKNOWN_ACTION" in str(result.result)


# -- RabbitMQ: quorum queues, native delayed delivery, per-consumer prefetch ----------


def test_rabbitmq_countdowns_wait_in_the_broker_not_in_the_worker(
    rabbitmq_cluster: Cluster,
) -> None:
    cluster = rabbitmq_cluster
    assert cluster.vhost is not None
    vhost = cluster.vhost
    worker = cluster.start_worker("single", pool="solo", concurrency=1)
    queues = {row["name"]: row for row in vhost.list("queues", "name", "type", "durable")}
    for name in ("patchbay.widgets", "patchbay.core"):
        assert (queues[name]["type"], queues[name]["durable"]) == ("quorum", "true"), queues
    exchanges = {row["name"]: row["type"] for row in vhost.list("exchanges", "name", "type")}
    assert exchanges["patchbay.widgets"] == exchanges["patchbay.core"] == "topic"
    # The delayed-delivery topology the worker declared at startup.
    assert exchanges["celery_delayed_delivery"] == "topic"
    assert all(exchanges[f"celery_delayed_{level}"] == "topic" for level in range(28))
    assert all(queues[f"celery_delayed_{level}"]["type"] == "quorum" for level in range(28))
    # Quorum queues refuse global QoS: one prefetch slot per consumer instead.
    consumers = vhost.list("consumers", "queue_name", "prefetch_count")
    prefetch = {c["queue_name"]: c["prefetch_count"] for c in consumers}
    assert prefetch["patchbay.widgets"] == prefetch["patchbay.core"] == "1", consumers
    assert "Global QoS is disabled" in worker.log.read_text()

    cluster.fake.inject(
        Fault(status=429, body={"error": "rate_limited"}, headers={"Retry-After": "8"}),
        method="POST",
    )
    handle = cluster.executor.enqueue(
        CREATE, tenant_id=TENANT, input={"name": "later"}, idempotency_key="delayed-1"
    )
    wait_until(lambda: cluster.fake.count("POST", "/v1/widgets") == 1, 60, "the first POST")

    def parked_in_the_broker() -> bool:
        rows = vhost.list("queues", "name", "messages_ready", "messages_unacknowledged")
        by_name = {r["name"]: r for r in rows}
        delayed = sum(
            int(r["messages_ready"]) + int(r["messages_unacknowledged"])
            for name, r in by_name.items()
            if name.startswith("celery_delayed_")
        )
        widgets = by_name["patchbay.widgets"]
        return (
            delayed == 1
            and widgets["messages_ready"] == "0"
            and widgets["messages_unacknowledged"] == "0"
        )

    # The retry (8 s away) sits in a celery_delayed_* queue; the worker holds nothing.
    wait_until(parked_in_the_broker, 6, "the retry to wait in a celery_delayed_* queue")
    result = handle.wait(60)
    assert result.status == "SUCCEEDED"
    assert result.attempt == 2
    posts = cluster.fake.calls("POST", "/v1/widgets")
    assert len(posts) == 2
    assert posts[1].timestamp - posts[0].timestamp >= 7.0


# -- broker restarts: no accepted step is lost --------------------------------------


@dataclass
class Enqueuer:
    """Enqueues a side-effectful step after another from a thread, noting what was accepted."""

    cluster: Cluster
    accepted: list[str] = field(default_factory=list)
    refused: list[tuple[str, BaseException, float]] = field(default_factory=list)
    pace: float = 0.1
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="enqueuer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)
            assert not self._thread.is_alive(), "an enqueue call hung"

    def _run(self) -> None:
        number = 0
        while not self._stop.is_set():
            key = f"restart-{number:04d}"
            number += 1
            started = time.monotonic()
            try:
                self.cluster.executor.enqueue(
                    CREATE, tenant_id=TENANT, input={"name": key}, idempotency_key=key
                )
            except Exception as exc:
                self.refused.append((key, exc, time.monotonic() - started))
            else:
                self.accepted.append(key)
            self._stop.wait(self.pace)


def succeeded(cluster: Cluster, keys: list[str]) -> int:
    count = 0
    for key in keys:
        result = cluster.executor.result(key, TENANT)
        if result is not None and result.status == "SUCCEEDED":
            count += 1
    return count


def no_accepted_step_is_lost(
    cluster: Cluster, stop_broker: Callable[[], None], start_broker: Callable[[], None]
) -> None:
    cluster.start_workers("w1", "w2", concurrency=2)
    # Each create takes a moment at the vendor, so steps are in flight (and
    # more are queued) when the broker goes away.
    cluster.fake.inject(Fault(delay=0.2), method="POST", path="/v1/widgets", times=None)
    enqueuer = Enqueuer(cluster)
    enqueuer.start()
    try:
        wait_until(lambda: succeeded(cluster, list(enqueuer.accepted)) >= 3, 90, "steps to succeed")
        before = len(enqueuer.accepted)
        stop_broker()
        # Sends while the broker is down fail (quickly, and saying why).
        wait_until(
            lambda: len(enqueuer.refused) >= 2, 60, "a send to fail while the broker is down"
        )
        start_broker()
        after = len(enqueuer.accepted)
        wait_until(lambda: len(enqueuer.accepted) >= after + 5, 90, "sends to be accepted again")
    finally:
        enqueuer.stop()
    accepted = list(enqueuer.accepted)
    assert before >= 3 and len(accepted) >= before + 5

    def all_final() -> bool:
        pending = [
            k for k in accepted if not (r := cluster.executor.result(k, TENANT)) or not r.final
        ]
        return not pending

    stuck_workers: str | None = None
    try:
        wait_until(all_final, 120, "every accepted step to finish")
    except AssertionError:
        states = {k: cluster.executor.result(k, TENANT) for k in accepted}
        missing = [k for k, r in states.items() if r is None]
        pending = {k: (r.status, r.attempt) for k, r in states.items() if r and not r.final}
        held = broker_held(cluster)
        report = (
            f"{len(missing)} accepted steps never ran: {missing[:10]}; "
            f"{len(pending)} not final: {dict(list(pending.items())[:10])}\n"
            f"broker: {broker_state(cluster)}\n"
            f"{cluster.worker_logs()[-4000:]}"
        )
        if missing or held < len(pending):
            raise AssertionError(report) from None
        # Every unfinished step's message is still in the broker: nothing was
        # lost, but the running workers did not resume consuming after the
        # restart (a known defect, below). A fresh worker must drain them all.
        stuck_workers = report
        cluster.start_workers("fresh", concurrency=2)
        wait_until(all_final, 120, "a fresh worker to finish the steps the broker kept")
    outcomes = {k: cluster.executor.result(k, TENANT) for k in accepted}
    failed = {k: r for k, r in outcomes.items() if r is None or r.status != "SUCCEEDED"}
    assert not failed, failed
    widgets = Counter(w["name"] for w in cluster.fake.widgets_created())
    assert all(widgets[k] == 1 for k in accepted), {k: widgets[k] for k in accepted}
    # No key, accepted or not, ever made two widgets.
    assert max(widgets.values()) == 1, widgets.most_common(3)
    for key, exc, seconds in enqueuer.refused:
        assert caused_by_the_broker(exc), (key, repr(exc))
        assert seconds < 20, (key, seconds)
    if stuck_workers is not None:
        pytest.xfail(
            "no accepted step was lost, but the workers did not resume consuming after the "
            "broker restart (kombu's Redis transport: an ack on a channel whose connection was "
            "replaced fails with AttributeError 'hostname'); a fresh worker drained them. "
            f"Known defect, see the issue notes.\n{stuck_workers[:2000]}"
        )


def broker_held(cluster: Cluster) -> int:
    """Messages a Redis broker holds for the widgets queue (ready plus unacknowledged)."""
    url = cluster.settings.broker_url
    if not url.startswith("redis://"):
        return 0
    client: Any = redis.Redis.from_url(url)
    try:
        return int(client.llen("patchbay.widgets")) + int(client.hlen("unacked"))
    except redis.RedisError:
        return 0
    finally:
        client.close()


def broker_state(cluster: Cluster) -> str:
    """What a Redis broker holds for the widgets queue (for a failure's message)."""
    url = cluster.settings.broker_url
    if not url.startswith("redis://"):
        return "(not Redis)"
    client: Any = redis.Redis.from_url(url)
    try:
        queue = "patchbay.widgets"
        return repr(
            {
                "ready": client.llen(queue),
                "bindings": sorted(client.smembers(f"_kombu.binding.{queue}")),
                "unacked": client.hlen("unacked"),
                "keys": sorted(k.decode() for k in client.keys("*"))[:20],
            }
        )
    except redis.RedisError as exc:
        return f"(unreadable: {exc})"
    finally:
        client.close()


def caused_by_the_broker(exc: BaseException | None) -> bool:
    """A refused send names the broker: kombu's OperationalError, itself or as the cause."""
    while exc is not None:
        if isinstance(exc, OperationalError):
            return True
        exc = exc.__cause__
    return False


def test_redis_broker_killed_and_restarted_loses_no_accepted_step(
    private_redis_cluster: Cluster, private_redis: RedisServer
) -> None:
    no_accepted_step_is_lost(private_redis_cluster, private_redis.kill, private_redis.start)


def test_rabbitmq_restarted_loses_no_accepted_step(rabbitmq_cluster: Cluster) -> None:
    vhost = rabbitmq_cluster.vhost
    assert vhost is not None
    try:
        no_accepted_step_is_lost(rabbitmq_cluster, stop_rabbitmq, lambda: start_rabbitmq(vhost.url))
    finally:
        # Never leave the machine's RabbitMQ stopped.
        rabbitmqctl("start_app")
