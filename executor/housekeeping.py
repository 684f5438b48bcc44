"""A worker's background duties: the outbox relay and the ledger sweeper, and where they run.

**The sweeper.** A step must not depend on its message coming back: a worker
killed mid-step leaves its Redis message unacknowledged until the visibility
timeout (hours), a countdown held in a dead worker's memory is gone, and a
message the broker lost before any worker saw it never arrives. So every
worker also looks at the ledger, and re-publishes with its key:

- a step whose lease expired (its worker died or overran its time limit), at once;
- a ``QUEUED`` step queued longer than ``redrive_after`` ago, or a ``WAITING`` step overdue
  by more than it, once its queue is empty (while messages wait in the queue
  its own message is most likely among them: re-publishing the whole backlog
  would only slow it down), or in any case once it is ten times that late.

The normal claim then decides what happens (take over, settle by the
read-back, ``OUTCOME_UNKNOWN``, or nothing for a copy); a final step
(``CANCELLED`` included) is never re-published. One worker sweeps at
a time (a named lease in the ``executor_locks`` table); a killed worker's
steps settle within about a lease plus a sweep interval.

**Where housekeeping runs.** Never in a process that forks: a thread holding
a lock (SQLAlchemy's mapper configuration, a connection pool, logging) when a
prefork child is forked leaves the child with a lock nobody will release. In
threads and solo pools it runs in the worker process; in a prefork pool it
runs in each child (started by ``worker_process_init``), never in the parent
that forks them. The relay's rows are kept apart by ``SKIP LOCKED`` and the
sweeper by its named lease, so running it in every child is safe.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from executor.outbox import OutboxRelay
from store import config_versions
from store.types import utcnow

if TYPE_CHECKING:
    from executor.api import Executor
    from executor.ledger import RowSnapshot

logger = logging.getLogger("patchbay.housekeeping")

SWEEPER_LOCK = "ledger-sweeper"
RELAY_INTERVAL = 0.5
# A QUEUED or overdue step this many times ``redrive_after`` late is re-published
# even while its queue holds messages (a queue that is never empty).
LONG_LATE = 10
PRUNE_EVERY = timedelta(minutes=5)


class LedgerSweeper:
    """Re-publishes steps nothing is carrying on (see the module doc)."""

    def __init__(self, executor: Executor, *, owner: str | None = None) -> None:
        self.executor = executor
        settings = executor.runtime.settings
        self.interval = settings.sweep_interval
        self.grace = timedelta(seconds=settings.redrive_after)
        self.owner = owner or f"sweeper:{uuid.uuid4().hex[:12]}"
        self._pruned_at: datetime | None = None

    def sweep_once(self) -> list[str]:
        """One sweep if this worker holds the sweeper lease; the keys re-published."""
        ledger = self.executor.runtime.pipeline.ledger
        if not ledger.try_lock(SWEEPER_LOCK, self.owner, ttl=max(3 * self.interval, 5.0)):
            return []
        now = utcnow()
        redriven: list[str] = []
        depths: dict[str, int | None] = {}
        for row in ledger.stalled(now, grace=self.grace):
            if not self._due(row, now, depths):
                continue
            if not ledger.mark_redriven(row, now):
                continue  # it moved on since it was read
            if self.executor.republish(row):
                redriven.append(row.key)
                logger.info(
                    "re-driving %s step %s (tenant=%s action=%s@%s)",
                    row.status,
                    row.key,
                    row.tenant_id,
                    row.action_id,
                    row.action_version,
                )
        self._prune(now)
        return redriven

    def _prune(self, now: datetime) -> None:
        """Every few minutes, drop superseded configuration changes (each tenant's newest
        is its version and is kept: ``store.config_versions``)."""
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        engine = self.executor.runtime.store.engine
        with engine.begin() as conn:
            pruned = config_versions.prune(conn)
        if pruned:
            logger.debug("pruned %d superseded tenant configuration changes", pruned)

    def _due(self, row: RowSnapshot, now: datetime, depths: dict[str, int | None]) -> bool:
        """Whether to re-publish ``row`` now (see the module doc)."""
        if row.status == "STARTED":
            return True  # a lease expired: nothing else will carry it
        # A QUEUED step is late from when it was queued (an operator's retry queues it again).
        queued_at = row.updated_at or row.created_at
        since = queued_at if row.status == "QUEUED" else (row.next_check_at or now)
        if now - since > LONG_LATE * self.grace:
            return True
        queue = self.executor.queue_of(row)
        if queue is None:
            return False
        if queue not in depths:
            depths[queue] = self.executor.queue_depth(queue)
        return depths[queue] == 0

    def release(self) -> None:
        try:
            self.executor.runtime.pipeline.ledger.unlock(SWEEPER_LOCK, self.owner)
        except Exception as exc:  # the database is away; the lease expires by itself
            logger.warning("could not release the sweeper lease: %s", type(exc).__name__)


class Housekeeper:
    """One thread: the outbox relay every half second, the sweeper every sweep interval."""

    def __init__(self, executor: Executor, *, relay: bool = True) -> None:
        runtime = executor.runtime
        self.relay = (
            OutboxRelay(
                lambda: runtime.store.engine, runtime.catalog.subscriptions, executor.enqueue
            )
            if relay
            else None
        )
        self.sweeper = LedgerSweeper(executor)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Housekeeper:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="patchbay-housekeeping", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join(10)
            self.sweeper.release()

    def _run(self) -> None:
        interval = RELAY_INTERVAL if self.relay is not None else self.sweeper.interval
        rounds_per_sweep = max(1, round(self.sweeper.interval / interval))
        round_no = 0
        while not self._stop.wait(interval):
            if self.relay is not None:
                self._guarded("outbox relay", self.relay.relay_once)
            if round_no % rounds_per_sweep == 0:
                self._guarded("ledger sweep", self.sweeper.sweep_once)
            round_no += 1

    @staticmethod
    def _guarded(what: str, job: Any) -> None:
        try:
            job()
        except Exception as exc:  # the broker or database is away: try again next round
            logger.warning("%s round failed: %s", what, type(exc).__name__)


def forks(pool_cls: Any) -> bool:
    """Whether a worker pool forks child processes from the worker (prefork does)."""
    module = getattr(pool_cls, "__module__", "") or str(pool_cls)
    return "prefork" in module


def housekeeping_step(factory: Any) -> Any:
    """A worker bootstep that runs a ``Housekeeper`` where it cannot poison a fork.

    ``factory()`` builds the Housekeeper (in the process that will run it).
    """
    from celery import bootsteps
    from celery.signals import worker_process_init, worker_process_shutdown

    class HousekeepingStep(bootsteps.StartStopStep):
        label = "patchbay housekeeping"

        def __init__(self, worker: Any, **kwargs: Any) -> None:
            super().__init__(worker, **kwargs)
            self.keeper: Housekeeper | None = None
            self.in_children = forks(getattr(worker, "pool_cls", None))
            if self.in_children:
                # Connected in the parent before any fork; runs in each child.
                worker_process_init.connect(self._child_start, weak=False)
                worker_process_shutdown.connect(self._child_stop, weak=False)

        def _child_start(self, **_: Any) -> None:
            self.keeper = factory().start()

        def _child_stop(self, **_: Any) -> None:
            if self.keeper is not None:
                self.keeper.stop()
                self.keeper = None

        def start(self, worker: Any) -> None:
            if not self.in_children:
                self.keeper = factory().start()

        def stop(self, worker: Any) -> None:
            if not self.in_children and self.keeper is not None:
                self.keeper.stop()
                self.keeper = None

    return HousekeepingStep
