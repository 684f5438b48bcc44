"""Vendor webhook events applied exactly once: the ``inbound_events`` record of each.

A receiver verifies an event, then, in one transaction, calls
:func:`record_event` and applies the event only when it answers True. A
second delivery of the same event id (a replay, or the vendor retrying a
delivery it thinks failed) finds the row and changes nothing. Two deliveries
racing each other are settled by the primary key: the loser's insert fails
inside a savepoint and it answers False.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import InboundEvent


def recorded_at(session: Session, tenant: str, provider: str, event_id: str) -> datetime | None:
    """When the event was recorded, or None if it never was."""
    return session.scalar(
        select(InboundEvent.received_at).where(
            InboundEvent.tenant == tenant,
            InboundEvent.provider == provider,
            InboundEvent.event_id == event_id,
        )
    )


def record_event(
    session: Session,
    *,
    tenant: str,
    provider: str,
    event_id: str,
    event_type: str,
    occurred_at: datetime | None,
    now: datetime,
) -> bool:
    """Record the event in ``session``'s transaction; False if it was already recorded."""
    if recorded_at(session, tenant, provider, event_id) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(
                InboundEvent(
                    tenant=tenant,
                    provider=provider,
                    event_id=event_id,
                    event_type=event_type,
                    occurred_at=occurred_at,
                    received_at=now,
                )
            )
    except IntegrityError:
        return False  # a concurrent delivery recorded it first
    return True
