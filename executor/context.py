"""The concrete action context a handler runs in, and the request gate it carries."""

from __future__ import annotations

import ctypes
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from actionkit.errors import IntegrationMisconfigured
from actionkit.outbound import HostRules, OutboundPolicy
from executor.ledger import Ledger, RowSnapshot
from executor.payload import Redactor
from executor.throttle import Throttle
from store.secrets import ChainedSecretStore

logger = logging.getLogger("patchbay.executor")

# Once a step has sent a mutating request it must not be re-run from the start
# for want of a throttle token; later requests of the same step wait this long.
DISPATCHED_MAX_WAIT = 120.0


class StepLogger(logging.LoggerAdapter[logging.Logger]):
    """Log lines that carry tenant, action, key and attempt, as fields and in the text.

    The fields (``record.tenant`` ...) serve structured handlers; the suffix
    keeps them visible under Celery's plain worker log format.
    """

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        fields = dict(self.extra or {})
        kwargs["extra"] = {**fields, **kwargs.get("extra", {})}
        suffix = " ".join(f"{k}={v}" for k, v in fields.items())
        return f"{msg} [{suffix}]", kwargs


class LeaseLost(Exception):
    """Another worker took the step over; this one must stop without writing."""


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

    def before_request(
        self, method: str, url: str, *, mutating: bool, vendor: str | None = None
    ) -> None:
        provider = vendor or self._provider
        if self._reserved_at is not None and provider == self._provider:
            # An earlier delivery of this step reserved the slot: use it.
            self.throttle_wait += self._throttle.wait_for(
                provider, self._tenant_id, self._reserved_at
            )
            self._reserved_at = None
        else:
            max_wait = DISPATCHED_MAX_WAIT if self.dispatched else None
            self.throttle_wait += self._throttle.acquire(
                provider, self._tenant_id, max_wait=max_wait
            )
        if mutating and self._marks_dispatch and not self.dispatched:
            if not self._ledger.mark_dispatched(self._row, self._owner):
                raise LeaseLost(self._row.key)
            self.dispatched = True
        self.throttle_wait += self._throttle.admit(provider, self._tenant_id)
        self.requests += 1


class InvocationContext:
    """Implements ``actionkit.context.ActionContext`` for one attempt of one step."""

    def __init__(
        self,
        *,
        tenant_id: str,
        action_id: str,
        action_version: int,
        idempotency_key: str,
        run_id: str | None,
        step_path: str | None,
        attempt: int,
        sessions: sessionmaker[Session],
        secrets: ChainedSecretStore,
        redactor: Redactor,
        gate: InvocationGate,
        transports: Mapping[str, httpx.BaseTransport],
        clock: Callable[[], datetime],
        sandbox: bool = False,
    ) -> None:
        self.tenant_id = tenant_id
        self.action_id = action_id
        self.action_version = action_version
        self.idempotency_key = idempotency_key
        self.run_id = run_id
        self.step_path = step_path
        self.attempt = attempt
        self.gate = gate
        self.redactor = redactor
        self._sessions = sessions
        self._secrets = secrets
        self._transports = transports
        self._clock = clock
        self._sandbox = sandbox
        self.logger = StepLogger(
            logger,
            {
                "tenant": tenant_id,
                "action": f"{action_id}@{action_version}",
                "key": idempotency_key,
                "attempt": attempt,
            },
        )

    def __repr__(self) -> str:
        return f"InvocationContext(tenant={self.tenant_id!r}, key={self.idempotency_key!r})"

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def secret(self, name: str) -> SecretStr | None:
        value = self._secrets.get(self.tenant_id, name)
        if value is not None:
            self.redactor.add(value.get_secret_value())
        return value

    def set_secret(self, name: str, value: str | SecretStr) -> None:
        plain = value.get_secret_value() if isinstance(value, SecretStr) else value
        self.redactor.add(plain)
        self._secrets.set(self.tenant_id, name, plain)

    def update_secret(
        self, name: str, update: Callable[[SecretStr | None], str | None]
    ) -> SecretStr | None:
        if self._secrets.env.get(self.tenant_id, name) is not None:
            # The environment is read first: a rotated value written to the
            # database would never be seen again.
            raise IntegrationMisconfigured(
                f"tenant secret {name!r} comes from the environment "
                f"({self._secrets.env.variable(self.tenant_id, name)}); a credential that "
                "rotates must be stored with `patchbay connect ... --secret` instead"
            )

        def tracked(current: SecretStr | None) -> str | None:
            if current is not None:
                self.redactor.add(current.get_secret_value())
            new = update(current)
            if new is not None:
                self.redactor.add(new)
            return new

        value = self._secrets.database.update_locked(self.tenant_id, name, tracked)
        if value is not None:
            self.redactor.add(value.get_secret_value())
        return value

    def transport(self, provider: str) -> httpx.BaseTransport | None:
        return self._transports.get(provider)

    def outbound(self, rules: HostRules, *, allow_custom_host: bool = False) -> OutboundPolicy:
        return OutboundPolicy(rules, allow_custom_host=allow_custom_host, sandbox=self._sandbox)

    def now(self) -> datetime:
        return self._clock()


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
                self._thread = threading.Thread(
                    target=self._run, name="patchbay-lease-renewer", daemon=True
                )
                self._thread.start()
        self._wake.set()  # a new deadline may be the nearest
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
            wake_at = min(
                [next_renewal]
                + [h.soft_deadline for h in handles if h.soft_deadline and not h.fired]
            )
            self._wake.wait(max(0.01, wake_at - time.monotonic()))
            self._wake.clear()


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
