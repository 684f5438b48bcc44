"""The worker's consumer: its monitoring events are published without publisher confirms.

Celery's ``Events`` bootstep opens the worker's event connection with
``Consumer.connection_for_write`` (its only caller) and registers it with the
worker's event loop, which reads that socket for broker heartbeats. With
``confirm_publish`` on (``executor.celery_settings``, for RabbitMQ), a pool
thread sending ``task-succeeded`` waits in ``recv`` for the broker's confirm
while holding the dispatcher's lock; when the event loop reads the confirm
off the shared socket first, that thread waits forever and every other
thread queues behind the lock. The threads pool stalled that way at 64 slots
(``benchmarks/pools.py``, RabbitMQ): no error, 1 % CPU, steps stuck.

Events are monitoring (Flower), not the record, which is the ledger: they
need no confirm. Steps' own messages (enqueue, retries, re-checks) keep theirs:
they go through the app's producer pool, not this connection.
"""

from __future__ import annotations

from typing import Any

from celery.worker.consumer import Consumer as CeleryConsumer


def without_confirms(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` (a connection's transport options) with publisher confirms off."""
    return {k: v for k, v in options.items() if k != "confirm_publish"}


class Consumer(CeleryConsumer):
    """Celery's consumer, with an event connection that publishes without confirms."""

    def connection_for_write(self, url: Any = None, heartbeat: Any = None) -> Any:
        conn = self.app.connection_for_write(url=url, heartbeat=heartbeat)
        # Not connected yet: the transport reads its options when it connects.
        conn.transport_options = without_confirms(dict(conn.transport_options or {}))
        return self.ensure_connected(conn)
