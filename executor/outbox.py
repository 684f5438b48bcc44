"""The outbox relay: domain events written with their change become executor steps.

An action that changes the store writes an ``domain_event_outbox`` row in the
same transaction (e.g. ``SCHEDULE_ENTRY_CREATED``). The relay reads unsent
rows, enqueues each subscribed action with the key
``outbox:<event_id>:<action_id>``, and marks the row sent only after the
broker accepted every task (at least once: a crash in between re-sends, and
the ledger makes the repeat a replay). On PostgreSQL, concurrent relays skip
each other's rows (``FOR UPDATE SKIP LOCKED``).

Every worker process runs one relay thread (a Celery bootstep), so nothing
extra has to be deployed; ``relay_once`` is also called right after a step
that wrote events, for low latency.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from store.models import OutboxEvent
from store.types import utcnow

if TYPE_CHECKING:
    from executor.api import Executor, InvocationHandle

logger = logging.getLogger("patchbay.outbox")


@dataclass(frozen=True)
class Relayed:
    """One event turned into steps."""

    event_id: str
    event_type: str
    tenant_id: str
    handles: list[InvocationHandle]


class OutboxRelay:
    """Publishes outbox rows as executor steps."""

    def __init__(self, executor: Executor, *, batch: int = 100, interval: float = 0.5) -> None:
        self.executor = executor
        self.batch = batch
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def relay_once(self) -> list[Relayed]:
        """Publish what is pending now; returns what was sent."""
        runtime = self.executor.runtime
        subscriptions = runtime.catalog.subscriptions
        engine = runtime.store.engine
        sent: list[Relayed] = []
        # One relay at a time per process; other processes are kept apart by the row locks.
        with self._lock, engine.begin() as conn:
            query = (
                select(OutboxEvent)
                .where(OutboxEvent.published_at.is_(None))
                .order_by(OutboxEvent.created_at)
                .limit(self.batch)
            )
            if engine.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = conn.execute(query).all()
            for row in rows:
                handles = []
                for sub in subscriptions.get(row.event_type, []):
                    handles.append(
                        self.executor.enqueue(
                            sub.action_id,
                            tenant_id=row.tenant,
                            input=sub.build_input(dict(row.payload)),
                            idempotency_key=f"outbox:{row.event_id}:{sub.action_id}",
                        )
                    )
                conn.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.tenant == row.tenant, OutboxEvent.event_id == row.event_id)
                    .values(
                        published_at=utcnow(), publish_attempts=OutboxEvent.publish_attempts + 1
                    )
                )
                sent.append(Relayed(str(row.event_id), row.event_type, row.tenant, handles))
        for relayed in sent:
            logger.info(
                "relayed %s %s to %d step(s)",
                relayed.event_type,
                relayed.event_id,
                len(relayed.handles),
            )
        return sent

    def start(self) -> OutboxRelay:
        """Relay in a background thread until ``stop``."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="patchbay-outbox", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.relay_once()
            except Exception as exc:  # the broker or database is away: try again next round
                logger.warning("outbox relay round failed: %s", type(exc).__name__)


def relay_step(relay_factory: Any) -> Any:
    """A Celery worker bootstep that runs the relay for the worker's lifetime."""
    from celery import bootsteps

    class OutboxRelayStep(bootsteps.StartStopStep):
        def __init__(self, worker: Any, **kwargs: Any) -> None:
            super().__init__(worker, **kwargs)
            self.relay: OutboxRelay | None = None

        def start(self, worker: Any) -> None:
            self.relay = relay_factory().start()

        def stop(self, worker: Any) -> None:
            if self.relay is not None:
                self.relay.stop()

    return OutboxRelayStep
