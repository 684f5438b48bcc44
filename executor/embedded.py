"""An in-process Celery worker thread on the ``memory://`` broker (embedded mode).

The real consumer, retries, countdowns and routing (not ``task_always_eager``,
which only emulates them), in the same process as the caller.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from celery import Celery
from celery.worker import WorkController
from kombu.transport import memory

from executor import wire

# How long the consumer's loop blocks on the in-memory broker before it looks
# again whether it should stop. Celery's own loop drains for 2 s at a time, so
# stopping a worker cost up to 2 s (most of a fast ``patchbay run``).
DRAIN_SLICE = 0.05


class MemoryTransport(memory.Transport):
    """kombu's ``memory://`` transport, draining in short slices (see ``DRAIN_SLICE``).

    Same shared in-process queues as ``memory://`` (class attributes of the
    memory channel); ``executor.celery_settings`` selects it for that URL.
    """

    # The kombu stubs give the base and the virtual transport different signatures.
    def drain_events(  # type: ignore[override]
        self, connection: Any, timeout: float | None = None
    ) -> None:
        slice_ = DRAIN_SLICE if timeout is None else min(timeout, DRAIN_SLICE)
        super().drain_events(connection, timeout=slice_)


class _ReadyWorkController(WorkController):
    """A WorkController that says when its consumer is ready."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.ready = threading.Event()
        super().__init__(*args, **kwargs)

    def on_consumer_ready(self, consumer: Any) -> None:
        self.ready.set()


class EmbeddedWorker:
    """Runs a threads-pool Celery worker for ``app`` in a background thread."""

    def __init__(self, app: Celery, *, concurrency: int = 4, providers: list[str] | None = None):
        self.app = app
        self.concurrency = concurrency
        routes = app.conf.task_routes or {}
        self.queues = sorted({route["queue"] for route in routes.values()}) or [
            wire.queue_name(wire.CORE_PROVIDER)
        ]
        if providers is not None:
            self.queues = [wire.queue_name(p) for p in providers]
        self.queues = wire.with_deferred(self.queues)
        self._controller: _ReadyWorkController | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> EmbeddedWorker:
        """Start the worker and wait until it consumes."""
        # The thread pool's workers resolve tasks through Celery's default app.
        self.app.set_default()
        self.app.set_current()
        controller = _ReadyWorkController(
            app=self.app,
            pool="threads",
            concurrency=self.concurrency,
            queues=self.queues,
            loglevel="WARNING",
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            hostname=f"embedded@{threading.get_native_id()}",
        )
        thread = threading.Thread(
            target=controller.start, name="patchbay-embedded-worker", daemon=True
        )
        thread.start()
        if not controller.ready.wait(timeout):
            raise RuntimeError("the embedded Celery worker did not start")
        self._controller, self._thread = controller, thread
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop consuming and wait for running tasks to finish."""
        controller, thread = self._controller, self._thread
        self._controller = self._thread = None
        if controller is None or thread is None:
            return
        controller.stop(in_sighandler=False)
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError("the embedded Celery worker did not stop in time")

    def __enter__(self) -> EmbeddedWorker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
