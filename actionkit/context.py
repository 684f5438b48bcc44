"""What a handler receives besides its input, and what it may answer.

The executor builds the concrete context; integrations see only these
protocols, so no integration imports the executor or Celery.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

import httpx
from pydantic import SecretStr
from sqlalchemy.orm import Session

from actionkit.outbound import HostRules, OutboundPolicy

T = TypeVar("T")

SuccessWrite = Callable[[Session], None]
"""A write a step makes to the store only together with its SUCCEEDED outcome (``on_success``)."""


@dataclass(frozen=True)
class Pending:
    """A handler's answer "not done yet: check again in ``check_after`` seconds".

    ``state`` (small, JSON-serialisable) is saved on the ledger row and handed
    to the action's ``check`` step. ``timeout`` (seconds from the first answer)
    bounds the whole wait; past it the step ends ``TIMEOUT``. ``note`` says
    what the step waits for (shown with a ``WAITING`` step).

    ``rerun``: nothing was sent yet and the step should start over when due:
    the handler runs again (not the check step), in the same attempt, and the
    first answer's deadline still bounds the wait (e.g. waiting for a device to
    come online before sending it a command). Only before any mutating
    request: a handler that answers it after one ends ``OUTCOME_UNKNOWN``.
    """

    check_after: float
    state: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = None
    note: str = ""
    rerun: bool = False


@dataclass(frozen=True)
class NotApplied:
    """A read-back's answer "the side effect did not happen": the step may be tried again.

    An action's ``reconcile`` returns its output when the vendor shows the
    effect happened, ``NotApplied`` when it shows it did not, and raises when it
    cannot tell (the step then ends ``OUTCOME_UNKNOWN``).
    """

    reason: str = ""


class RequestGate(Protocol):
    """Called by the vendor client base before every outgoing request."""

    def before_request(
        self, method: str, url: str, *, mutating: bool, vendor: str | None = None
    ) -> Callable[[], None] | None:
        """Take a throttle token; mark the step dispatched before a mutating request.

        ``vendor``: whose rate limit the request counts against (the client's
        ``throttle_key``, e.g. ``microsoft`` for Graph), whichever action calls;
        None means the provider of the step's own module.

        Returns what to call as the request leaves (the vendor throttle's
        count of sends), or None: the client calls it right before the
        request's first byte is written, after any connect or TLS handshake.
        """
        ...


class TenantContext(Protocol):
    """What code talking to a tenant's vendor needs: its secrets, transport, policy and clock.

    The part of :class:`ActionContext` that is not about one step, so that a
    connection check (``actionkit.checks``) can authenticate with the same
    code as the actions (e.g. a vendor's token source).
    """

    @property
    def tenant_id(self) -> str: ...

    @property
    def logger(self) -> logging.LoggerAdapter[logging.Logger]: ...

    def secret(self, name: str) -> SecretStr | None:
        """A tenant secret (its value is scrubbed from every error and log)."""
        ...

    def set_secret(self, name: str, value: str | SecretStr) -> None:
        """Replace a tenant secret (e.g. a rotated OAuth token)."""
        ...

    def update_secret(
        self, name: str, update: Callable[[SecretStr | None], str | None]
    ) -> SecretStr | None:
        """Read-modify-write a secret while every other worker's update of it waits.

        ``update`` receives the current value (freshly read under the lock) and
        returns a replacement, or None to keep it. For token refresh: if another
        worker already refreshed, return None and use what it stored.
        """
        ...

    def transport(self, provider: str) -> httpx.BaseTransport | None:
        """An HTTP transport override for ``provider`` (in-process fakes), or None."""
        ...

    def outbound(self, rules: HostRules, *, allow_custom_host: bool = False) -> OutboundPolicy:
        """The outbound URL policy for a vendor connection with these host rules.

        ``allow_custom_host``: the tenant's connection explicitly allows a host
        outside ``rules.known``. Loopback hosts are allowed only in sandbox mode.
        """
        ...

    def now(self) -> datetime:
        """The current time (aware, UTC)."""
        ...


class ActionContext(TenantContext, Protocol):
    """The invocation a handler runs in."""

    @property
    def action_id(self) -> str: ...

    @property
    def idempotency_key(self) -> str: ...

    @property
    def run_id(self) -> str | None: ...

    @property
    def step_path(self) -> str | None: ...

    @property
    def attempt(self) -> int: ...

    @property
    def gate(self) -> RequestGate: ...

    def session(self) -> AbstractContextManager[Session]:
        """A unit of work on the store: committed when the block exits cleanly."""
        ...

    def remember(self, key: Hashable, load: Callable[[], T]) -> T:
        """``load()``, or what it gave when last called with ``key`` for this tenant.

        For values derived **only** from the tenant's vendor connections
        (``rmm_integrations``) and secrets: the worker keeps them until either
        changes (a version the step's claim reads; ``executor.tenant_cache``),
        saving a query per step. Anything read from other tables must be read
        afresh. ``key`` names what is loaded (e.g. ``("rmm_connection",
        provider)``); the value must not be mutated.
        """
        ...

    def redact(self, value: str) -> None:
        """Treat ``value`` as a secret from now on: scrubbed from all the step records and logs.

        For a credential the step learns from the vendor rather than the secret
        store (e.g. a capability token in a URL).
        """
        ...

    def on_success(self, write: SuccessWrite) -> None:
        """Apply ``write`` in the transaction that records this step SUCCEEDED, and only then.

        For local state that must follow the vendor (a mirrored alert marked
        resolved once the vendor accepted): the write and the step's outcome
        commit together or not at all. Writes registered by an answer that is
        not a success (an error, ``Pending``) are dropped. Should a write
        raise, the outcome is recorded without the writes and the failure is
        logged: the vendor acted, so the step is not reported failed.
        """
        ...
