"""Leases of running steps: one renewal thread per process, and per-action time limits.

A worker holds a step by a lease on its ledger row (``executor.ledger``). While
the step runs, ``LeaseRenewer`` extends the lease every third of its length;
a lease found lost (another worker took the step over) raises ``LeaseLost``
in the step's next write. A delivery that overruns its action's time limit
gets ``TimeLimitExceeded`` raised in its thread, in every pool.
"""

from __future__ import annotations

import ctypes
import itertools
import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from executor.ledger import Ledger, RowSnapshot

logger = logging.getLogger("patchbay.executor")


class LeaseLost(Exception):
    """Another worker took the step over; this one must stop without writing."""


class TimeLimitExceeded(BaseException):
    """Raised inside a step's thread when its delivery overran the action's time limit.

    A BaseException, so a handler's ``except Exception`` cannot swallow it.
    """


def _raise_in_thread(thread_id: int, exc: type[BaseException] | None) -> None:
    """Schedule ``exc`` to be raised in thread ``thread_id`` (None clears a pending one).

    CPython delivers it at the thread's next bytecode boundary: a thread blocked
    in a C call (a socket read) sees it when the call returns, which the HTTP
    client's own timeouts bound.
    """
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None
    )


class LeaseRenewer:
    """One background thread per ledger: renews running steps' leases, enforces time limits.

    Each step registers its (row, owner, time limit) while it runs; every third
    of the lease the thread extends the leases. A lease found lost is flagged
    so the step drops its result instead of overwriting another worker's.

    Time limits, the same in every pool: when a step's delivery overruns its
    limit, ``TimeLimitExceeded`` is raised in the step's thread (once); from
    ``limit + grace`` on its lease is no longer renewed, so a step stuck where
    no exception reaches it (a blocking C call) expires and the sweeper hands it
    to the ledger's rules (retry if nothing was dispatched, else the read-back
    or OUTCOME_UNKNOWN). Prefork workers also have Celery's own time limits as a
    backstop (``executor.app``).
    """

    def __init__(self, ledger: Ledger, *, grace: float = 5.0) -> None:
        self._ledger = ledger
        self._grace = grace
        self._lock = threading.Lock()
        self._active: dict[int, LeaseHandle] = {}
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        # When the renewal thread wakes next (monotonic): a step whose time limit
        # ends later need not wake it (most don't: waking it every step costs a
        # worker a few percent of its CPU).
        self._sleep_until = math.inf
        self._stopping = False
        self._tokens = itertools.count()

    def hold(self, row: RowSnapshot, owner: str, *, time_limit: float | None = None) -> LeaseHandle:
        """Start renewing ``row``'s lease; use the handle as a context manager.

        ``time_limit``: seconds this delivery may run (None: no limit).
        """
        now = time.monotonic()
        handle = LeaseHandle(
            self,
            next(self._tokens),
            row=row,
            owner=owner,
            thread_id=threading.get_ident(),
            soft_deadline=None if time_limit is None else now + time_limit,
            hard_deadline=None if time_limit is None else now + time_limit + self._grace,
        )
        with self._lock:
            self._active[handle.token] = handle
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._sleep_until = math.inf
                self._thread = threading.Thread(
                    target=self._run, name="patchbay-lease-renewer", daemon=True
                )
                self._thread.start()
            nearer = handle.soft_deadline is not None and handle.soft_deadline < self._sleep_until
        if nearer:
            self._wake.set()
        return handle

    def release(self, token: int) -> None:
        with self._lock:
            self._active.pop(token, None)

    def stop(self) -> None:
        """Stop the renewal thread (a later ``hold`` starts a new one)."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stopping = True
        if thread is not None:
            self._wake.set()
            thread.join(5)

    def _run(self) -> None:
        interval = max(0.05, self._ledger.lease.total_seconds() / 3)
        next_renewal = time.monotonic() + interval
        while True:
            with self._lock:
                if self._stopping:
                    return
                handles = list(self._active.values())
            now = time.monotonic()
            for handle in handles:
                if handle.soft_deadline is not None and now >= handle.soft_deadline:
                    handle.interrupt()
            if now >= next_renewal:
                next_renewal = now + interval
                for handle in handles:
                    if handle.hard_deadline is not None and now >= handle.hard_deadline:
                        continue  # overran its limit: let the lease expire
                    try:
                        if not self._ledger.renew(handle.row, handle.owner):
                            handle.lost = True
                    except Exception:  # a database blip: the next round retries
                        logger.warning("lease renewal failed for %s", handle.row.key, exc_info=True)
            # Under the lock: a ``hold`` either comes before (its deadline is in
            # here) or after (it sees ``_sleep_until`` and wakes us if nearer).
            with self._lock:
                self._wake.clear()
                wake_at = min(
                    [next_renewal]
                    + [
                        h.soft_deadline
                        for h in self._active.values()
                        if h.soft_deadline is not None and not h.fired
                    ]
                )
                self._sleep_until = wake_at
            self._wake.wait(max(0.01, wake_at - time.monotonic()))


class LeaseHandle:
    """A registered lease; ``lost`` turns True if another worker took the step.

    ``limited()`` marks the code the time limit may interrupt (the handler);
    outside it no ``TimeLimitExceeded`` is raised, and one pending when it
    exits is cancelled (``fired`` still says the limit passed).
    """

    def __init__(
        self,
        renewer: LeaseRenewer,
        token: int,
        *,
        row: RowSnapshot,
        owner: str,
        thread_id: int,
        soft_deadline: float | None,
        hard_deadline: float | None,
    ) -> None:
        self._renewer = renewer
        self.token = token
        self.row = row
        self.owner = owner
        self.thread_id = thread_id
        self.soft_deadline = soft_deadline
        self.hard_deadline = hard_deadline
        self.lost = False
        self.fired = False
        self._inside = False
        self._guard = threading.Lock()

    def __enter__(self) -> LeaseHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self._renewer.release(self.token)

    def interrupt(self) -> None:
        """Raise ``TimeLimitExceeded`` in the step's thread, once, if it is in the handler."""
        with self._guard:
            if self.fired:
                return
            self.fired = True
            if self._inside:
                _raise_in_thread(self.thread_id, TimeLimitExceeded)

    @contextmanager
    def limited(self) -> Iterator[None]:
        with self._guard:
            if self.fired:
                raise TimeLimitExceeded()
            self._inside = True
        try:
            yield
        finally:
            with self._guard:
                self._inside = False
                if self.fired:
                    _raise_in_thread(self.thread_id, None)  # cancel one not yet delivered
