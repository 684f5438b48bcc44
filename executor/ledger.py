"""The invocation ledger: the idempotency state machine on ``workflow_action_invocations``.

One row per (tenant, idempotency key). Statuses:

- ``QUEUED``   recorded by ``executor.enqueue`` before its message was
  published (attempt 0); a worker's claim turns it into ``STARTED``;
- ``STARTED``  a worker holds a lease and runs the step (renewed while it runs);
- ``WAITING``  nothing runs; the step is due again at ``next_check_at``: the
  vendor is still working (``wait_state.kind = "check"``), a retry is
  scheduled after a retryable failure (``"retry"``), the throttle deferred
  it (``"throttled"``), or the handler asked to start over later without
  having sent anything (``"deferred"``, e.g. a device offline);
- ``SUCCEEDED`` / ``FAILED``  final (``completed_at`` is set);
- ``CANCELLED`` final too: an operator cancelled the step while it was
  ``WAITING`` or ``QUEUED`` (``patchbay step cancel``); every later delivery
  of its key is answered with that outcome and runs nothing, until an
  operator opens it again (``reopen``, ``patchbay step retry``).

Each row keeps its attempt history (``history``, see ``executor.history``):
the claim opens an entry and the transition that ends the attempt closes it,
in the same statement, so the history adds no round trip.

Every transition is a conditional UPDATE on the state that was read, so two
workers racing for the same row cannot both win; there is no lock held across
a vendor call. The claim decides, for a task carrying a key:

- no row, or a ``QUEUED`` row with the same input: ``STARTED`` (attempt 1) and run;
- input hash differs: ``IDEMPOTENCY_CONFLICT``;
- ``SUCCEEDED``: return the stored output (read-only actions run again);
- ``CANCELLED``: return the stored outcome;
- final ``FAILED``: return the stored error, unless it was retryable (or the
  action is read-only): then a new attempt on the same row;
- ``WAITING`` and due: run (the check step for ``"check"``); not due: a
  duplicate, dropped;
- ``STARTED`` with a live lease: a duplicate in flight, looked at again later;
- ``STARTED`` with an expired lease (the worker died or overran its time
  limit): taken over if nothing was dispatched or the action may be repeated;
  if a side effect was dispatched, the action's read-back (``reconcile``)
  settles it when it declares one, else ``OUTCOME_UNKNOWN``.

Nothing here waits for a message to come back: ``stalled`` lists the rows a
sweeper must re-publish (an expired lease, a wait overdue past a grace, a
``QUEUED`` row whose message may have been lost), so a killed worker's steps
settle within about a lease plus a sweep, whatever the broker does.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, Update, and_, delete, or_, select
from sqlalchemy.orm import sessionmaker

from actionkit.context import SuccessWrite
from executor import history
from executor import ledger_sql as sql
from executor.decision import Answer, GiveUp, Refuse, Skip, Take, Wait, decide
from executor.ledger_sql import NO_PROBES, Probes
from store.db import insert_for
from store.models import ExecutorLock
from store.models import WorkflowActionInvocation as Row
from store.types import utcnow

WaitKind = Literal["check", "retry", "throttled", "deferred"]
# Waits after which a step starts again and its deadline still stands.
KEEPS_DEADLINE = ("deferred", "throttled")


def input_hash(data: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the validated input."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class ClaimRequest:
    """What a worker knows when a task arrives."""

    tenant_id: str
    key: str
    action_id: str
    action_version: int
    input_json: dict[str, Any]
    input_hash: str
    run_id: str | None
    step_path: str | None
    side_effectful: bool
    safe_to_repeat: bool
    max_attempts: int
    reconcilable: bool = False


@dataclass(frozen=True)
class RowSnapshot:
    """A ledger row as read (detached from any session)."""

    invocation_id: uuid.UUID
    tenant_id: str
    key: str
    action_id: str
    action_version: int
    run_id: str | None
    step_path: str | None
    status: str
    attempt: int
    input_hash: str
    output: dict[str, Any] | None
    error: dict[str, Any] | None
    wait_state: dict[str, Any] | None
    dispatched_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    next_check_at: datetime | None
    deadline_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    redriven_at: datetime | None = None
    input_json: dict[str, Any] | None = None
    updated_at: datetime | None = None
    history: tuple[dict[str, Any], ...] = ()

    @property
    def final(self) -> bool:
        return self.completed_at is not None

    def stalled(self, now: datetime) -> bool:
        """True when nothing may be carrying this step on: its message may be lost.

        ``QUEUED`` (its message may not have reached a worker), a wait past its
        due time, or a lease that expired without a final outcome.
        """
        if self.status == "QUEUED":
            return True
        if self.status == "WAITING":
            return self.next_check_at is None or self.next_check_at <= now
        if self.status == "STARTED":
            return self.lease_expires_at is None or self.lease_expires_at <= now
        return False

    @classmethod
    def of(cls, row: Any) -> RowSnapshot:
        """From a ``RETURNING``/``SELECT`` result row of the table's columns (a SQLAlchemy
        row or a mapping by column name)."""
        m = row if isinstance(row, Mapping) else row._mapping
        return cls(
            invocation_id=m["invocation_id"],
            tenant_id=m["tenant"],
            key=m["idempotency_key"],
            action_id=m["action_id"],
            action_version=m["action_version"],
            run_id=m["run_id"],
            step_path=m["step_path"],
            status=m["status"],
            attempt=m["attempt"],
            input_hash=m["input_hash"],
            output=m["output_json"],
            error=m["error_json"],
            wait_state=m["wait_state"],
            dispatched_at=m["dispatched_at"],
            lease_owner=m["lease_owner"],
            lease_expires_at=m["lease_expires_at"],
            next_check_at=m["next_check_at"],
            deadline_at=m["deadline_at"],
            created_at=m["created_at"],
            started_at=m["started_at"],
            completed_at=m["completed_at"],
            redriven_at=m["redriven_at"],
            input_json=m["input_json"],
            updated_at=m["updated_at"],
            history=tuple(m["history"] or ()),
        )


@dataclass(frozen=True)
class Run:
    """This worker holds the lease: run the step (or its check, or its read-back).

    ``phase="reconcile"``: a worker died after dispatching a side effect and the
    action declares a read-back; run it to settle what happened.

    ``reserved_at``: a throttle slot (epoch seconds) held for this step when an
    earlier delivery was deferred; its first vendor request uses it.
    """

    row: RowSnapshot
    attempt: int
    phase: Literal["start", "check", "reconcile"]
    takeover: bool = False
    reserved_at: float | None = None
    probes: Mapping[str, Any] = field(default_factory=dict)
    """What the claim's ``probes`` read, in the statement that took the lease."""


@dataclass(frozen=True)
class Done:
    """The step already has a final outcome; return it, call nothing."""

    row: RowSnapshot


@dataclass(frozen=True)
class Busy:
    """Another worker holds a live lease; look again in ``retry_in`` seconds."""

    row: RowSnapshot
    retry_in: float


@dataclass(frozen=True)
class NotDue:
    """The step waits until ``next_check_at`` and its re-check is scheduled: a duplicate."""

    row: RowSnapshot


@dataclass(frozen=True)
class InputConflict:
    """The key was first used with a different input."""

    row: RowSnapshot


@dataclass(frozen=True)
class Lost:
    """The step's worker was lost and it may not run again: end it with ``Ledger.abandon``.

    ``reason``: "outcome_unknown" (a side effect was dispatched and can neither be
    read back nor repeated) or "attempts_exhausted".
    """

    row: RowSnapshot
    reason: Literal["outcome_unknown", "attempts_exhausted"]


Claim = Run | Done | Busy | NotDue | InputConflict | Lost

_MAX_CLAIM_ROUNDS = 8


_COLUMNS = sql.COLUMNS


def _error_columns(error: dict[str, Any]) -> dict[str, Any]:
    """An error payload as the row keeps it: whole, and its message (searchable, capped)."""
    return {"error_json": error, "error_message": str(error.get("message", ""))[:2000]}


def _final_columns(now: datetime) -> dict[str, Any]:
    """What a final outcome clears and stamps: nothing waits, nobody holds the lease."""
    return {
        "wait_state": None,
        "next_check_at": None,
        "lease_owner": None,
        "lease_expires_at": None,
        "completed_at": now,
        "updated_at": now,
    }


def _owner_params(row: RowSnapshot, owner: str) -> dict[str, Any]:
    """The bound values a lease holder's update compares (see ``Statements.owned``)."""
    return {"w_tenant": row.tenant_id, "w_invocation_id": row.invocation_id, "w_owner": owner}


def _guard_of(row: RowSnapshot) -> sql.Guard:
    return (row.updated_at is None, row.lease_owner is None, row.lease_expires_at is None)


def _guard_params(row: RowSnapshot) -> dict[str, Any]:
    """The bound values a guarded update compares (see ``Ledger._guarded``)."""
    return {
        "w_tenant": row.tenant_id,
        "w_invocation_id": row.invocation_id,
        "w_status": row.status,
        "w_attempt": row.attempt,
        "w_updated_at": row.updated_at,
        "w_lease_owner": row.lease_owner,
        "w_lease_expires_at": row.lease_expires_at,
    }


class Ledger:
    """Reads and transitions ledger rows; every write is one short statement.

    Core statements with ``RETURNING`` (PostgreSQL and SQLite >= 3.35): each
    transition is one round trip that also yields the new row.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        lease_seconds: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        # Every ledger operation is a single statement: autocommit saves the
        # BEGIN and COMMIT round trips around each (they are atomic anyway).
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        # For the one transition that is more than one statement (``succeed``
        # with a step's writes).
        self._sessions = sessionmaker(bind=engine)
        self._insert_fn = insert_for(engine)
        self._sql = sql.Statements(self._insert_fn)
        self._run = sql.runner_for(engine)
        self.lease = timedelta(seconds=lease_seconds)
        self._clock = clock

    def now(self) -> datetime:
        """The ledger's clock (the time its transitions record)."""
        return self._clock()

    # -- reads ------------------------------------------------------------------

    def get(self, tenant_id: str, key: str) -> RowSnapshot | None:
        """The row for ``key``, or None."""
        row = self._run.first(self._sql.get(), {"w_tenant": tenant_id, "w_key": key})
        return None if row is None else RowSnapshot.of(row)

    def list(
        self,
        tenant_id: str,
        *,
        run_id: str | None = None,
        statuses: Collection[str] = (),
        since: datetime | None = None,
        action_id: str | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> list[RowSnapshot]:
        """Rows of a tenant, newest first: optionally of one run or action, in one of
        ``statuses``, created or changed at or after ``since``; at most ``limit``,
        after skipping ``offset`` (a page)."""
        query = select(*_COLUMNS).where(Row.tenant == tenant_id)
        if run_id is not None:
            query = query.where(Row.run_id == run_id)
        if statuses:
            query = query.where(Row.status.in_(sorted(statuses)))
        if since is not None:
            query = query.where(Row.updated_at >= since)
        if action_id is not None:
            query = query.where(Row.action_id == action_id)
        query = (
            query.order_by(Row.created_at.desc(), Row.idempotency_key).limit(limit).offset(offset)
        )
        with self._engine.connect() as conn:
            return [RowSnapshot.of(r) for r in conn.execute(query)]

    # -- claim ------------------------------------------------------------------

    def claim(
        self,
        req: ClaimRequest,
        owner: str,
        probes: Probes = NO_PROBES,
        *,
        seen_before: bool = False,
    ) -> Claim:
        """Decide what to do with a task carrying ``req.key`` (see the module doc).

        A ``Run`` carries what ``probes`` read, in the statement that took the lease.
        ``seen_before``: the message was sent again by a worker (a re-check, a
        retry), so its row exists: read it first instead of trying an insert.
        """
        for round_no in range(_MAX_CLAIM_ROUNDS):
            now = self._clock()
            if not (seen_before and round_no == 0):
                started = self._start(req, owner, now, probes)
                if started is not None:
                    return started
            row = self.get(req.tenant_id, req.key)
            if row is None:
                continue  # deleted between insert and read; try again
            decided = self._decide(req, row, owner, now, probes)
            if decided is not None:
                return decided
        raise RuntimeError(f"could not claim {req.key!r}: the row kept changing")

    def _values(self, req: ClaimRequest, now: datetime) -> dict[str, Any]:
        return {
            "tenant": req.tenant_id,
            "invocation_id": uuid.uuid4(),
            "idempotency_key": req.key,
            "run_id": req.run_id,
            "step_path": req.step_path,
            "action_id": req.action_id,
            "action_version": req.action_version,
            "input_hash": req.input_hash,
            "input_json": req.input_json,
            "created_at": now,
            "updated_at": now,
        }

    def _start(self, req: ClaimRequest, owner: str, now: datetime, probes: Probes) -> Run | None:
        """Insert a STARTED row, or start the QUEUED one with the same input: one statement.

        None when a row exists in any other state (or with another input), or is
        ``QUEUED`` with a history (an operator's retry): the claim then takes it
        with a guarded update that keeps the history.
        """
        lease = {
            "status": "STARTED",
            "attempt": 1,
            "lease_owner": owner,
            "lease_expires_at": now + self.lease,
            "started_at": now,
            "history": history.begin((), attempt=1, phase="start", worker=owner, at=now),
        }
        params = sql.values_of(self._values(req, now) | lease) | probes.params(req.tenant_id, now)
        row = self._run.first(self._sql.start(probes), params)
        if row is None:
            return None
        return Run(RowSnapshot.of(row), attempt=1, phase="start", probes=probes.read(row))

    def record_queued(self, req: ClaimRequest) -> RowSnapshot | None:
        """Record a step as QUEUED before its message is published; None if the key exists.

        Raises ``IntegrityError`` for an unknown tenant (the row's foreign key).
        """
        now = self._clock()
        values = self._values(req, now) | {"status": "QUEUED", "attempt": 0}
        row = self._run.first(self._sql.record_queued(), sql.values_of(values))
        return None if row is None else RowSnapshot.of(row)

    def forget_queued(self, row: RowSnapshot) -> bool:
        """Delete a QUEUED row whose message the broker refused (nothing half-written)."""
        params = {"w_tenant": row.tenant_id, "w_invocation_id": row.invocation_id}
        return bool(self._run.rowcount(self._sql.forget_queued(), params))

    def _decide(
        self, req: ClaimRequest, row: RowSnapshot, owner: str, now: datetime, probes: Probes
    ) -> Claim | None:
        """Carry out the idempotency decision (``executor.decision``); None: the row changed."""
        match decide(row, req, now):
            case Refuse():
                return InputConflict(row)
            case Answer():
                return Done(row)
            case Wait(retry_in):
                return Busy(row, retry_in)
            case Skip():
                return NotDue(row)
            case GiveUp(reason):
                return Lost(row, reason)
            case Take(attempt, phase, restart, takeover, reserved_at):
                if restart:
                    return self._restart(row, owner, now, attempt=attempt, probes=probes)
                taken = self._take(
                    row, owner, now, attempt=attempt, phase=phase, takeover=takeover, probes=probes
                )
                if taken is not None and reserved_at is not None:
                    return replace(taken, reserved_at=reserved_at)
                return taken
        raise AssertionError("unhandled transition")  # pragma: no cover

    def _guarded(
        self,
        row: RowSnapshot,
        values: Mapping[str, Any],
        *,
        probes: Probes = NO_PROBES,
        now: datetime | None = None,
    ) -> tuple[RowSnapshot, dict[str, Any]] | None:
        """Write ``values`` only if the row is still exactly as read: the new row and
        what ``probes`` read (at ``now``), or None if the row changed.

        ``updated_at`` changes with every transition, so a row that went away
        and came back to the same state (a check that ran and waits again) does
        not match either: what is written (the history above all) is computed
        from what was read.
        """
        stmt = self._sql.guarded(_guard_of(row), tuple(values), probes=probes)
        params = (
            _guard_params(row)
            | sql.values_of(values)
            | probes.params(row.tenant_id, now or self._clock())
        )
        found = self._run.first(stmt, params)
        return None if found is None else (RowSnapshot.of(found), probes.read(found))

    def _apply(self, row: RowSnapshot, values: Mapping[str, Any]) -> RowSnapshot | None:
        """``_guarded`` without probes: the new row, or None if the row changed."""
        found = self._guarded(row, values)
        return None if found is None else found[0]

    def _lease_values(self, owner: str, now: datetime) -> dict[str, Any]:
        return {
            "status": "STARTED",
            "lease_owner": owner,
            "lease_expires_at": now + self.lease,
            "updated_at": now,
        }

    def _take(
        self,
        row: RowSnapshot,
        owner: str,
        now: datetime,
        *,
        attempt: int,
        phase: Literal["start", "check", "reconcile"],
        takeover: bool = False,
        probes: Probes = NO_PROBES,
    ) -> Run | None:
        values = self._lease_values(owner, now) | {
            "attempt": attempt,
            "next_check_at": None,
            "history": history.begin(
                row.history, attempt=attempt, phase=phase, worker=owner, at=now, takeover=takeover
            ),
        }
        if phase == "start":
            values |= {"dispatched_at": None, "wait_state": None, "started_at": now}
            # A deferred start keeps the deadline its first answer set; any other
            # start gets a new one from its own answer.
            if (row.wait_state or {}).get("kind") not in KEEPS_DEADLINE:
                values["deadline_at"] = None
        fresh = self._guarded(row, values, probes=probes, now=now)
        if fresh is None:
            return None
        return Run(fresh[0], attempt=attempt, phase=phase, takeover=takeover, probes=fresh[1])

    def _restart(
        self,
        row: RowSnapshot,
        owner: str,
        now: datetime,
        *,
        attempt: int,
        probes: Probes = NO_PROBES,
    ) -> Run | None:
        values = self._lease_values(owner, now) | {
            "attempt": attempt,
            "dispatched_at": None,
            "wait_state": None,
            "next_check_at": None,
            "deadline_at": None,
            "started_at": now,
            "completed_at": None,
            "history": history.begin(
                row.history, attempt=attempt, phase="start", worker=owner, at=now
            ),
        }
        fresh = self._guarded(row, values, probes=probes, now=now)
        if fresh is None:
            return None
        return Run(fresh[0], attempt=attempt, phase="start", probes=fresh[1])

    def abandon(self, row: RowSnapshot, error: dict[str, Any]) -> RowSnapshot | None:
        """End a step whose worker was lost (``Lost``) FAILED with ``error``.

        Guarded like a claim: None when the row changed since it was read (claim
        again). The error payload is the pipeline's; the ledger only stores it.
        """
        now = self._clock()
        values = {
            "status": "FAILED",
            **_error_columns(error),
            "lease_owner": None,
            "lease_expires_at": None,
            "completed_at": now,
            "updated_at": now,
            "history": history.end(row.history, result="LOST", at=now, error=error),
        }
        return self._apply(row, values)

    # -- operator actions (``executor.control``) -------------------------------------

    def cancel(self, row: RowSnapshot, by: str, error: dict[str, Any]) -> RowSnapshot | None:
        """End a ``WAITING`` or ``QUEUED`` step ``CANCELLED`` with ``error``; None if it changed.

        Guarded on the row as read: a worker that claimed it meanwhile wins, and
        a claim that comes after finds the final outcome and runs nothing.
        """
        now = self._clock()
        values = {
            "status": "CANCELLED",
            **_error_columns(error),
            "next_check_at": None,
            "completed_at": now,
            "updated_at": now,
            "history": history.operator(
                row.history, action="CANCELLED", by=by, at=now, attempt=row.attempt
            ),
        }
        return self._apply(row, values)

    def reopen(self, row: RowSnapshot, by: str) -> RowSnapshot | None:
        """Put a final step back to ``QUEUED`` with a fresh attempt budget; None if it changed.

        Its outcome is cleared (the history keeps what happened); the next claim
        runs it as attempt 1.
        """
        now = self._clock()
        values = {
            "status": "QUEUED",
            "attempt": 0,
            "output_json": None,
            "error_json": None,
            "error_message": None,
            "wait_state": None,
            "dispatched_at": None,
            "next_check_at": None,
            "deadline_at": None,
            "started_at": None,
            "completed_at": None,
            "redriven_at": None,
            "updated_at": now,
            "history": history.operator(
                row.history, action="OPERATOR_RETRY", by=by, at=now, attempt=row.attempt
            ),
        }
        return self._apply(row, values)

    # -- transitions by the lease holder -----------------------------------------

    def _owned(
        self, row: RowSnapshot, owner: str, values: Mapping[str, Any]
    ) -> tuple[Update, dict[str, Any]]:
        """Write ``values`` if ``owner`` still holds the lease: the statement and its values."""
        return self._sql.owned(tuple(values)), _owner_params(row, owner) | sql.values_of(values)

    def _apply_owned(
        self, row: RowSnapshot, owner: str, values: Mapping[str, Any]
    ) -> RowSnapshot | None:
        """``_owned``, run: the new row, or None if the lease was lost."""
        found = self._run.first(*self._owned(row, owner, values))
        return None if found is None else RowSnapshot.of(found)

    def _touch_owned(
        self, row: RowSnapshot, owner: str, values: Mapping[str, Any], *, undispatched: bool
    ) -> bool:
        """Write ``values`` if ``owner`` holds the lease (and, ``undispatched``, nothing
        was dispatched); whether it did."""
        stmt = self._sql.owned(tuple(values), undispatched=undispatched, returning=False)
        return bool(self._run.rowcount(stmt, _owner_params(row, owner) | sql.values_of(values)))

    def renew(self, row: RowSnapshot, owner: str) -> bool:
        """Extend the lease; False if it was lost (another worker took over)."""
        now = self._clock()
        values = {"lease_expires_at": now + self.lease, "updated_at": now}
        return self._touch_owned(row, owner, values, undispatched=False)

    def mark_dispatched(self, row: RowSnapshot, owner: str) -> bool:
        """Record, before a mutating vendor request, that it may reach the vendor."""
        now = self._clock()
        values = {"dispatched_at": now, "updated_at": now}
        return self._touch_owned(row, owner, values, undispatched=True)

    def succeed(
        self,
        row: RowSnapshot,
        owner: str,
        output: dict[str, Any],
        writes: Sequence[SuccessWrite] = (),
    ) -> RowSnapshot | None:
        """Final SUCCEEDED with ``output``; the new row, or None if the lease was lost.

        ``writes`` (the step's ``ctx.on_success``) run in the same transaction,
        after the guarded UPDATE matched: both commit, or neither (a lost lease
        applies none). A write that raises is propagated after the rollback;
        the caller decides what to record then.
        """
        now = self._clock()
        values = {
            "status": "SUCCEEDED",
            "output_json": output,
            "error_json": None,
            "error_message": None,
            **_final_columns(now),
            "history": history.end(row.history, result="SUCCEEDED", at=now),
        }
        if not writes:
            return self._apply_owned(row, owner, values)
        stmt, params = self._owned(row, owner, values)
        with self._sessions.begin() as session:
            found = session.execute(stmt, params).first()
            if found is None:
                return None
            for write in writes:
                write(session)
        return RowSnapshot.of(found)

    def fail(self, row: RowSnapshot, owner: str, payload: dict[str, Any]) -> RowSnapshot | None:
        """Final FAILED with the (already redacted) error payload; None if the lease was lost."""
        now = self._clock()
        values = {
            "status": "FAILED",
            **_error_columns(payload),
            **_final_columns(now),
            "history": history.end(row.history, result="FAILED", at=now, error=payload),
        }
        return self._apply_owned(row, owner, values)

    def wait(
        self,
        row: RowSnapshot,
        owner: str,
        *,
        kind: WaitKind,
        due_in: float,
        state: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
        deadline_at: datetime | None = None,
        note: str | None = None,
        reserved_at: float | None = None,
    ) -> RowSnapshot | None:
        """Release the lease; the step is due again in ``due_in`` seconds.

        ``error``: the (redacted) payload of the failure a retry follows;
        ``note``: what the step waits for, in the history; ``reserved_at``: a
        throttle slot held for a check step's next look (see ``decision``).
        """
        now = self._clock()
        due_at = now + timedelta(seconds=due_in)
        wait_state: dict[str, Any] = {"kind": kind, "state": state or {}}
        if reserved_at is not None:
            wait_state["reserved_at"] = reserved_at
        values: dict[str, Any] = {
            "status": "WAITING",
            "wait_state": wait_state,
            "next_check_at": due_at,
            "lease_owner": None,
            "lease_expires_at": None,
            "dispatched_at": None,
            "updated_at": now,
            "history": history.end(
                row.history,
                result="WAITING",
                at=now,
                error=error,
                wait=history.wait_of(kind, due_at, note),
            ),
        }
        if error is not None:
            values |= _error_columns(error)
        if deadline_at is not None:
            values["deadline_at"] = deadline_at
        return self._apply_owned(row, owner, values)

    # -- the sweeper's view ---------------------------------------------------------

    def stalled(
        self, now: datetime, *, grace: timedelta, limit: int = 200
    ) -> builtins.list[RowSnapshot]:
        """Steps nothing may be carrying on, oldest first (see ``RowSnapshot.stalled``).

        An expired lease counts at once (the lease is its own grace); a wait
        overdue by more than ``grace`` and a ``QUEUED`` row older than ``grace``
        count too. A row re-driven less than ``grace`` ago is left alone, so a
        backlog in the queue is not flooded with copies.
        """
        late = now - grace
        query = (
            select(*_COLUMNS)
            .where(
                or_(
                    and_(Row.status == "STARTED", Row.lease_expires_at < now),
                    and_(Row.status == "WAITING", Row.next_check_at < late),
                    # updated_at: when it was queued (an operator's retry queues it again).
                    and_(Row.status == "QUEUED", Row.updated_at < late),
                ),
                or_(Row.redriven_at.is_(None), Row.redriven_at < late),
            )
            .order_by(Row.updated_at)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [RowSnapshot.of(r) for r in conn.execute(query)]

    def mark_redriven(self, row: RowSnapshot, now: datetime) -> bool:
        """Note that ``row`` was re-published, unless it changed since it was read.

        Not a transition: ``updated_at`` (when the step last changed state, e.g.
        was queued) is kept as it is.
        """
        stmt = self._sql.guarded(
            _guard_of(row),
            ("redriven_at",),
            kept={"updated_at": sql.TABLE.c.updated_at},
            returning=False,
        )
        params = _guard_params(row) | sql.values_of({"redriven_at": now})
        return bool(self._run.rowcount(stmt, params))

    # -- named leases shared by every worker ----------------------------------------

    def try_lock(self, name: str, owner: str, ttl: float) -> bool:
        """Take or extend the named lease for ``ttl`` seconds; False if another owner holds it."""
        now = self._clock()
        expires = now + timedelta(seconds=ttl)
        stmt = (
            self._insert_fn(ExecutorLock)
            .values(name=name, owner=owner, expires_at=expires)
            .on_conflict_do_update(
                index_elements=["name"],
                set_={"owner": owner, "expires_at": expires},
                where=or_(ExecutorLock.expires_at < now, ExecutorLock.owner == owner),
            )
            .returning(ExecutorLock.owner)
        )
        with self._engine.connect() as conn:
            return conn.execute(stmt).first() is not None

    def unlock(self, name: str, owner: str) -> None:
        """Give the named lease up (if still ours)."""
        stmt = delete(ExecutorLock).where(ExecutorLock.name == name, ExecutorLock.owner == owner)
        with self._engine.connect() as conn:
            conn.execute(stmt)
