"""One invocation, end to end, independent of Celery.

resolve action -> validate input -> claim the key -> check the integration is
connected -> run the handler (credentials, throttle and vendor calls happen
through the context) -> validate output -> record the outcome.

``Pipeline.execute`` never raises for anything an action does: it returns
what the task layer must do next (return a result, fail, re-schedule, drop).
"""

from __future__ import annotations

import difflib
import logging
import os
import random
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from actionkit.context import NotApplied, Pending, SuccessWrite
from actionkit.errors import (
    ActionFailure,
    IdempotencyConflict,
    IntegrationInactive,
    InternalError,
    OutcomeUnknown,
    StepTimeout,
    Throttled,
    TransientFailure,
    UnknownAction,
    ValidationFailed,
)
from actionkit.inputs import InputNotJson, parse_input
from actionkit.spec import AnyActionSpec
from catalog.modules import IntegrationModule
from catalog.registration import Catalog
from executor.context import InvocationContext
from executor.gate import InvocationGate
from executor.lease import LeaseLost, LeaseRenewer, TimeLimitExceeded
from executor.ledger import (
    Busy,
    Claim,
    ClaimRequest,
    Done,
    InputConflict,
    Ledger,
    Lost,
    NotDue,
    RowSnapshot,
    Run,
    input_hash,
)
from executor.ledger_sql import NO_PROBES, PROBE_NOW, PROBE_TENANT, Probes
from executor.payload import Redactor, as_action_failure, failure_payload, validation_failure
from executor.settings import Settings
from executor.tenant_cache import TenantConfigCache
from executor.throttle import Throttle
from executor.wire import TaskRequest
from store import Store
from store.config_versions import config_version
from store.types import utcnow

logger = logging.getLogger("patchbay.executor")

# The claim's probes (``Ledger.claim``): the tenant's configuration version
# (``executor.tenant_cache``) and whether the action's integration is available.
CONFIG = "config_version"
AVAILABLE = "available"

CORE_PROVIDER = "core"

# A copy of a key that finds its step running looks again after 0.25 s, then
# 0.5, 1, 2, 4 s (capped), with jitter: it answers soon after the step ends
# instead of waiting out the rest of the lease.
BUSY_FIRST_RECHECK = 0.25
BUSY_MAX_RECHECK = 4.0

# Celery-side time limits in prefork workers (a backstop to the renewer's own):
# soft = the action's limit + this, hard = soft + this again.
CELERY_LIMIT_SLACK = 5.0
# A lost step is ended with a guarded update; if the row changes meanwhile, claim again.
MAX_ABANDON_ROUNDS = 4

try:  # Celery's soft time limit, raised in a prefork child's main thread
    from billiard.exceptions import SoftTimeLimitExceeded as _CelerySoftLimit
except ImportError:  # pragma: no cover - billiard comes with celery

    class _CelerySoftLimit(Exception):  # type: ignore[no-redef]
        pass


@dataclass(frozen=True)
class Finished:
    """A final outcome, recorded in the ledger (or stored there before)."""

    row: RowSnapshot
    replayed: bool = False

    @property
    def succeeded(self) -> bool:
        return self.row.status == "SUCCEEDED"


@dataclass(frozen=True)
class Rejected:
    """Refused before anything was recorded or sent (unknown action, bad input, ...)."""

    payload: dict[str, Any]


@dataclass(frozen=True)
class Reschedule:
    """Run this task again in ``countdown`` seconds."""

    countdown: float
    reason: Literal["retry", "throttled", "busy", "waiting"]
    row: RowSnapshot
    detail: dict[str, Any]


@dataclass(frozen=True)
class Dropped:
    """A duplicate whose step is handled by another delivery; do nothing."""

    reason: str
    row: RowSnapshot | None


Outcome = Finished | Rejected | Reschedule | Dropped


def worker_identity() -> str:
    """A lease owner name unique to this execution (host, pid, random)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Pipeline:
    """Runs invocations against the catalog, the store and the throttle."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        store: Store,
        settings: Settings,
        throttle: Throttle,
        transports: Mapping[str, httpx.BaseTransport] | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.settings = settings
        self.throttle = throttle
        self.transports = dict(transports or {})
        self._clock = clock
        self._rng = rng
        self.ledger = Ledger(
            store.engine,
            lease_seconds=settings.lease_seconds,
            clock=clock,
        )
        self.renewer = LeaseRenewer(self.ledger)
        # The tenants' connection rows and secrets, while their version stands.
        self.tenant_cache = TenantConfigCache()
        # The claim's probes, one per availability key (None: a core action).
        self._probe_sets: dict[str | None, Probes] = {}
        # Read-only lookups on every step (availability) need no transaction.
        self._read_sessions = sessionmaker(
            store.engine.execution_options(isolation_level="AUTOCOMMIT")
        )

    def close(self) -> None:
        """Stop background work (lease renewal)."""
        self.renewer.stop()

    # -- lookups shared with the enqueue API ----------------------------------------

    def module_of(self, spec: AnyActionSpec) -> IntegrationModule | None:
        return self.catalog.modules.of_action(spec.id)

    def provider_of(self, spec: AnyActionSpec) -> str:
        """The task/queue an action runs on: its module's provider, else ``core``."""
        module = self.module_of(spec)
        return module.provider if module else CORE_PROVIDER

    def resolve(self, action_id: str, version: int | None) -> AnyActionSpec:
        """The spec, or UnknownAction."""
        spec = (
            self.catalog.actions.find(action_id, version)
            if version is not None
            else (
                self.catalog.actions.latest(action_id)
                if self.catalog.actions.has_id(action_id)
                else None
            )
        )
        if spec is None:
            label = action_id if version is None else f"{action_id}@{version}"
            message = f"Unknown action {label}"
            if self.catalog.actions.has_id(action_id):
                known = ", ".join(str(v) for v in self.catalog.actions.versions(action_id))
                message += f" (versions of {action_id}: {known})"
            else:
                public = sorted({s.id for s in self.catalog.actions.list() if not s.internal})
                close = difflib.get_close_matches(str(action_id), public, n=1, cutoff=0.6)
                if close:
                    message += f" (did you mean {close[0]}?)"
            raise UnknownAction(message, details={"action_id": action_id})
        return spec

    def validate_input(self, spec: AnyActionSpec, raw: Any) -> BaseModel:
        """The validated input model, or VALIDATION_ERROR naming the field.

        Strict, as JSON: exactly the inputs the action's published JSON Schema
        allows, nothing coerced (``actionkit.inputs.parse_input``).
        """
        if not isinstance(raw, dict):
            raise ValidationFailed("input must be a JSON object", field="input")
        try:
            model: BaseModel = parse_input(spec.input_model, raw)
        except ValidationError as exc:
            raise validation_failure(exc) from None
        except InputNotJson as exc:
            raise ValidationFailed(str(exc), field=exc.field) from None
        return model

    def reject(self, error: ActionFailure, action_id: str, step_path: str | None) -> Rejected:
        return Rejected(
            failure_payload(
                error,
                action_id=action_id,
                step_path=step_path,
                at=self._clock(),
                redactor=Redactor(),
            )
        )

    def claim_request(
        self,
        spec: AnyActionSpec,
        data: dict[str, Any],
        *,
        tenant_id: str,
        key: str,
        run_id: str | None,
        step_path: str | None,
    ) -> ClaimRequest:
        """What the ledger needs to know of a step (validated input ``data``)."""
        return ClaimRequest(
            tenant_id=tenant_id,
            key=key,
            action_id=spec.id,
            action_version=spec.version,
            input_json=data,
            input_hash=input_hash(data),
            run_id=run_id,
            step_path=step_path,
            side_effectful=spec.side_effectful,
            safe_to_repeat=spec.safe_to_repeat,
            max_attempts=self.settings.max_attempts,
            reconcilable=spec.reconcile is not None,
        )

    def time_limit_of(self, spec: AnyActionSpec) -> float:
        """Seconds one delivery of ``spec`` may run (its own limit, else the default)."""
        return self.limit_for(spec, self.settings)

    @staticmethod
    def limit_for(spec: AnyActionSpec, settings: Settings) -> float:
        return spec.time_limit if spec.time_limit is not None else settings.step_time_limit

    # -- the invocation ----------------------------------------------------------------

    def execute(self, req: TaskRequest, owner: str | None = None) -> Outcome:
        """Run (or replay, or defer) one delivery of a task."""
        owner = owner or worker_identity()
        try:
            spec = self.resolve(req.action_id, req.version)
            if req.provider is not None and req.provider != self.provider_of(spec):
                raise ValidationFailed(
                    f"{spec.key} runs on task patchbay.run.{self.provider_of(spec)}, "
                    f"not patchbay.run.{req.provider}",
                    field="action_id",
                )
            model = self.validate_input(spec, req.input)
        except ActionFailure as error:
            return self.reject(error, req.action_id, req.step_path)

        claim_req = self.claim_request(
            spec,
            model.model_dump(mode="json"),
            tenant_id=req.tenant_id,
            key=req.key,
            run_id=req.run_id,
            step_path=req.step_path,
        )
        try:
            claim = self._claim(
                claim_req,
                owner,
                self._probes(spec),
                seen_before=req.redeliveries > 0,
            )
        except IntegrityError:
            # The only foreign key a new ledger row has is its tenant; checking
            # here instead of up front saves a query on every invocation.
            return self.reject(
                ValidationFailed(f"unknown tenant {req.tenant_id!r}", field="tenant_id"),
                spec.id,
                req.step_path,
            )
        match claim:
            case Done(row):
                return Finished(row, replayed=True)
            case Lost(row):
                return Finished(row)
            case InputConflict(row):
                return self.reject(
                    IdempotencyConflict(
                        f"idempotency key {req.key!r} was first used with a different input",
                        details={"existing_action": f"{row.action_id}@{row.action_version}"},
                    ),
                    spec.id,
                    req.step_path,
                )
            case Busy(row, retry_in):
                return Reschedule(self.busy_delay(req.redeliveries, retry_in), "busy", row, {})
            case NotDue(row):
                return Dropped("the step is waiting and its re-check is already scheduled", row)
            case Run():
                return self._run(spec, model, claim, owner)
        raise AssertionError(f"unhandled claim {claim!r}")  # pragma: no cover

    def _probes(self, spec: AnyActionSpec) -> Probes:
        """What the claim reads with the row: the tenant's configuration version, and
        whether the action's integration is available (when its resolver says it in SQL).

        One ``Probes`` per availability key, built once: the ledger keeps a claim
        statement per ``Probes``.
        """
        module = self.module_of(spec)
        key = None if module is None else module.availability_key
        probes = self._probe_sets.get(key)
        if probes is None:
            columns: dict[str, Any] = {CONFIG: config_version(PROBE_TENANT)}
            if key is not None:
                clause = self.catalog.availability.clause(key, PROBE_TENANT, PROBE_NOW)
                if clause is not None:
                    columns[AVAILABLE] = clause
            probes = self._probe_sets.setdefault(key, Probes(columns))
        return probes

    def _run(self, spec: AnyActionSpec, model: BaseModel, claim: Run, owner: str) -> Outcome:
        row = claim.row
        redactor = Redactor()
        gate = InvocationGate(
            throttle=self.throttle,
            provider=self.provider_of(spec),
            tenant_id=row.tenant_id,
            ledger=self.ledger,
            row=row,
            owner=owner,
            marks_dispatch=spec.side_effectful,
            reserved_at=claim.reserved_at,
        )
        if claim.phase == "reconcile":
            # A worker died after dispatching: the read-back must finish, not be
            # deferred by the throttle (a deferral here would end as "cannot tell").
            gate.dispatched = True
        ctx = InvocationContext(
            tenant_id=row.tenant_id,
            action_id=spec.id,
            action_version=spec.version,
            idempotency_key=row.key,
            run_id=row.run_id,
            step_path=row.step_path,
            attempt=claim.attempt,
            sessions=self.store.sessions,
            secrets=self.store.secrets,
            redactor=redactor,
            gate=gate,
            transports=self.transports,
            clock=self._clock,
            sandbox=self.settings.sandbox,
            config=(
                self.tenant_cache.view(row.tenant_id, claim.probes[CONFIG])
                if CONFIG in claim.probes
                else None
            ),
        )
        log = ctx.logger
        log.info("step %s (%s)", claim.phase, spec.key)
        limit = self.time_limit_of(spec)
        error: ActionFailure | None = None
        result: Any = None
        settled: Any = None
        if claim.phase == "start":
            try:
                gate.take_slot()
            except Throttled as exc:
                return self._failed(spec, row, owner, exc, gate, redactor, log)
        try:
            with self.renewer.hold(row, owner, time_limit=limit) as keeper:
                if claim.phase == "reconcile":
                    settled = self._read_back(spec, model, ctx, keeper)
                else:
                    try:
                        with keeper.limited():
                            result = self._call(spec, model, claim, ctx)
                    except LeaseLost:
                        raise
                    except (TimeLimitExceeded, _CelerySoftLimit):
                        error = self._time_limit_error(spec, limit, gate.dispatched)
                    except Exception as exc:
                        error = as_action_failure(exc)
                    if error is not None and self._needs_read_back(spec, gate, error):
                        # Proof either way settles the step; still under the lease.
                        settled = self._read_back(spec, model, ctx, keeper, error)
            if keeper.lost:
                raise LeaseLost(row.key)
        except LeaseLost:
            log.warning("lease lost: another worker took this step over; dropping this run")
            return Dropped("lease lost", row)
        if claim.phase == "reconcile":
            return self._reconciled(spec, claim, owner, settled, redactor, log, ctx.success_writes)
        if error is None and isinstance(result, Pending) and result.rerun:
            error = self._bad_rerun(spec, claim, gate)
        if error is None:
            return self._returned(
                spec, row, owner, result, claim, redactor, log, ctx.success_writes
            )
        if isinstance(settled, NotApplied):
            log.info("read-back: not applied (%s); the attempt may be retried", settled.reason)
            error.outcome_known = True
        elif settled is not None:
            log.info("read-back: applied; recording the step as succeeded")
            return self._returned(
                spec, row, owner, settled, claim, redactor, log, ctx.success_writes
            )
        if claim.phase == "check":
            return self._check_failed(spec, claim, owner, error, redactor, log)
        return self._failed(spec, row, owner, error, gate, redactor, log)

    @staticmethod
    def _bad_rerun(spec: AnyActionSpec, claim: Run, gate: InvocationGate) -> ActionFailure | None:
        """Why a ``Pending(rerun=True)`` answer may not be honoured, or None if it may.

        Starting over would send again what was already sent; a check step
        has already started its vendor job.
        """
        if claim.phase == "check":
            return InternalError(f"{spec.key}: a check step answered Pending(rerun=True)")
        if gate.dispatched:
            error = InternalError(
                f"{spec.key} asked to start over after sending a mutating request; "
                "not repeated automatically"
            )
            error.outcome_known = False
            return error
        return None

    def _time_limit_error(
        self, spec: AnyActionSpec, limit: float, dispatched: bool
    ) -> ActionFailure:
        return TransientFailure(
            f"{spec.key} ran longer than its time limit of {limit:g}s and was stopped",
            code="TIMEOUT",
            details={"time_limit": limit},
            # Stopped mid-request: a mutating request may have reached the vendor.
            outcome_known=not dispatched,
        )

    @staticmethod
    def _needs_read_back(spec: AnyActionSpec, gate: InvocationGate, error: ActionFailure) -> bool:
        risky = gate.dispatched and spec.side_effectful and not spec.safe_to_repeat
        return risky and not error.outcome_known and spec.reconcile is not None

    def _read_back(
        self,
        spec: AnyActionSpec,
        model: BaseModel,
        ctx: InvocationContext,
        keeper: Any,
        error: ActionFailure | None = None,
    ) -> Any:
        """The action's ``reconcile``: its output, ``NotApplied``, or None when it cannot tell.

        Why it could not tell is added to ``error.details`` (when given) and logged.
        """
        assert spec.reconcile is not None
        ctx.success_writes.clear()  # only what the read-back proves may be written
        cause: str
        try:
            with keeper.limited():
                return spec.reconcile(model, ctx)
        except LeaseLost:
            raise
        except (TimeLimitExceeded, _CelerySoftLimit):
            cause = "TIMEOUT"
        except Exception as exc:
            cause = as_action_failure(exc).code
        ctx.logger.warning("read-back could not tell (%s); the outcome stays unknown", cause)
        if error is not None:
            error.details = {**(error.details or {}), "read_back": cause}
        return None

    def _reconciled(
        self,
        spec: AnyActionSpec,
        claim: Run,
        owner: str,
        answer: Any,
        redactor: Redactor,
        log: logging.LoggerAdapter[logging.Logger],
        writes: Sequence[SuccessWrite] = (),
    ) -> Outcome:
        """A worker died after dispatching: settle the step by what the read-back showed."""
        row = claim.row
        if answer is None:
            unknown = OutcomeUnknown(
                f"{spec.key}: the worker running attempt {row.attempt} was lost after the vendor "
                "request was sent, and the read-back could not tell what happened; "
                "not repeated automatically",
                details={"attempt": row.attempt, "read_back": "inconclusive"},
            )
            return self._record_failure(spec, row, owner, unknown, redactor, log)
        if isinstance(answer, NotApplied):
            if row.attempt >= self.settings.max_attempts:
                lost = InternalError(
                    f"the worker running this step was lost on each of {row.attempt} attempts",
                    details={"read_back": "not_applied"},
                )
                return self._record_failure(spec, row, owner, lost, redactor, log)
            log.info("read-back after a lost worker: not applied; running a new attempt")
            if not self.ledger.wait(row, owner, kind="retry", due_in=0.0):
                return Dropped("lease lost", row)
            return Reschedule(0.0, "retry", row, {"read_back": "not_applied"})
        log.info("read-back after a lost worker: applied")
        return self._returned(spec, row, owner, answer, claim, redactor, log, writes)

    def _call(
        self, spec: AnyActionSpec, model: BaseModel, claim: Run, ctx: InvocationContext
    ) -> Any:
        module = self.module_of(spec)
        if module is not None:
            probed = claim.probes.get(AVAILABLE)
            available = bool(probed) if probed is not None else None
            reason: str | None = None
            if not available:
                with self._read_sessions() as session:
                    if available is None:  # its resolver has no SQL: ask it
                        available = self.catalog.availability.evaluate(
                            session, ctx.tenant_id, [module.availability_key]
                        )[module.availability_key]
                    if not available:
                        reason = self.catalog.availability.explain(
                            session, ctx.tenant_id, module.availability_key
                        )
            if not available:
                connect = f"patchbay connect {module.provider} --tenant {ctx.tenant_id}"
                raise IntegrationInactive(
                    f"{reason} (`{connect}`)"
                    if reason
                    else f"{module.label} integration is not active for this tenant; connect "
                    f"it with `{connect}`",
                    details={"provider": module.provider},
                )
        if claim.phase == "check":
            if spec.check is None:
                raise InternalError(f"{spec.key} answered Pending but has no check step")
            state = dict((claim.row.wait_state or {}).get("state") or {})
            return spec.check(model, state, ctx)
        return spec.handler(model, ctx)

    def _returned(
        self,
        spec: AnyActionSpec,
        row: RowSnapshot,
        owner: str,
        result: Any,
        claim: Run,
        redactor: Redactor,
        log: logging.LoggerAdapter[logging.Logger],
        writes: Sequence[SuccessWrite] = (),
    ) -> Outcome:
        """Record what the step answered: a wait, its output (with ``writes``), or a bad output."""
        now = self._clock()
        if isinstance(result, Pending):
            deadline = row.deadline_at
            # A start carries a deadline only when it resumes a deferred wait.
            resumed = result.rerun and deadline is not None
            if deadline is None or (claim.phase == "start" and not resumed):
                timeout = (
                    result.timeout if result.timeout is not None else self.settings.wait_timeout
                )
                deadline = now + timedelta(seconds=timeout)
            if now >= deadline:
                why = f": {result.note}" if result.note else "; last known state attached"
                timed_out = StepTimeout(
                    f"{spec.key} did not finish before its deadline ({deadline.isoformat()}){why}",
                    details={"state": result.state, "note": result.note},
                )
                return self._record_failure(spec, row, owner, timed_out, redactor, log)
            due_in = min(self._cap(result.check_after), max(0.0, (deadline - now).total_seconds()))
            state = redactor.data(result.state)
            if not self.ledger.wait(
                row,
                owner,
                kind="deferred" if result.rerun else "check",
                due_in=due_in,
                state=state,
                deadline_at=deadline,
                note=redactor.text(result.note) or None,
            ):
                return Dropped("lease lost", row)
            if result.rerun:
                log.info(
                    "deferred (%s); starting again in %.1fs", redactor.text(result.note), due_in
                )
            else:
                log.info("waiting on the vendor; next check in %.1fs", due_in)
            return Reschedule(due_in, "waiting", row, {"note": result.note})
        try:
            output = spec.output_model.model_validate(
                result.model_dump() if isinstance(result, BaseModel) else result
            )
        except ValidationError as exc:
            bad = validation_failure(exc, prefix="output")
            error = InternalError(bad.message, details=bad.details)
            return self._record_failure(spec, row, owner, error, redactor, log)
        stored = redactor.data(output.model_dump(mode="json"))
        try:
            done = self.ledger.succeed(row, owner, stored, writes)
        except Exception as exc:
            if not writes:
                raise
            # The vendor acted: record that, without the local writes that failed.
            log.error(
                "the step's local writes failed (%s); recording its outcome without them",
                redactor.text(f"{type(exc).__name__}: {exc}"),
            )
            done = self.ledger.succeed(row, owner, stored)
        if done is None:
            return Dropped("lease lost", row)
        log.info("succeeded")
        return Finished(done)

    def _failed(
        self,
        spec: AnyActionSpec,
        row: RowSnapshot,
        owner: str,
        error: ActionFailure,
        gate: InvocationGate,
        redactor: Redactor,
        log: logging.LoggerAdapter[logging.Logger],
    ) -> Outcome:
        """The one place an error becomes a retry (with countdown) or a recorded failure."""
        if isinstance(error, Throttled) and not gate.dispatched:
            countdown = self._throttled_countdown(error)
            state = {} if error.reserved_at is None else {"reserved_at": error.reserved_at}
            if not self.ledger.wait(row, owner, kind="throttled", due_in=countdown, state=state):
                return Dropped("lease lost", row)
            log.info("throttled; re-scheduled in %.2fs (not an attempt)", countdown)
            return Reschedule(countdown, "throttled", row, {"retry_after": error.retry_after})
        risky = gate.dispatched and spec.side_effectful and not spec.safe_to_repeat
        if risky and not error.outcome_known:
            error = OutcomeUnknown(
                f"{spec.key}: the vendor request was sent but its outcome is unknown "
                f"({error.message}); not repeated automatically",
                vendor=error.vendor,
                details={
                    "cause": error.code,
                    **{k: v for k, v in (error.details or {}).items() if k == "read_back"},
                },
            )
        elif error.retryable and row.attempt < self.settings.max_attempts:
            countdown = self.retry_delay(error, row.attempt)
            payload = self._payload(spec, row, error, redactor)
            if not self.ledger.wait(row, owner, kind="retry", due_in=countdown, error=payload):
                return Dropped("lease lost", row)
            log.info("attempt failed (%s); retry in %.2fs", error.code, countdown)
            return Reschedule(countdown, "retry", row, {"code": error.code})
        return self._record_failure(spec, row, owner, error, redactor, log)

    def _check_failed(
        self,
        spec: AnyActionSpec,
        claim: Run,
        owner: str,
        error: ActionFailure,
        redactor: Redactor,
        log: logging.LoggerAdapter[logging.Logger],
    ) -> Outcome:
        """A check step's transient failure checks again later; it never restarts the job.

        Retrying from the start would start a second vendor job; the deadline
        set when the step began still bounds the wait.
        """
        row = claim.row
        if not error.retryable:
            return self._record_failure(spec, row, owner, error, redactor, log)
        reserved_at = None
        if isinstance(error, Throttled):
            # A slot held for this check is used when it comes back, not asked for again.
            countdown = self._throttled_countdown(error)
            reserved_at = error.reserved_at
        else:
            countdown = self.retry_delay(error, 1)
        if row.deadline_at is not None:
            remaining = (row.deadline_at - self._clock()).total_seconds()
            countdown = max(0.0, min(countdown, remaining))
        state = dict((row.wait_state or {}).get("state") or {})
        payload = self._payload(spec, row, error, redactor)
        if not self.ledger.wait(
            row,
            owner,
            kind="check",
            due_in=countdown,
            state=state,
            error=payload,
            reserved_at=reserved_at,
        ):
            return Dropped("lease lost", row)
        log.info("check failed (%s); checking again in %.2fs", error.code, countdown)
        return Reschedule(countdown, "waiting", row, {"code": error.code})

    def _record_failure(
        self,
        spec: AnyActionSpec,
        row: RowSnapshot,
        owner: str,
        error: ActionFailure,
        redactor: Redactor,
        log: logging.LoggerAdapter[logging.Logger],
    ) -> Outcome:
        payload = self._payload(spec, row, error, redactor)
        done = self.ledger.fail(row, owner, payload)
        if done is None:
            return Dropped("lease lost", row)
        log.info("failed: %s: %s", payload["code"], payload["message"])
        return Finished(done)

    def _payload(
        self, spec: AnyActionSpec, row: RowSnapshot, error: ActionFailure, redactor: Redactor
    ) -> dict[str, Any]:
        return failure_payload(
            error, action_id=spec.id, step_path=row.step_path, at=self._clock(), redactor=redactor
        )

    def _claim(
        self,
        req: ClaimRequest,
        owner: str,
        probes: Probes = NO_PROBES,
        *,
        seen_before: bool = False,
    ) -> Claim:
        """The ledger's claim; a step whose worker was lost for good is ended here first.

        The ledger decides that the step may not run again (``Lost``); the error
        it ends with is the pipeline's to word.
        """
        for _ in range(MAX_ABANDON_ROUNDS):
            claim = self.ledger.claim(req, owner, probes, seen_before=seen_before)
            if not isinstance(claim, Lost):
                return claim
            ended = self.ledger.abandon(claim.row, self._lost_payload(req, claim))
            if ended is not None:
                return Lost(ended, claim.reason)
        raise RuntimeError(f"could not settle {req.key!r}: the row kept changing")

    def _lost_payload(self, req: ClaimRequest, lost: Lost) -> dict[str, Any]:
        """The error a step ends with when its worker was lost and it may not run again."""
        row = lost.row
        error: ActionFailure
        if lost.reason == "attempts_exhausted":
            error = InternalError(
                f"the worker running this step was lost on each of {row.attempt} attempts",
                details={"attempt": row.attempt},
            )
        else:
            error = OutcomeUnknown(
                f"{req.action_id}@{req.action_version}: the worker running attempt "
                f"{row.attempt} was lost after the vendor request was sent; the outcome is "
                "unknown and the step is not repeated automatically",
                details={"attempt": row.attempt, "dispatched_at": str(row.dispatched_at)},
            )
        return failure_payload(
            error,
            action_id=req.action_id,
            step_path=req.step_path,
            at=self._clock(),
            redactor=Redactor(),
        )

    # -- timing ---------------------------------------------------------------------

    def _throttled_countdown(self, error: Throttled) -> float:
        """When a throttled step comes back.

        With a slot held for it (``reserved_at``): just before the slot (a
        re-scheduled task starts a little late), to wait out the rest, so no
        worker is held longer than ``max_wait``. Without: when a slot may be
        free, with jitter so that deferred steps do not return together.
        """
        if error.reserved_at is not None:
            lead = 0.8 * self.throttle.max_wait
            return self._cap(max(0.0, (error.retry_after or 0.0) - lead))
        return self._cap((error.retry_after or 1.0) * (1 + 0.2 * self._rng()))

    def _cap(self, seconds: float) -> float:
        """Keep countdowns well under the broker's visibility timeout."""
        return max(0.0, min(seconds, self.settings.visibility_timeout / 2))

    def busy_delay(self, redeliveries: int, lease_left: float) -> float:
        """When a copy that found its step running looks again: soon, then less often."""
        base = min(BUSY_FIRST_RECHECK * 2 ** min(redeliveries, 8), BUSY_MAX_RECHECK)
        delay = base * (0.8 + 0.4 * self._rng())
        return self._cap(min(delay, lease_left + 1.0))

    def retry_delay(self, error: ActionFailure, attempt: int) -> float:
        """Retry-After when the vendor gave one (never sooner), else backoff with jitter."""
        if error.retry_after is not None:
            return self._cap(error.retry_after + 0.1 + 0.1 * error.retry_after * self._rng())
        base = min(
            self.settings.retry_backoff * 2 ** (attempt - 1), self.settings.retry_backoff_max
        )
        return self._cap(base / 2 + base / 2 * self._rng())
