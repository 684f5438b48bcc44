"""The concrete action context a handler runs in, and the request gate it carries."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime

import httpx
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from executor.ledger import Ledger, RowSnapshot
from executor.payload import Redactor
from executor.throttle import Throttle
from store.secrets import SecretStore

logger = logging.getLogger("patchbay.executor")

# Once a step has sent a mutating request it must not be re-run from the start
# for want of a throttle token; later requests of the same step wait this long.
DISPATCHED_MAX_WAIT = 120.0


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
    ) -> None:
        self._throttle = throttle
        self._provider = provider
        self._tenant_id = tenant_id
        self._ledger = ledger
        self._row = row
        self._owner = owner
        self._marks_dispatch = marks_dispatch
        self.dispatched = False
        self.requests = 0
        self.throttle_wait = 0.0

    def before_request(self, method: str, url: str, *, mutating: bool) -> None:
        max_wait = DISPATCHED_MAX_WAIT if self.dispatched else None
        self.throttle_wait += self._throttle.acquire(
            self._provider, self._tenant_id, max_wait=max_wait
        )
        if mutating and self._marks_dispatch and not self.dispatched:
            if not self._ledger.mark_dispatched(self._row, self._owner):
                raise LeaseLost(self._row.key)
            self.dispatched = True
        self.requests += 1


class InvocationContext:
    """Implements ``catalog.context.ActionContext`` for one attempt of one step."""

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
        secrets: SecretStore,
        redactor: Redactor,
        gate: InvocationGate,
        transports: Mapping[str, httpx.BaseTransport],
        clock: Callable[[], datetime],
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
        self.logger = logging.LoggerAdapter(
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

    def transport(self, provider: str) -> httpx.BaseTransport | None:
        return self._transports.get(provider)

    def now(self) -> datetime:
        return self._clock()


class LeaseKeeper:
    """Renews the lease in the background while a step runs (every third of it)."""

    def __init__(self, ledger: Ledger, row: RowSnapshot, owner: str) -> None:
        self._ledger = ledger
        self._row = row
        self._owner = owner
        self._stop = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._run, name=f"lease:{row.key}"[:60], daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        interval = max(0.05, self._ledger.lease.total_seconds() / 3)
        while not self._stop.wait(interval):
            try:
                if not self._ledger.renew(self._row, self._owner):
                    self.lost = True
                    return
            except Exception:  # a database blip: the next round retries
                logger.warning("lease renewal failed for %s", self._row.key, exc_info=True)
