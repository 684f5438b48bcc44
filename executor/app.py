"""The Celery app: one task per integration, ``patchbay.run.<provider>``.

Wire contract (what a workflow engine in any language sends, with a plain
Celery client, protocol 2, JSON): task ``patchbay.run.<provider>`` on queue
``patchbay.<provider>``, no positional args, kwargs
``{action_id, version, tenant_id, input, run_id, step_path}``, and
**task_id = ``<tenant_id>/<idempotency key>``** (``executor.wire``). The
task's result is the outcome (``status``, ``output``, ``attempt``, ...); a
failure is raised as ``ActionFailedError`` whose message is the JSON error
payload.

The tenant in the task id keeps one tenant's result entry out of another's
reach (Celery's result backend is keyed by task id alone). A task whose id
has no tenant prefix, or names another tenant than its ``tenant_id``, is
refused by ``TenantScopedRequest`` in the worker, before Celery stores
anything under that id: it does not run, writes no ledger row and gets no
result; the worker logs a warning and sends a ``task-refused`` event.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from collections.abc import Mapping
from typing import Any

import httpx
from celery import Celery, Task
from celery.exceptions import Ignore
from celery.signals import celeryd_after_setup
from celery.worker.request import Request
from celery.worker.state import task_ready
from sqlalchemy.exc import DBAPIError

from catalog.bootstrap import build_catalog
from catalog.registration import Catalog
from executor import celery_settings, wire
from executor.api import Executor
from executor.housekeeping import Housekeeper, housekeeping_step
from executor.outbox import OutboxRelay
from executor.pipeline import (
    CELERY_LIMIT_SLACK,
    Dropped,
    Finished,
    Pipeline,
    Rejected,
    Reschedule,
    worker_identity,
)
from executor.results import outcome_from_row
from executor.settings import Settings
from executor.throttle import MemoryThrottle, RateLimit, RedisThrottle, Throttle, ThrottleBackend
from executor.wire import TaskRequest, kwargs_repr, parse_task_id, refusal
from store import Store

logger = logging.getLogger("patchbay.executor")

# httpx logs every request's full URL at INFO, and a vendor URL may carry a
# capability (Level's webhook trigger token is a path segment): a worker logs
# its steps through its own redacting lines instead.
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)

REFUSED = "refused task %s[%r]: %s; it is not run and gets no result"


class ActionFailedError(Exception):
    """The task's failure as Celery records it: the message is the JSON error payload."""

    def __init__(self, payload_json: str) -> None:
        super().__init__(payload_json)
        self.payload_json = payload_json

    @property
    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.payload_json)
        return data


class ExecutorRuntime:
    """Settings, catalog, store, throttle and Celery app of one process.

    The store and the pipeline are created lazily and again after a fork, so a
    prefork worker child never shares its parent's database connections.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        catalog: Catalog | None = None,
        *,
        transports: Mapping[str, httpx.BaseTransport] | None = None,
        throttle_backend: ThrottleBackend | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.catalog = catalog or build_catalog()
        self.transports = dict(transports or {})
        self._throttle_backend = throttle_backend
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._store: Store | None = None
        self._pipeline: Pipeline | None = None
        self.app = self._make_app()

    def __repr__(self) -> str:
        return f"ExecutorRuntime(broker={self.settings.broker_url.split('@')[-1]!r})"

    # -- lazily built, per process -----------------------------------------------

    def _ensure(self) -> tuple[Store, Pipeline]:
        with self._lock:
            if self._pid != os.getpid() or self._store is None or self._pipeline is None:
                if self._store is not None and self._pid != os.getpid():
                    # Inherited across a fork: drop the parent's pooled connections
                    # without closing them (SQLAlchemy's rule for forked children).
                    self._store.engine.dispose(close=False)
                self._store = Store.from_settings(self.settings)
                self._pipeline = Pipeline(
                    catalog=self.catalog,
                    store=self._store,
                    settings=self.settings,
                    throttle=self._make_throttle(),
                    transports=self.transports,
                )
                self._pid = os.getpid()
            return self._store, self._pipeline

    @property
    def store(self) -> Store:
        return self._ensure()[0]

    @property
    def pipeline(self) -> Pipeline:
        return self._ensure()[1]

    def _make_throttle(self) -> Throttle:
        backend = self._throttle_backend
        if backend is None:
            if self.settings.redis_url:
                import redis  # only with a shared throttle: 0.1 s to import

                backend = RedisThrottle(redis.Redis.from_url(self.settings.redis_url))
            else:
                backend = MemoryThrottle()
        limits = {
            provider: RateLimit.parse(text, margin_floor=self.settings.throttle_margin)
            for provider, text in celery_settings.rate_limits(self.settings, self.catalog).items()
        }
        return Throttle(
            backend,
            limits,
            max_wait=self.settings.throttle_max_wait,
            max_reserve=self.settings.visibility_timeout / 4,
        )

    def close(self) -> None:
        """Release database connections (the Celery app needs no closing)."""
        with self._lock:
            if self._pipeline is not None and self._pid == os.getpid():
                self._pipeline.close()
            if self._store is not None and self._pid == os.getpid():
                self._store.close()
            self._store = None
            self._pipeline = None

    # -- Celery ---------------------------------------------------------------

    def _make_app(self) -> Celery:
        app = Celery("patchbay", set_as_current=False)
        app.conf.update(celery_settings.config(self.settings, self.catalog))
        for provider in celery_settings.providers(self.catalog):
            self._register_task(app, provider)
        app.steps["worker"].add(housekeeping_step(self.housekeeper))
        return app

    def consumer_count(self, queue: str, timeout: float = 1.0) -> int | None:
        """How many consumers ``queue`` has now (None when the broker cannot tell in time).

        RabbitMQ counts them itself (a passive declare); on other brokers the
        workers are asked which queues they consume (a broadcast answered
        within ``timeout``).
        """
        try:
            if celery_settings.is_amqp(self.settings.broker_url):
                with self.app.connection_for_read() as conn:
                    channel: Any = conn.default_channel
                    return int(channel.queue_declare(queue=queue, passive=True).consumer_count)
            replies = self.app.control.inspect(timeout=timeout).active_queues() or {}
        except Exception:
            return None
        return sum(
            1 for queues in replies.values() if any(q.get("name") == queue for q in queues or [])
        )

    def outbox_relay(self) -> OutboxRelay:
        """A relay that enqueues through this runtime (see ``executor.outbox``)."""
        return OutboxRelay(
            lambda: self.store.engine, self.catalog.subscriptions, Executor(self).enqueue
        )

    def housekeeper(self) -> Housekeeper:
        """The outbox relay and ledger sweeper of one worker (see ``executor.housekeeping``)."""
        return Housekeeper(Executor(self), relay=bool(self.catalog.subscriptions))

    def time_limits(self, provider: str) -> tuple[int, int]:
        """Celery's (soft, hard) time limits for a provider's task: a backstop.

        The lease renewer stops each step at its own action's limit in every
        pool; in prefork, Celery's soft limit interrupts a step blocked in a
        system call and its hard limit kills a child that ignores it.
        """
        longest = max(
            (
                Pipeline.limit_for(spec, self.settings)
                for spec in self.catalog.actions.list()
                if self._provider_of(spec.id) == provider
            ),
            default=self.settings.step_time_limit,
        )
        soft = math.ceil(longest + CELERY_LIMIT_SLACK)
        return soft, soft + math.ceil(CELERY_LIMIT_SLACK)

    def message_time_limits(self, spec: Any) -> tuple[int, int]:
        """Celery's (soft, hard) limits for one step's message: its own action's limit.

        Messages patchbay publishes carry them; a wire engine's messages get the
        provider task's defaults (``time_limits``).
        """
        soft = math.ceil(Pipeline.limit_for(spec, self.settings) + CELERY_LIMIT_SLACK)
        return soft, soft + math.ceil(CELERY_LIMIT_SLACK)

    def _provider_of(self, action_id: str) -> str:
        module = self.catalog.modules.of_action(action_id)
        return module.provider if module else wire.CORE_PROVIDER

    def _register_task(self, app: Celery, provider: str) -> None:
        runtime = self

        def run(
            task: Task[Any, Any],
            *,
            action_id: str,
            version: int,
            tenant_id: str,
            input: Any,
            run_id: str | None = None,
            step_path: str | None = None,
        ) -> dict[str, Any]:
            task_id = str(task.request.id)
            reason = refusal(task_id, {"tenant_id": tenant_id})
            if reason is not None:
                # Reached only outside a worker (``apply``, eager mode): in a worker
                # ``TenantScopedRequest`` refuses the task before anything is stored.
                logger.warning(REFUSED, task.name, task_id, reason)
                runtime._event(task, "task-refused", {"reason": reason})
                raise Ignore()
            _tenant, key = parse_task_id(task_id)
            request = TaskRequest(
                key=key,
                action_id=action_id,
                version=version,
                tenant_id=tenant_id,
                input=input,
                run_id=run_id,
                step_path=step_path,
                provider=provider,
                redeliveries=int(task.request.retries or 0),
            )
            try:
                outcome = runtime.pipeline.execute(request, worker_identity())
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
                # The database connection dropped mid-step; the pool has been
                # refreshed. The ledger decides what the retry may do.
                logger.warning("database connection lost running %s; retrying", key)
                raise task.retry(countdown=1.0, max_retries=None) from None
            return runtime._settle(task, provider, request, outcome)

        register: Any = app.task(name=wire.task_name(provider), **self.task_options(provider))
        register(run)

    def task_options(self, provider: str) -> dict[str, Any]:
        """The Celery task options of ``patchbay.run.<provider>`` (besides its name)."""
        soft_limit, hard_limit = self.time_limits(provider)
        return {
            "bind": True,
            "soft_time_limit": soft_limit,
            "time_limit": hard_limit,
            "acks_late": True,
            "reject_on_worker_lost": True,
            "max_retries": None,
            "throws": (ActionFailedError,),
            "Request": TenantScopedRequest,
            # Not a "shared" task: each runtime's app has its own, bound to it.
            "shared": False,
        }

    @staticmethod
    def _event(task: Task[Any, Any], kind: str, fields: dict[str, Any], **more: Any) -> None:
        """A custom ``task-*`` event Flower shows as a state of the task."""
        send: Any = task.send_event
        send(kind, **fields, **more)

    def _settle(
        self, task: Task[Any, Any], provider: str, request: TaskRequest, outcome: Any
    ) -> dict[str, Any]:
        """Turn a pipeline outcome into the Celery task's state (and custom events)."""
        common: dict[str, Any] = {
            "provider": provider,
            "tenant": request.tenant_id,
            "key": request.key,
        }
        match outcome:
            case Finished(row):
                result = outcome_from_row(row).model_dump(mode="json")
                if row.error and row.error.get("code") == "OUTCOME_UNKNOWN":
                    self._event(task, "task-outcome-unknown", common, attempt=row.attempt)
                if row.status == "SUCCEEDED":
                    return result
                raise ActionFailedError(json.dumps(row.error, sort_keys=True))
            case Rejected(payload):
                raise ActionFailedError(json.dumps(payload, sort_keys=True))
            case Reschedule(countdown, reason, _row, _detail):
                if reason == "throttled":
                    self._event(task, "task-throttled", common, retry_in=round(countdown, 3))
                elif reason == "waiting":
                    self._event(task, "task-waiting", common, check_in=round(countdown, 3))
                # Re-sent messages need the safe repr again, or Flower shows raw input.
                retry: Any = task.retry  # celery-types omits the publish options
                raise retry(
                    countdown=celery_settings.broker_countdown(self.settings.broker_url, countdown),
                    queue=wire.deferred_queue_name(provider),
                    max_retries=None,
                    argsrepr="()",
                    kwargsrepr=kwargs_repr(
                        request.action_id, request.version, request.tenant_id, request.key
                    ),
                )
            case Dropped(reason, _row):
                logger.info("dropped duplicate delivery of %s: %s", request.key, reason)
                raise Ignore()
        raise AssertionError(f"unhandled outcome {outcome!r}")  # pragma: no cover


class TenantScopedRequest(Request):
    """A worker's request of a ``patchbay.run.*`` task: refuses one that is not its tenant's.

    The check must come before the pool runs the task: whatever the task body
    did, Celery would then store its outcome under the task id, which for a
    foreign id would overwrite another tenant's result. Celery asks
    ``revoked()`` on every path to the pool (and skips the task when it answers
    True), so a refused task is handled like a revoked one, minus the stored
    state: acknowledged, dropped from the worker's books, a warning and a
    ``task-refused`` event; nothing runs, nothing is stored under its id.
    """

    _refused = False

    def revoked(self) -> bool:
        if self._refused:
            return True
        reason = refusal(self.id, self.kwargs)
        if reason is None:
            return super().revoked()
        self._refused = True
        logger.warning(REFUSED, self.name, self.id, reason)
        task_ready(self)
        self.send_event("task-refused", reason=reason)
        self.acknowledge()
        return True


def consume_deferred_companions(sender: Any, instance: Any, **_: Any) -> None:
    """A worker given ``-Q patchbay.<provider>`` also consumes ``patchbay.<provider>.deferred``.

    Re-scheduled steps come back on the companion queue (``wire.deferred_queue_name``),
    so a worker of a provider's queue must take them too, however it was started.
    """
    queues = instance.app.amqp.queues
    selected = queues.consume_from
    if not selected:  # no -Q: every declared queue, companions included
        return
    for name in wire.with_deferred(list(selected)):
        if name not in selected and name in queues:
            queues.select_add(queues[name])  # the declared queue, not one made from its name


celeryd_after_setup.connect(consume_deferred_companions, weak=False)
