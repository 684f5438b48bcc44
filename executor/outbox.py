"""The outbox relay: domain events written with their change become executor steps.

An action that changes the store writes an ``domain_event_outbox`` row in the
same transaction (e.g. ``SCHEDULE_ENTRY_CREATED``). The relay reads unsent
rows, enqueues each subscribed action with the key
``outbox:<event_id>:<action_id>``, and marks the row sent only after the
broker accepted every task (at least once: a crash in between re-sends, and
the ledger makes the repeat a replay). On PostgreSQL, concurrent relays skip
each other's rows (``FOR UPDATE SKIP LOCKED``).

Every worker runs the relay in its housekeeping thread (``executor.housekeeping``),
so nothing extra has to be deployed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Engine, select, update

from catalog.registration import Subscription
from store.models import OutboxEvent
from store.types import utcnow


class Enqueue(Protocol):
    """``Executor.enqueue``'s shape, as far as the relay uses it."""

    def __call__(
        self,
        action_id: str,
        *,
        tenant_id: str,
        input: dict[str, Any],
        idempotency_key: str,
    ) -> object: ...


logger = logging.getLogger("patchbay.outbox")


@dataclass(frozen=True)
class Relayed:
    """One event turned into steps."""

    event_id: str
    event_type: str
    tenant_id: str
    handles: list[object]


class OutboxRelay:
    """Publishes outbox rows as executor steps."""

    def __init__(
        self,
        engine: Callable[[], Engine],
        subscriptions: Mapping[str, Sequence[Subscription]],
        enqueue: Enqueue,
        *,
        batch: int = 100,
    ) -> None:
        self._engine = engine
        self.subscriptions = subscriptions
        self.enqueue = enqueue
        self.batch = batch
        self._lock = threading.Lock()

    def relay_once(self) -> list[Relayed]:
        """Publish what is pending now; returns what was sent."""
        subscriptions = self.subscriptions
        engine = self._engine()
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
                        self.enqueue(
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
