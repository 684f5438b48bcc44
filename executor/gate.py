"""The request gate: what runs before every vendor request a step sends.

A throttle token (the vendor's limit, shared by all workers), and before the
first mutating request the step's "dispatched" mark in the ledger, so a lost
worker's step is never blindly repeated after its side effect may have happened.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from executor.lease import LeaseLost
from executor.ledger import Ledger, RowSnapshot
from executor.throttle import Throttle

# Once a step has sent a mutating request it must not be re-run from the start
# for want of a throttle token; later requests of the same step wait this long.
DISPATCHED_MAX_WAIT = 120.0


class InvocationGate:
    """Throttle token before every request; the "dispatched" mark before a mutating one."""

    def __init__(
        self,
        *,
        throttle: Throttle,
        provider: str,
        tenant_id: str,
        ledger: Ledger,
        row: RowSnapshot,
        owner: str,
        marks_dispatch: bool,
        reserved_at: float | None = None,
    ) -> None:
        self._throttle = throttle
        self._reserved_at = reserved_at
        self._provider = provider
        self._tenant_id = tenant_id
        self._ledger = ledger
        self._row = row
        self._owner = owner
        self._marks_dispatch = marks_dispatch
        self.dispatched = False
        self.requests = 0
        self.throttle_wait = 0.0
        self._slot_held = False

    def take_slot(self) -> None:
        """Take the step's first throttle slot before its handler runs.

        A step deferred by the throttle then cost its worker no connection
        look-up, secret or client; its first request to its own provider
        uses the slot. Raises ``Throttled`` as ``before_request`` would.
        """
        if self._reserved_at is None and not self._slot_held:
            self.throttle_wait += self._throttle.acquire(self._provider, self._tenant_id)
            self._slot_held = True

    def before_request(
        self, method: str, url: str, *, mutating: bool, vendor: str | None = None
    ) -> Callable[[], None]:
        provider = vendor or self._provider
        if self._reserved_at is not None and provider == self._provider:
            # An earlier delivery of this step reserved the slot: use it.
            self.throttle_wait += self._throttle.wait_for(
                provider, self._tenant_id, self._reserved_at
            )
            self._reserved_at = None
        elif self._slot_held and provider == self._provider:
            self._slot_held = False  # taken by take_slot() before the handler ran
        else:
            max_wait = DISPATCHED_MAX_WAIT if self.dispatched else None
            self.throttle_wait += self._throttle.acquire(
                provider, self._tenant_id, max_wait=max_wait
            )
        if mutating and self._marks_dispatch and not self.dispatched:
            if not self._ledger.mark_dispatched(self._row, self._owner):
                raise LeaseLost(self._row.key)
            self.dispatched = True
        self.requests += 1
        return functools.partial(self._leaving, provider)

    def _leaving(self, provider: str) -> None:
        """The request leaves now: the send log counts it.

        If the send log's window is full for longer than the throttle's short
        wait, a step that has sent nothing mutating leaves the worker
        (``Throttled``, to come back then) rather than hold it; one that has
        must finish, so it waits.
        """
        max_wait = None if self.dispatched else self._throttle.max_wait
        self.throttle_wait += self._throttle.admit(provider, self._tenant_id, max_wait=max_wait)
