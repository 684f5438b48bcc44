"""Celery settings for patchbay, all derived from ``PATCHBAY_*`` environment settings.

``config(settings, catalog)`` returns the settings; ``executor.app`` builds the
Celery app from it (the top-level ``celeryconfig.py`` only exposes them under
the name Celery's conventions expect, for a plain ``celery`` command).
Defaults are the embedded ones (``memory://`` broker, in-process results);
point ``PATCHBAY_BROKER_URL`` at RabbitMQ (production) or Redis, and
``PATCHBAY_RESULT_BACKEND`` at Redis, to run real workers.

What the executor relies on, and why:

- every provider queue declared in ``task_queues``, so a worker started
  without ``-Q`` consumes all of them, each with its ``.deferred`` companion
  where re-scheduled steps come back (not behind a backlog of first
  deliveries: measured, it took the Huntress benchmark's re-deliveries from
  up to 3.7 s late to 0.24 s);
- late acks + reject on worker lost: a task whose worker dies is redelivered
  and meets the invocation ledger, which decides whether it may run again;
- ``worker_deduplicate_successful_tasks``: a redelivered task whose result is
  already SUCCESS is skipped (a backstop; the ledger is the source of truth);
- prefetch 1: a task re-scheduled by the throttle must not hold prefetch slots;
- persistent messages, and a bounded publish retry: a send while the broker
  is unreachable raises within seconds instead of hanging;
- task events on, so Flower sees every task, state and custom event;
- per-provider task names with ``rate_limit`` annotations as per-worker
  ceilings (the shared per-account limit is the executor's throttle). The
  ceiling is the vendor's limit times ``PATCHBAY_WORKER_CEILING_FACTOR``
  (10): it counts every delivery of every tenant's step (a throttled step
  takes two), and a task held by it keeps its worker's prefetch slot, so
  the worker stops fetching. At the vendor's own limit it starved the
  workers: 0.40 to 0.90 of the limit in the Huntress benchmark, the second
  tenant waiting up to 86% of the first one's drain.

On RabbitMQ (``amqp://``, ``amqps://``, ``pyamqp://``):

- durable quorum queues (replicated, fsynced Raft log) bound to a topic
  exchange of the same name, as Celery's native delayed delivery requires;
- publisher confirms: ``send_task`` returns only once the broker has the
  message, and raises otherwise;
- native delayed delivery: a countdown or ETA (retry, wait on the vendor,
  throttle deferral) waits in the broker's ``celery_delayed_*`` queues, not
  unacknowledged in a worker's memory (so no visibility timeout, and nothing
  near RabbitMQ's ``consumer_timeout``);
- per-consumer prefetch (quorum queues have no global QoS; Celery detects
  them, ``worker_detect_quorum_queues``).

On Redis: a visibility timeout longer than the longest action plus any
countdown (set in the three places Celery reads it), else Redis redelivers a
task that is still running or waiting for its countdown.
"""

from __future__ import annotations

from typing import Any

from kombu import Exchange, Queue

from actionkit.ratelimit import RateLimit
from catalog.registration import Catalog
from executor.settings import Settings
from executor.wire import CORE_PROVIDER, deferred_queue_name, queue_name, task_name

# Broker URL schemes served by RabbitMQ (py-amqp).
AMQP_SCHEMES = frozenset({"amqp", "amqps", "pyamqp"})

# kombu's memory:// transport with a consumer loop that stops at once.
EMBEDDED_TRANSPORT = "executor.embedded:MemoryTransport"

# A send while the broker is unreachable: a few quick reconnects (about 1.5 s
# in all), then ``send_task`` raises (kombu's OperationalError) rather than
# blocking its caller.
PUBLISH_RETRY_POLICY = {
    "max_retries": 3,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}


def providers(catalog: Catalog) -> list[str]:
    """Every provider with its own task and queue: one per module, plus ``core``."""
    return [*sorted({m.provider for m in catalog.modules.list()}), CORE_PROVIDER]


def is_amqp(broker_url: str) -> bool:
    """True for a RabbitMQ broker URL (the first one of a ``;``-separated failover list)."""
    scheme = broker_url.split(";", 1)[0].strip().split("://", 1)[0]
    return scheme.lower() in AMQP_SCHEMES


def broker_countdown(broker_url: str, countdown: float) -> float:
    """The countdown to give ``task.retry`` on this broker.

    With native delayed delivery (RabbitMQ quorum queues) Celery 5.7 refuses a
    countdown between 0 and 1 s (``ValueError: countdown must be a positive
    number``) and routes longer ones by whole seconds; so on RabbitMQ a
    positive countdown is at least 1 s. Elsewhere it is unchanged.
    """
    if countdown > 0 and is_amqp(broker_url):
        return max(countdown, 1.0)
    return countdown


def task_queues(catalog: Catalog, *, amqp: bool) -> list[Queue]:
    """Two queues per provider, ``patchbay.<provider>`` and its ``.deferred``
    companion (``executor.wire.deferred_queue_name``), routing key = queue name.

    On RabbitMQ a durable quorum queue bound to a durable *topic* exchange of
    the same name (native delayed delivery skips direct exchanges); this is
    also exactly what a plain Celery client declares for ``queue=...`` with
    ``task_create_missing_queue_type="quorum"`` and
    ``task_create_missing_queue_exchange_type="topic"``. Elsewhere the direct
    exchange Celery creates for a named queue by default.
    """
    queues = []
    for provider in providers(catalog):
        for name in (queue_name(provider), deferred_queue_name(provider)):
            if amqp:
                queue = Queue(
                    name,
                    Exchange(name, type="topic", durable=True),
                    routing_key=name,
                    durable=True,
                    queue_arguments={"x-queue-type": "quorum"},
                )
            else:
                queue = Queue(name, Exchange(name, type="direct"), routing_key=name)
            queues.append(queue)
    return queues


def rate_limits(settings: Settings, catalog: Catalog) -> dict[str, str]:
    """Vendor limits per tenant account: each vendor's declared ``rate_limit``
    (``catalog.vendors``), overridden by ``PATCHBAY_RATE_LIMITS``."""
    limits = catalog.vendors.rate_limits()
    limits.update(settings.rate_limits)
    return limits


def celery_rate(limit: str, factor: float = 1.0) -> str:
    """``factor`` times a limit like ``50/2s``, in the N/s form of Celery's ``rate_limit``."""
    parsed = RateLimit.parse(limit)
    return f"{factor * parsed.requests / parsed.per_seconds:.6g}/s"


def config(settings: Settings | None = None, catalog: Catalog | None = None) -> dict[str, Any]:
    """The Celery settings for ``settings`` (the environment when None)."""
    settings = settings or Settings()
    if catalog is None:
        from catalog.bootstrap import build_catalog

        catalog = build_catalog()
    amqp = is_amqp(settings.broker_url)
    visibility = int(settings.visibility_timeout)
    transport_options: dict[str, Any]
    if amqp:
        # Publisher confirms: a publish returns once the broker has taken the
        # message (quorum queues: written to a majority), else it raises.
        transport_options = {"confirm_publish": True}
    else:
        transport_options = {
            "visibility_timeout": visibility,
            # How often a worker looks for messages whose worker died (unacked
            # past the visibility timeout). Kombu's default sweep is every
            # 100 s; a quarter of the timeout (at most a minute) bounds recovery.
            "unacked_restore_interval": max(1, min(60, visibility // 4)),
            "unacked_restore_throttle": 1,
        }
    embedded = settings.broker_url.startswith("memory://")
    if embedded:
        # The default polling interval makes every in-process task wait ~0.5 s.
        transport_options["polling_interval"] = 0.005
    limits = rate_limits(settings, catalog)
    all_providers = providers(catalog)
    conf: dict[str, Any] = {
        "broker_url": settings.broker_url,
        "result_backend": settings.result_backend,
        "broker_connection_retry_on_startup": True,
        # Workers reconnect by themselves after a broker restart, for as long
        # as it takes (Celery's default gives up after 100 attempts).
        "broker_connection_retry": True,
        "broker_connection_max_retries": None,
        "broker_transport_options": transport_options,
        # A worker keeps running the steps it holds when the broker connection
        # drops; their deliveries come back and meet the ledger (a step in
        # flight is not run twice, a finished one answers with its outcome).
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "result_backend_transport_options": {"visibility_timeout": visibility},
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "enable_utc": True,
        "timezone": "UTC",
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_deduplicate_successful_tasks": True,
        "worker_prefetch_multiplier": 1,
        # No STARTED in the result backend: two of its round trips on every step
        # (a read, then a write), and the ledger already says a step is running.
        # Flower still shows it started (the worker's task-started event).
        "task_track_started": False,
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        # Its event connection publishes without confirms (see the module).
        "worker_consumer": "executor.consumer:Consumer",
        "result_extended": False,
        "result_expires": 7 * 24 * 3600,
        "task_default_delivery_mode": "persistent",
        "task_publish_retry": True,
        "task_publish_retry_policy": dict(PUBLISH_RETRY_POLICY),
        "task_queues": task_queues(catalog, amqp=amqp),
        "task_default_queue": queue_name(CORE_PROVIDER),
        "task_routes": {task_name(p): {"queue": queue_name(p)} for p in all_providers},
        "task_annotations": {
            task_name(p): {"rate_limit": celery_rate(limit, settings.worker_ceiling_factor)}
            for p, limit in limits.items()
            if p in all_providers and settings.worker_ceiling_factor > 0
        },
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
    }
    if embedded:
        # memory:// whose consumer loop stops within 50 ms, not 2 s (executor.embedded).
        conf["broker_transport"] = EMBEDDED_TRANSPORT
    if amqp:
        conf.update(
            {
                # Any queue Celery declares on its own is a quorum queue on a
                # topic exchange too (same arguments as ``task_queues``).
                "task_default_queue_type": "quorum",
                "task_default_exchange_type": "topic",
                "task_create_missing_queue_type": "quorum",
                "task_create_missing_queue_exchange_type": "topic",
                # Native delayed delivery (on with quorum queues): countdowns
                # and ETAs wait in the broker's celery_delayed_* quorum queues.
                "broker_native_delayed_delivery_queue_type": "quorum",
                # Quorum queues refuse global QoS: prefetch per consumer.
                "worker_detect_quorum_queues": True,
            }
        )
    else:
        conf["visibility_timeout"] = visibility
    return conf
