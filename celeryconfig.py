"""Celery settings for patchbay, all derived from ``PATCHBAY_*`` environment settings.

``config(settings, catalog)`` returns the settings; ``executor.app`` builds the
Celery app from it. Defaults are the embedded ones (``memory://`` broker,
in-process results); point ``PATCHBAY_BROKER_URL`` / ``PATCHBAY_RESULT_BACKEND``
at Redis to run real workers.

What the executor relies on, and why:

- late acks + reject on worker lost: a task whose worker dies is redelivered
  and meets the invocation ledger, which decides whether it may run again;
- ``worker_deduplicate_successful_tasks``: a redelivered task whose result is
  already SUCCESS is skipped (a backstop; the ledger is the source of truth);
- prefetch 1: a task re-scheduled by the throttle must not hold prefetch slots;
- a visibility timeout longer than the longest action plus any countdown
  (set in the three places Celery reads it), else Redis redelivers a task that
  is still running or waiting for its countdown;
- task events on, so Flower sees every task, state and custom event;
- per-provider task names with ``rate_limit`` annotations as per-worker
  ceilings (the shared per-account limit is the executor's throttle).
"""

from __future__ import annotations

from typing import Any

from catalog.registration import Catalog
from executor.throttle import RateLimit
from store.settings import Settings

CORE_PROVIDER = "core"


def task_name(provider: str) -> str:
    """``patchbay.run.<provider>``."""
    return f"patchbay.run.{provider}"


def queue_name(provider: str) -> str:
    """``patchbay.<provider>``."""
    return f"patchbay.{provider}"


def providers(catalog: Catalog) -> list[str]:
    """Every provider with its own task and queue: one per module, plus ``core``."""
    return [*sorted({m.provider for m in catalog.modules.list()}), CORE_PROVIDER]


# Limits vendors document per API account, for modules that do not declare one.
# Huntress: 60 requests per minute per account (its API documentation).
VENDOR_LIMITS = {"huntress": "60/m"}


def rate_limits(settings: Settings, catalog: Catalog) -> dict[str, str]:
    """Vendor limits per tenant account of the registered modules.

    A module's own ``rate_limit``, else the vendor's documented one; both
    overridden by ``PATCHBAY_RATE_LIMITS``.
    """
    limits: dict[str, str] = {}
    for module in catalog.modules.list():
        limit = module.rate_limit or VENDOR_LIMITS.get(module.provider)
        if limit:
            limits[module.provider] = limit
    limits.update(settings.rate_limits)
    return limits


def celery_rate(limit: str) -> str:
    """A limit like ``50/2s`` in the N/s form Celery's ``rate_limit`` understands."""
    parsed = RateLimit.parse(limit)
    return f"{parsed.requests / parsed.per_seconds:.6g}/s"


def config(settings: Settings | None = None, catalog: Catalog | None = None) -> dict[str, Any]:
    """The Celery settings for ``settings`` (the environment when None)."""
    settings = settings or Settings()
    if catalog is None:
        from catalog.bootstrap import build_catalog

        catalog = build_catalog()
    visibility = int(settings.visibility_timeout)
    transport_options: dict[str, Any] = {
        "visibility_timeout": visibility,
        # How often a worker looks for messages whose worker died (unacked past
        # the visibility timeout). Kombu's default sweep is every 100 s; a
        # quarter of the timeout (at most a minute) bounds recovery time.
        "unacked_restore_interval": max(1, min(60, visibility // 4)),
        "unacked_restore_throttle": 1,
    }
    if settings.broker_url.startswith("memory://"):
        # The default polling interval makes every in-process task wait ~0.5 s.
        transport_options["polling_interval"] = 0.005
    limits = rate_limits(settings, catalog)
    all_providers = providers(catalog)
    return {
        "broker_url": settings.broker_url,
        "result_backend": settings.result_backend,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": transport_options,
        "result_backend_transport_options": {"visibility_timeout": visibility},
        "visibility_timeout": visibility,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "enable_utc": True,
        "timezone": "UTC",
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_deduplicate_successful_tasks": True,
        "worker_prefetch_multiplier": 1,
        "task_track_started": True,
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "result_extended": False,
        "result_expires": 7 * 24 * 3600,
        "task_default_queue": queue_name(CORE_PROVIDER),
        "task_routes": {task_name(p): {"queue": queue_name(p)} for p in all_providers},
        "task_annotations": {
            task_name(p): {"rate_limit": celery_rate(limit)} for p, limit in limits.items()
        },
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
    }
