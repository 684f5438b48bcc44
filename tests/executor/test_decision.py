"""The idempotency decision, as a table: (row, request, now) -> transition.

The same function decides for the ledger's claim and for the enqueue API, so
this table is the whole of "what may a delivery of this key do".
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from executor.decision import (
    Answer,
    GiveUp,
    Refuse,
    Skip,
    Take,
    Transition,
    Wait,
    decide,
    sends_message,
)
from executor.ledger import ClaimRequest, RowSnapshot

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def request(**changes: Any) -> ClaimRequest:
    base = ClaimRequest(
        tenant_id="acme",
        key="k1",
        action_id="widgets.widgets.create",
        action_version=1,
        input_json={"name": "a"},
        input_hash="h1",
        run_id=None,
        step_path=None,
        side_effectful=True,
        safe_to_repeat=False,
        max_attempts=5,
    )
    return replace(base, **changes)


def row(status: str, **changes: Any) -> RowSnapshot:
    final = status in ("SUCCEEDED", "FAILED")
    base = RowSnapshot(
        invocation_id=uuid.uuid4(),
        tenant_id="acme",
        key="k1",
        action_id="widgets.widgets.create",
        action_version=1,
        run_id=None,
        step_path=None,
        status=status,
        attempt=1,
        input_hash="h1",
        output=None,
        error=None,
        wait_state=None,
        dispatched_at=None,
        lease_owner=None,
        lease_expires_at=None,
        next_check_at=None,
        deadline_at=None,
        created_at=NOW - timedelta(minutes=1),
        started_at=NOW - timedelta(minutes=1),
        completed_at=NOW if final else None,
    )
    return replace(base, **changes)


LIVE = NOW + timedelta(seconds=30)
EXPIRED = NOW - timedelta(seconds=1)
SENT = NOW - timedelta(seconds=20)

CASES: list[tuple[str, RowSnapshot, ClaimRequest, Transition]] = [
    ("another input", row("SUCCEEDED", input_hash="h2"), request(), Refuse()),
    ("queued", row("QUEUED", attempt=0), request(), Take(attempt=1)),
    ("succeeded", row("SUCCEEDED"), request(), Answer()),
    (
        "succeeded, read-only",
        row("SUCCEEDED"),
        request(side_effectful=False),
        Take(attempt=2, restart=True),
    ),
    ("failed for good", row("FAILED", error={"retryable": False}), request(), Answer()),
    (
        "failed, retryable",
        row("FAILED", error={"retryable": True}),
        request(),
        Take(attempt=2, restart=True),
    ),
    (
        "waiting, not due",
        row("WAITING", next_check_at=NOW + timedelta(seconds=5)),
        request(),
        Skip(),
    ),
    (
        "waiting, due within the margin: a check",
        row(
            "WAITING",
            next_check_at=NOW + timedelta(milliseconds=500),
            wait_state={"kind": "check"},
        ),
        request(),
        Take(attempt=1, phase="check"),
    ),
    (
        "waiting to retry",
        row("WAITING", next_check_at=NOW, wait_state={"kind": "retry"}),
        request(),
        Take(attempt=2),
    ),
    (
        "throttled, with its reserved slot",
        row(
            "WAITING",
            next_check_at=NOW,
            wait_state={"kind": "throttled", "state": {"reserved_at": 123.5}},
        ),
        request(),
        Take(attempt=1, reserved_at=123.5),
    ),
    ("running", row("STARTED", lease_expires_at=LIVE), request(), Wait(30.0)),
    (
        "lost during a check",
        row("STARTED", lease_expires_at=EXPIRED, wait_state={"kind": "check"}),
        request(),
        Take(attempt=1, phase="check", takeover=True),
    ),
    (
        "lost after dispatch",
        row("STARTED", lease_expires_at=EXPIRED, dispatched_at=SENT),
        request(),
        GiveUp("outcome_unknown"),
    ),
    (
        "lost after dispatch, with a read-back",
        row("STARTED", lease_expires_at=EXPIRED, dispatched_at=SENT),
        request(reconcilable=True),
        Take(attempt=1, phase="reconcile", takeover=True),
    ),
    (
        "lost after dispatch, safe to repeat",
        row("STARTED", lease_expires_at=EXPIRED, dispatched_at=SENT),
        request(safe_to_repeat=True),
        Take(attempt=2, takeover=True),
    ),
    (
        "lost before dispatch",
        row("STARTED", lease_expires_at=EXPIRED),
        request(),
        Take(attempt=2, takeover=True),
    ),
    (
        "lost on every attempt",
        row("STARTED", lease_expires_at=EXPIRED, attempt=5),
        request(),
        GiveUp("attempts_exhausted"),
    ),
]


@pytest.mark.parametrize(
    ("current", "req", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_the_decision_table(current: RowSnapshot, req: ClaimRequest, expected: Transition) -> None:
    assert decide(current, req, NOW) == expected


@pytest.mark.parametrize(
    ("current", "req", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_enqueue_sends_a_message_for_everything_but_a_final_answer(
    current: RowSnapshot, req: ClaimRequest, expected: Transition
) -> None:
    assert sends_message(decide(current, req, NOW)) is not isinstance(expected, Answer | Refuse)
