"""The Python API over the wire contract: ``enqueue`` a step, read its ``result``.

Both validate early (unknown action, bad input, unknown tenant) and send
nothing when they refuse. A key whose step already finished is answered from
the ledger without sending anything.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import celeryconfig
from executor.app import ExecutorRuntime, kwargs_repr
from executor.errors import IdempotencyConflict, ValidationFailed
from executor.ledger import input_hash
from executor.results import InvocationResult, outcome_from_row

KEY_PATTERN = re.compile(r"^[^\x00-\x1f\x7f]{1,512}$")


def derive_key(run_id: str, step_path: str, action_id: str, version: int) -> str:
    """The engine's default key: ``<run_id>:<step_path>:<action_id>@<version>``."""
    return f"{run_id}:{step_path}:{action_id}@{version}"


@dataclass
class InvocationHandle:
    """A step that was enqueued (or found already done); wait on it via the ledger."""

    key: str
    tenant_id: str
    sent: bool
    executor: Executor

    def result(self) -> InvocationResult | None:
        """The current state, or None if no worker has picked the step up yet."""
        return self.executor.result(self.key, self.tenant_id)

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

    def __init__(self, runtime: ExecutorRuntime) -> None:
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
        if not KEY_PATTERN.match(key):
            raise ValidationFailed(
                "idempotency_key must be 1-512 characters without control characters",
                field="idempotency_key",
            )
        data = model.model_dump(mode="json")
        tenant_known, existing = pipeline.ledger.lookup(tenant_id, key)
        if not tenant_known:
            raise ValidationFailed(f"unknown tenant {tenant_id!r}", field="tenant_id")
        if existing is not None:
            if existing.input_hash != input_hash(data):
                raise IdempotencyConflict(
                    f"idempotency key {key!r} was first used with a different input",
                    details={"existing_action": f"{existing.action_id}@{existing.action_version}"},
                )
            if spec.side_effectful:
                retry_allowed = existing.status == "FAILED" and bool(
                    (existing.error or {}).get("retryable")
                )
                if existing.final and not retry_allowed:
                    return InvocationHandle(key, tenant_id, sent=False, executor=self)
                if not existing.final:
                    # In progress: its own deliveries and re-checks carry it.
                    return InvocationHandle(key, tenant_id, sent=False, executor=self)
        provider = pipeline.provider_of(spec)
        self.runtime.app.send_task(
            celeryconfig.task_name(provider),
            kwargs={
                "action_id": spec.id,
                "version": spec.version,
                "tenant_id": tenant_id,
                "input": data,
                "run_id": run_id,
                "step_path": step_path,
            },
            task_id=key,
            queue=celeryconfig.queue_name(provider),
            argsrepr="()",
            kwargsrepr=kwargs_repr(spec.id, spec.version, tenant_id, key),
        )
        return InvocationHandle(key, tenant_id, sent=True, executor=self)

    def result(self, key: str, tenant_id: str) -> InvocationResult | None:
        """The step's current state from the ledger, or None if unknown."""
        row = self.runtime.pipeline.ledger.get(tenant_id, key)
        return None if row is None else outcome_from_row(row)

    def invocations(self, tenant_id: str, *, run_id: str | None = None) -> list[InvocationResult]:
        """Recorded steps of a tenant (optionally of one run), newest first."""
        rows = self.runtime.pipeline.ledger.list(tenant_id, run_id=run_id)
        return [outcome_from_row(r) for r in rows]
