"""Operator actions on one step: cancel it, or queue it again (``patchbay step cancel|retry``).

Both read the step, ask ``executor.decision.operator_refusal`` whether the
action is allowed, and apply it with one statement guarded on the row as read
(``Ledger.cancel`` / ``Ledger.reopen``); if a worker moved the step on
meanwhile, they read it again and decide again. Neither touches the broker:
``Executor.retry`` publishes the reopened step.

A cancelled step's pending re-check is not chased down in the broker: when it
arrives, the claim finds the final ``CANCELLED`` outcome and runs nothing, and
the sweeper only re-drives steps that are not final.
"""

from __future__ import annotations

from typing import Any

from actionkit.errors import ActionError
from executor.decision import operator_refusal
from executor.ledger import Ledger, RowSnapshot
from executor.payload import Redactor, failure_payload

# A guarded update that keeps missing (workers racing the operator) is read again this often.
MAX_ROUNDS = 4


class StepRefused(Exception):
    """The action is not possible for this step now; the message is one line for the operator."""


def find_step(ledger: Ledger, tenant_id: str, key: str) -> RowSnapshot:
    """The tenant's step under ``key``; ``StepRefused`` when it has none (another tenant's
    key is unknown here too)."""
    row = ledger.get(tenant_id, key)
    if row is None:
        raise StepRefused(f"no step {key!r} for tenant {tenant_id}")
    return row


def cancel_step(ledger: Ledger, tenant_id: str, key: str, *, by: str) -> RowSnapshot:
    """End a ``WAITING`` or ``QUEUED`` step ``CANCELLED`` (by operator ``by``); the new row."""
    for _ in range(MAX_ROUNDS):
        row = find_step(ledger, tenant_id, key)
        refusal = operator_refusal(row, "cancel")
        if refusal is not None:
            raise StepRefused(refusal)
        done = ledger.cancel(row, by, cancelled_payload(ledger, row, by))
        if done is not None:
            return done
    raise StepRefused(f"step {key} kept changing while being cancelled; try again")


def reopen_step(ledger: Ledger, tenant_id: str, key: str, *, by: str) -> RowSnapshot:
    """Queue a ``FAILED`` or ``CANCELLED`` step again with a fresh attempt budget; the new row."""
    for _ in range(MAX_ROUNDS):
        row = find_step(ledger, tenant_id, key)
        refusal = operator_refusal(row, "retry")
        if refusal is not None:
            raise StepRefused(refusal)
        reopened = ledger.reopen(row, by)
        if reopened is not None:
            return reopened
    raise StepRefused(f"step {key} kept changing while being queued again; try again")


def cancelled_payload(ledger: Ledger, row: RowSnapshot, by: str) -> dict[str, Any]:
    """The error a cancelled step ends with: who cancelled it, when, and in which state."""
    now = ledger.now()
    message = f"cancelled by {by} at {now:%Y-%m-%d %H:%M:%S} UTC while {row.status}"
    if (row.wait_state or {}).get("kind") == "check":
        message += "; the vendor may still finish the job the step started"
    error = ActionError(
        message, code="CANCELLED", details={"cancelled_by": by, "status": row.status}
    )
    return failure_payload(
        error, action_id=row.action_id, step_path=row.step_path, at=now, redactor=Redactor()
    )


def needs_warning(row: RowSnapshot) -> str | None:
    """What an operator must know before retrying ``row`` (one line), or None."""
    if (row.error or {}).get("code") == "OUTCOME_UNKNOWN":
        return (
            f"step {row.key} ended OUTCOME_UNKNOWN: its side effect may already have happened "
            "at the vendor, and running it again may do it twice"
        )
    return None
