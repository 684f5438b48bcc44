"""The Python API over the wire contract: ``enqueue`` a step, read its ``result``.

Both validate early (unknown action, bad input, unknown tenant) and send
nothing when they refuse. ``enqueue`` records the step ``QUEUED`` in the
ledger before publishing it (the sweeper re-publishes it if the broker loses
it) and removes that row again if the broker refuses the message. A key whose
step already finished is answered from the ledger without sending anything
(the result says ``replayed``).

An operator's actions on a step (``step``, ``cancel``, ``retry``) are here too;
the rules are ``executor.control``'s, and ``retry`` publishes the step again
through the same path as ``enqueue``.
Every message (``enqueue`` and the sweeper's ``republish``) has the task id
``<tenant_id>/<key>`` (``executor.wire``); the ledger keeps the bare key.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from amqp.exceptions import NotFound as AmqpNotFound
from celery import Celery
from kombu.exceptions import ChannelError as KombuChannelError
from sqlalchemy.exc import IntegrityError

from actionkit.errors import IdempotencyConflict, ValidationFailed
from actionkit.spec import AnyActionSpec
from catalog.registration import Catalog
from executor.control import StepRefused, cancel_step, find_step, needs_warning, reopen_step
from executor.decision import Refuse, decide, operator_refusal, sends_message
from executor.ledger import ClaimRequest, RowSnapshot
from executor.pipeline import Pipeline
from executor.results import InvocationResult, StepDetail, detail_from_row, outcome_from_row
from executor.settings import Settings
from executor.wire import kwargs_repr, queue_name, task_id_for, task_name, valid_key
from store import Store
from store.types import utcnow


def derive_key(run_id: str, step_path: str, action_id: str, version: int) -> str:
    """The engine's default key: ``<run_id>:<step_path>:<action_id>@<version>``."""
    return f"{run_id}:{step_path}:{action_id}@{version}"


class Runtime(Protocol):
    """What the API needs of a process's runtime (``executor.app.ExecutorRuntime``)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def catalog(self) -> Catalog: ...

    @property
    def app(self) -> Celery: ...

    @property
    def pipeline(self) -> Pipeline: ...

    @property
    def store(self) -> Store: ...

    def message_time_limits(self, spec: AnyActionSpec) -> tuple[int, int]: ...


class EnqueueFailed(RuntimeError):
    """The broker did not accept the step; nothing was recorded, so it may be sent again."""


@dataclass
class InvocationHandle:
    """A step that was enqueued (or found already done); wait on it via the ledger."""

    key: str
    tenant_id: str
    sent: bool
    executor: Executor
    # The key's step had already ended when it was sent: nothing ran.
    replayed: bool = False

    @property
    def task_id(self) -> str:
        """The Celery task id of the step's messages: ``<tenant_id>/<key>``."""
        return task_id_for(self.tenant_id, self.key)

    def result(self) -> InvocationResult | None:
        """The current state, or None if no worker has picked the step up yet."""
        current = self.executor.result(self.key, self.tenant_id)
        if current is not None and self.replayed:
            return current.model_copy(update={"replayed": True})
        return current

    def wait(self, timeout: float = 60.0, poll: float = 0.02) -> InvocationResult:
        """Block until the outcome is final; TimeoutError after ``timeout`` seconds.

        Polls the ledger (cheap indexed reads, backing off to 0.25 s), not the
        Celery result backend, which is not the durable record.
        """
        deadline = time.monotonic() + timeout
        interval = poll
        while True:
            current = self.result()
            if current is not None and current.final:
                return current
            if time.monotonic() >= deadline:
                state = current.status if current else "not started"
                raise TimeoutError(f"step {self.key!r} is not final after {timeout}s ({state})")
            time.sleep(interval)
            interval = min(interval * 1.5, 0.25)


class Executor:
    """Enqueue steps and read outcomes for one runtime (settings, catalog, app)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def enqueue(
        self,
        action_id: str,
        *,
        tenant_id: str,
        input: dict[str, Any],
        version: int | None = None,
        idempotency_key: str | None = None,
        run_id: str | None = None,
        step_path: str | None = None,
    ) -> InvocationHandle:
        """Validate and send one step; returns a handle to wait on.

        Raises ``UnknownAction``, ``ValidationFailed`` (naming the field) or
        ``IdempotencyConflict`` before anything is sent.
        """
        pipeline = self.runtime.pipeline
        spec = pipeline.resolve(action_id, version)
        model = pipeline.validate_input(spec, input)
        key = idempotency_key
        if key is None and run_id is not None and step_path is not None:
            key = derive_key(run_id, step_path, spec.id, spec.version)
        if key is None:
            if spec.side_effectful:
                raise ValidationFailed(
                    f"{spec.key} changes things at the vendor: give an idempotency_key, "
                    "or run_id and step_path to derive one",
                    field="idempotency_key",
                )
            key = f"adhoc:{uuid.uuid4()}"
        if not valid_key(key):
            raise ValidationFailed(
                "idempotency_key must be 1-512 characters without control characters",
                field="idempotency_key",
            )
        data = model.model_dump(mode="json")
        claim_req = pipeline.claim_request(
            spec, data, tenant_id=tenant_id, key=key, run_id=run_id, step_path=step_path
        )
        try:
            queued = pipeline.ledger.record_queued(claim_req)
        except IntegrityError:
            raise ValidationFailed(f"unknown tenant {tenant_id!r}", field="tenant_id") from None
        countdown: float | None = None
        if queued is None:
            existing = pipeline.ledger.get(tenant_id, key)
            if existing is not None and not self._send_again(existing, claim_req):
                return InvocationHandle(key, tenant_id, sent=False, executor=self, replayed=True)
            if existing is not None and existing.status == "WAITING" and existing.next_check_at:
                # A copy for when the step is due: the message that would carry it may
                # be gone (an embedded worker that stopped); if not, the claim answers
                # the extra copy without running anything twice.
                countdown = max(0.0, (existing.next_check_at - utcnow()).total_seconds())
        try:
            self._publish(spec, tenant_id, key, data, run_id, step_path, countdown=countdown)
        except Exception as exc:
            if queued is not None:
                pipeline.ledger.forget_queued(queued)
            raise EnqueueFailed(
                f"the broker did not accept step {key!r} ({type(exc).__name__}); nothing was "
                "recorded: send it again when the broker is back"
            ) from exc
        return InvocationHandle(key, tenant_id, sent=True, executor=self)

    def _send_again(self, existing: RowSnapshot, req: ClaimRequest) -> bool:
        """Whether a key already in the ledger is published again (or answered as it is).

        The ledger's own decision (``executor.decision``): anything but a final
        outcome is sent, since a step in flight may have lost its message.
        """
        transition = decide(existing, req, utcnow())
        if isinstance(transition, Refuse):
            raise IdempotencyConflict(
                f"idempotency key {req.key!r} was first used with a different input",
                details={"existing_action": f"{existing.action_id}@{existing.action_version}"},
            )
        return sends_message(transition)

    def _publish(
        self,
        spec: AnyActionSpec,
        tenant_id: str,
        key: str,
        data: dict[str, Any],
        run_id: str | None,
        step_path: str | None,
        *,
        countdown: float | None = None,
    ) -> None:
        provider = self.runtime.pipeline.provider_of(spec)
        soft, hard = self.runtime.message_time_limits(spec)
        self.runtime.app.send_task(
            task_name(provider),
            kwargs={
                "action_id": spec.id,
                "version": spec.version,
                "tenant_id": tenant_id,
                "input": data,
                "run_id": run_id,
                "step_path": step_path,
            },
            task_id=task_id_for(tenant_id, key),
            queue=queue_name(provider),
            argsrepr="()",
            kwargsrepr=kwargs_repr(spec.id, spec.version, tenant_id, key),
            countdown=countdown,
            soft_time_limit=soft,
            time_limit=hard,
        )

    def queue_of(self, row: RowSnapshot) -> str | None:
        """The queue a recorded step's messages go to (None if its action is gone)."""
        spec = self.runtime.catalog.actions.find(row.action_id, row.action_version)
        if spec is None:
            return None
        return queue_name(self.runtime.pipeline.provider_of(spec))

    def queue_depth(self, queue: str) -> int | None:
        """Messages ready in ``queue`` now (None when the broker cannot tell).

        A queue the broker does not know holds nothing (Redis keeps no empty list).
        """
        try:
            with self.runtime.app.connection_for_read() as conn:
                channel: Any = conn.default_channel
                declared = channel.queue_declare(queue=queue, passive=True)
                return int(declared.message_count)
        except (KombuChannelError, AmqpNotFound) as exc:
            return 0 if "NOT_FOUND" in str(exc) or isinstance(exc, AmqpNotFound) else None
        except Exception:
            return None

    def republish(self, row: RowSnapshot) -> bool:
        """Publish a recorded step's message again (the sweeper's re-drive); False if its
        action is no longer registered."""
        spec = self.runtime.catalog.actions.find(row.action_id, row.action_version)
        if spec is None:
            return False
        self._publish(
            spec, row.tenant_id, row.key, dict(row.input_json or {}), row.run_id, row.step_path
        )
        return True

    def result(self, key: str, tenant_id: str) -> InvocationResult | None:
        """The step's current state from the ledger, or None if unknown."""
        row = self.runtime.pipeline.ledger.get(tenant_id, key)
        return None if row is None else outcome_from_row(row)

    def invocations(
        self,
        tenant_id: str,
        *,
        run_id: str | None = None,
        statuses: Collection[str] = (),
        since: datetime | None = None,
        action_id: str | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> list[InvocationResult]:
        """Recorded steps of a tenant, newest first, filtered in the query (``Ledger.list``)."""
        rows = self.runtime.pipeline.ledger.list(
            tenant_id,
            run_id=run_id,
            statuses=statuses,
            since=since,
            action_id=action_id,
            limit=limit,
            offset=offset,
        )
        return [outcome_from_row(r) for r in rows]

    # -- an operator's actions on one step -----------------------------------------------

    def step(self, key: str, tenant_id: str) -> StepDetail:
        """One step in full (input, wait, attempt history); ``StepRefused`` if unknown."""
        return detail_from_row(find_step(self.runtime.pipeline.ledger, tenant_id, key))

    def cancel(self, key: str, tenant_id: str, *, by: str) -> StepDetail:
        """End a WAITING or QUEUED step CANCELLED; ``StepRefused`` says why not."""
        return detail_from_row(cancel_step(self.runtime.pipeline.ledger, tenant_id, key, by=by))

    def retry_preview(self, key: str, tenant_id: str) -> tuple[StepDetail, str | None]:
        """The step an operator is about to retry and what to warn them of first (an
        ``OUTCOME_UNKNOWN`` side effect may have happened); ``StepRefused`` if it may
        not be retried."""
        row = find_step(self.runtime.pipeline.ledger, tenant_id, key)
        refusal = operator_refusal(row, "retry")
        if refusal is not None:
            raise StepRefused(refusal)
        return detail_from_row(row), needs_warning(row)

    def retry(self, key: str, tenant_id: str, *, by: str) -> InvocationHandle:
        """Run a FAILED or CANCELLED step again with a fresh attempt budget.

        The step is queued again (recorded in its history as ``by``'s retry) and
        published like ``enqueue`` does. ``StepRefused`` when it may not be
        retried or its action is no longer registered; ``EnqueueFailed`` when
        the broker refused the message (the step stays queued: the sweeper
        re-publishes it, and sending its key again does too).
        """
        ledger = self.runtime.pipeline.ledger
        row = find_step(ledger, tenant_id, key)
        spec = self.runtime.catalog.actions.find(row.action_id, row.action_version)
        if spec is None:
            raise StepRefused(
                f"step {key} runs {row.action_id}@{row.action_version}, which is no longer "
                "registered: it cannot run again"
            )
        queued = reopen_step(ledger, tenant_id, key, by=by)
        try:
            self.republish(queued)
        except Exception as exc:
            raise EnqueueFailed(
                f"step {key!r} is queued again, but the broker did not accept its message "
                f"({type(exc).__name__}); the sweeper re-publishes it once the broker is back"
            ) from exc
        return InvocationHandle(key, tenant_id, sent=True, executor=self)
