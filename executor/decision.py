"""The idempotency decision: what a delivery of a key may do, given its ledger row.

One pure function, ``decide(row, request, now)``, used by both sides:

- the ledger's claim (``Ledger.claim``) turns its answer into one guarded
  UPDATE (take the lease, restart, or nothing);
- the enqueue API (``Executor.enqueue``) sends a message unless the answer is
  ``Answer`` (final: the stored outcome stands) and refuses on ``Refuse``.

The rules (README, "Delivery semantics" and "Failure rules"):

- another input under the same key: ``Refuse`` (IDEMPOTENCY_CONFLICT);
- ``QUEUED``: take it, attempt 1;
- ``CANCELLED``: ``Answer`` (an operator ended it; only ``patchbay step retry``
  runs it again);
- ``SUCCEEDED``: read-only actions run again (``Take``, restart); others
  ``Answer``;
- ``FAILED``: a retryable failure (or a read-only action) runs a new attempt;
  otherwise ``Answer``;
- ``WAITING``: not due yet (more than a second ahead): ``Skip``; due: take it
  (a ``check`` keeps its attempt, a ``retry`` starts the next, a throttled
  step starts at the slot it reserved, a ``deferred`` one starts over in the
  same attempt);
- ``STARTED`` with a live lease: ``Wait`` for it; expired lease: a waiting
  check is taken over as a check; a side effect already dispatched is read
  back (``reconcile``) when the action can, else ``GiveUp`` (OUTCOME_UNKNOWN)
  unless the action is safe to repeat; too many lost attempts: ``GiveUp``
  (attempts exhausted); otherwise taken over as the next attempt.

What an operator may do with a step (``operator_refusal``): cancel one that
is ``WAITING`` or ``QUEUED`` (nothing is running it; a step being run is not
interrupted mid-call), retry one that ended ``FAILED`` or ``CANCELLED`` (never
one that succeeded).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from executor.ledger import RowSnapshot

Phase = Literal["start", "check", "reconcile"]
# A WAITING step due within this margin is taken now rather than skipped.
DUE_MARGIN = timedelta(seconds=1)


class Request(Protocol):
    """What the decision needs to know of a delivery (``executor.ledger.ClaimRequest``)."""

    @property
    def input_hash(self) -> str: ...

    @property
    def side_effectful(self) -> bool: ...

    @property
    def safe_to_repeat(self) -> bool: ...

    @property
    def reconcilable(self) -> bool: ...

    @property
    def max_attempts(self) -> int: ...


@dataclass(frozen=True)
class Take:
    """Take the lease and run ``phase`` as ``attempt``.

    ``restart``: a final row starts over (its outcome and timestamps cleared).
    ``takeover``: the lease of a lost worker is taken. ``reserved_at``: a
    throttle slot an earlier delivery reserved.
    """

    attempt: int
    phase: Phase = "start"
    restart: bool = False
    takeover: bool = False
    reserved_at: float | None = None


@dataclass(frozen=True)
class Answer:
    """The stored final outcome stands: call nothing."""


@dataclass(frozen=True)
class Wait:
    """A live lease holds the step: look again in ``retry_in`` seconds."""

    retry_in: float


@dataclass(frozen=True)
class Skip:
    """A waiting step whose re-check is already scheduled: this copy is a duplicate."""


@dataclass(frozen=True)
class Refuse:
    """The key was first used with another input."""


@dataclass(frozen=True)
class GiveUp:
    """End the step FAILED: its worker was lost after dispatching a side effect that cannot
    be read back or repeated (``outcome_unknown``), or on every attempt
    (``attempts_exhausted``)."""

    reason: Literal["outcome_unknown", "attempts_exhausted"]


Transition = Take | Answer | Wait | Skip | Refuse | GiveUp

OperatorAction = Literal["cancel", "retry"]
CANCELLABLE = ("WAITING", "QUEUED")
RETRYABLE = ("FAILED", "CANCELLED")


def decide(row: RowSnapshot, req: Request, now: datetime) -> Transition:
    """What a delivery carrying ``req`` may do with the existing ``row`` (see module doc)."""
    if row.input_hash != req.input_hash:
        return Refuse()
    if row.status == "QUEUED":
        return Take(attempt=1)
    if row.status == "CANCELLED":
        return Answer()
    repeatable = not req.side_effectful
    if row.status == "SUCCEEDED":
        return Take(attempt=row.attempt + 1, restart=True) if repeatable else Answer()
    if row.status == "FAILED":
        retryable = bool((row.error or {}).get("retryable"))
        if retryable or repeatable:
            return Take(attempt=row.attempt + 1, restart=True)
        return Answer()
    if row.status == "WAITING":
        if row.next_check_at is not None and row.next_check_at > now + DUE_MARGIN:
            return Skip()
        wait_state = row.wait_state or {}
        kind = wait_state.get("kind")
        if kind == "check":
            held = wait_state.get("reserved_at")
            return Take(
                attempt=row.attempt,
                phase="check",
                reserved_at=None if held is None else float(held),
            )
        if kind == "throttled":
            reserved = (wait_state.get("state") or {}).get("reserved_at")
            return Take(
                attempt=row.attempt, reserved_at=None if reserved is None else float(reserved)
            )
        return Take(attempt=row.attempt + 1 if kind == "retry" else row.attempt)
    # STARTED
    if row.lease_expires_at is not None and row.lease_expires_at > now:
        return Wait((row.lease_expires_at - now).total_seconds())
    if (row.wait_state or {}).get("kind") == "check":
        return Take(attempt=row.attempt, phase="check", takeover=True)
    if row.dispatched_at is not None and req.side_effectful and not req.safe_to_repeat:
        if req.reconcilable:
            return Take(attempt=row.attempt, phase="reconcile", takeover=True)
        return GiveUp("outcome_unknown")
    if row.attempt >= req.max_attempts:
        return GiveUp("attempts_exhausted")
    return Take(attempt=row.attempt + 1, takeover=True)


def sends_message(transition: Transition) -> bool:
    """Whether the enqueue API publishes a message for a key already in the ledger.

    Everything but a final outcome does: a step in flight may have lost its
    own message (a copy revives it and is answered without running twice).
    """
    return not isinstance(transition, Answer | Refuse)


def operator_refusal(row: RowSnapshot, action: OperatorAction) -> str | None:
    """Why an operator may not ``action`` the step of ``row`` now (one line), or None."""
    allowed = CANCELLABLE if action == "cancel" else RETRYABLE
    if row.status in allowed:
        return None
    if row.final:
        return f"step {row.key} already {row.status}; nothing to {action}"
    if action == "cancel":
        return (
            f"step {row.key} is running (attempt {row.attempt}) and cannot be stopped mid-call; "
            "cancel it once it is WAITING, or retry it once it has ended"
        )
    return f"step {row.key} is {row.status}, not ended: it still runs on its own"
