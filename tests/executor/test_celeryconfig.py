"""The Celery settings the executor relies on."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from celery import Celery
from celery.utils.quorum_queues import detect_quorum_queues
from kombu import Queue

from catalog.registration import Catalog
from executor import celery_settings, wire
from executor.app import consume_deferred_companions
from executor.settings import Settings
from integrations import huntress
from tests.executor.widgets_integration import widgets_catalog


def test_reliability_settings_and_routes() -> None:
    conf = celery_settings.config(
        Settings(broker_url="redis://x", visibility_timeout=600), widgets_catalog()
    )
    assert conf["task_acks_late"] is True
    assert conf["task_reject_on_worker_lost"] is True
    assert conf["worker_deduplicate_successful_tasks"] is True
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["worker_send_task_events"] is True
    assert conf["task_send_sent_event"] is True
    assert conf["broker_transport_options"]["visibility_timeout"] == 600
    assert conf["result_backend_transport_options"]["visibility_timeout"] == 600
    assert conf["task_routes"] == {
        "patchbay.run.widgets": {"queue": "patchbay.widgets"},
        "patchbay.run.core": {"queue": "patchbay.core"},
    }
    assert conf["task_serializer"] == "json"


def test_huntress_documented_limit_sets_a_per_worker_ceiling_on_deliveries() -> None:
    catalog = Catalog()
    huntress.register(catalog)  # its facts (the documented 60/m) and its tile
    conf = celery_settings.config(Settings(), catalog)
    # 60/m times the default factor of 10: deliveries of every tenant's steps.
    assert conf["task_annotations"] == {"patchbay.run.huntress": {"rate_limit": "10/s"}}
    at_the_limit = celery_settings.config(Settings(worker_ceiling_factor=1), catalog)
    assert at_the_limit["task_annotations"] == {"patchbay.run.huntress": {"rate_limit": "1/s"}}
    assert (
        celery_settings.config(Settings(worker_ceiling_factor=0), catalog)["task_annotations"] == {}
    )
    assert celery_settings.rate_limits(Settings(), catalog) == {"huntress": "60/m"}
    overridden = Settings(rate_limits={"huntress": "30/m"})
    assert celery_settings.rate_limits(overridden, catalog) == {"huntress": "30/m"}


def test_embedded_memory_broker_polls_fast() -> None:
    conf = celery_settings.config(Settings(), Catalog())
    assert conf["broker_url"] == "memory://"
    assert conf["broker_transport_options"]["polling_interval"] == 0.005


AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"
EVERY_QUEUE = [
    "patchbay.widgets",
    "patchbay.widgets.deferred",
    "patchbay.core",
    "patchbay.core.deferred",
]


def app_for(conf: dict[str, Any]) -> Celery:
    app = Celery("patchbay-test", set_as_current=False)
    app.conf.update(conf)
    return app


def test_every_provider_queue_is_declared_so_a_worker_without_q_consumes_all() -> None:
    conf = celery_settings.config(Settings(broker_url="redis://x"), widgets_catalog())
    queues: list[Queue] = conf["task_queues"]
    assert [q.name for q in queues] == EVERY_QUEUE
    assert [(q.exchange.name, q.exchange.type, q.routing_key) for q in queues] == [
        (name, "direct", name) for name in EVERY_QUEUE
    ]
    app = app_for(conf)
    # What a worker started without -Q consumes.
    assert sorted(app.amqp.queues.consume_from) == sorted(EVERY_QUEUE)
    assert app.amqp.default_queue.name == "patchbay.core"


@pytest.mark.parametrize("broker", ["redis://x", AMQP_URL])
def test_a_worker_given_a_provider_queue_also_consumes_its_deferred_companion(
    broker: str,
) -> None:
    """Re-scheduled steps come back on ``.deferred``: ``-Q patchbay.widgets`` must take them."""
    assert wire.with_deferred(["patchbay.widgets", "bench"]) == [
        "patchbay.widgets",
        "patchbay.widgets.deferred",
        "bench",
    ]
    app = app_for(celery_settings.config(Settings(broker_url=broker), widgets_catalog()))
    declared = app.amqp.queues["patchbay.widgets.deferred"]
    app.amqp.queues.select(["patchbay.widgets"])  # what -Q does
    consume_deferred_companions(sender="w1@h", instance=SimpleNamespace(app=app))
    consumed = app.amqp.queues.consume_from
    assert sorted(consumed) == ["patchbay.widgets", "patchbay.widgets.deferred"]
    # The declared queue itself (on RabbitMQ a quorum queue on a topic exchange),
    # not one made up from the name.
    assert consumed["patchbay.widgets.deferred"] is declared
    assert declared.exchange.name == "patchbay.widgets.deferred"


def test_redis_keeps_its_visibility_timeout_and_no_amqp_options() -> None:
    conf = celery_settings.config(
        Settings(broker_url="redis://x", visibility_timeout=600), widgets_catalog()
    )
    assert conf["broker_transport_options"] == {
        "visibility_timeout": 600,
        "unacked_restore_interval": 60,
        "unacked_restore_throttle": 1,
    }
    assert conf["visibility_timeout"] == 600
    assert "task_default_queue_type" not in conf
    assert all(not q.queue_arguments for q in conf["task_queues"])
    assert not detect_quorum_queues(app_for(conf), "redis")[0]


@pytest.mark.parametrize(
    "url",
    [AMQP_URL, "pyamqp://h//", "amqps://u:p@h:5671/v", "amqp://a//;amqp://b//"],
)
def test_rabbitmq_gets_durable_quorum_queues_confirms_and_native_delayed_delivery(
    url: str,
) -> None:
    conf = celery_settings.config(
        Settings(broker_url=url, result_backend="redis://r", visibility_timeout=600),
        widgets_catalog(),
    )
    queues: list[Queue] = conf["task_queues"]
    assert [q.name for q in queues] == EVERY_QUEUE
    for queue in queues:
        assert queue.durable and not queue.auto_delete and not queue.exclusive
        assert queue.queue_arguments == {"x-queue-type": "quorum"}
        # Native delayed delivery only binds topic (or fanout) exchanges.
        assert (queue.exchange.name, queue.exchange.type) == (queue.name, "topic")
        assert queue.exchange.durable
        assert queue.routing_key == queue.name
    assert conf["broker_transport_options"] == {"confirm_publish": True}
    assert "visibility_timeout" not in conf
    assert conf["task_default_delivery_mode"] == "persistent"
    assert conf["task_default_queue_type"] == "quorum"
    assert conf["task_create_missing_queue_type"] == "quorum"
    assert conf["task_create_missing_queue_exchange_type"] == "topic"
    assert conf["broker_native_delayed_delivery_queue_type"] == "quorum"
    assert conf["worker_detect_quorum_queues"] is True
    assert conf["worker_prefetch_multiplier"] == 1
    app = app_for(conf)
    # Celery turns on native delayed delivery and per-consumer QoS from this.
    assert detect_quorum_queues(app, "amqp") == (True, "patchbay.widgets")
    # A queue a plain Celery client creates from a name matches ours exactly
    # (a mismatch would be refused by RabbitMQ with PRECONDITION_FAILED).
    for queue in queues:
        missing = app.amqp.queues.new_missing(queue.name)
        assert missing.queue_arguments == queue.queue_arguments
        assert (missing.exchange.name, missing.exchange.type) == (queue.name, "topic")
        assert missing.routing_key == queue.name


def test_a_send_while_the_broker_is_down_gives_up_after_a_bounded_retry() -> None:
    for url in ("redis://x", AMQP_URL):
        conf = celery_settings.config(Settings(broker_url=url), widgets_catalog())
        assert conf["task_publish_retry"] is True
        policy = conf["task_publish_retry_policy"]
        assert policy["max_retries"] == 3
        assert policy["interval_max"] <= 1
        # Workers, on the other hand, reconnect for as long as it takes.
        assert conf["broker_connection_retry"] is True
        assert conf["broker_connection_max_retries"] is None
        assert conf["worker_cancel_long_running_tasks_on_connection_loss"] is False


def test_sub_second_countdowns_are_raised_to_one_second_on_rabbitmq_only() -> None:
    assert celery_settings.broker_countdown(AMQP_URL, 0.2) == 1.0
    assert celery_settings.broker_countdown(AMQP_URL, 2.5) == 2.5
    assert celery_settings.broker_countdown(AMQP_URL, 0) == 0
    assert celery_settings.broker_countdown("redis://x", 0.2) == 0.2
    assert celery_settings.broker_countdown("memory://", 0.2) == 0.2


def test_broker_schemes() -> None:
    assert celery_settings.is_amqp("amqp://guest:guest@127.0.0.1:5672//")
    assert celery_settings.is_amqp("AMQPS://h//")
    assert celery_settings.is_amqp("pyamqp://h//")
    assert not celery_settings.is_amqp("redis://127.0.0.1:6379/0")
    assert not celery_settings.is_amqp("rediss://h/0;amqp://h//")
    assert not celery_settings.is_amqp("memory://")


def test_the_worker_publishes_its_events_without_confirms_and_steps_with_them() -> None:
    """The event connection skips publisher confirms (a confirm read off its socket by the
    event loop stalled the threads pool); steps' own messages keep them."""
    from executor.app import ExecutorRuntime
    from executor.consumer import Consumer

    runtime = ExecutorRuntime(Settings(broker_url="amqp://guest:guest@127.0.0.1:5672//"))
    try:
        app = runtime.app
        assert app.conf.worker_consumer == "executor.consumer:Consumer"
        steps = app.connection_for_write()
        assert (steps.transport_options or {}).get("confirm_publish") is True
        consumer = SimpleNamespace(app=app, ensure_connected=lambda conn: conn)
        events = Consumer.connection_for_write(consumer, heartbeat=10)  # type: ignore[arg-type]
        assert "confirm_publish" not in events.transport_options
        assert not events.connected  # nothing was contacted
        # The app's own setting is untouched for everything else.
        assert (app.connection_for_write().transport_options or {}).get("confirm_publish")
    finally:
        runtime.close()
